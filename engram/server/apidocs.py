"""The API reference at ``/docs``, rendered here from the server's OpenAPI schema.

FastAPI's own pages (Swagger UI, ReDoc) load their code from a CDN, so on a machine without
internet they are blank. This page needs nothing from elsewhere: no scripts, inline styles,
every route with its parameters, body, answers and the fields of each schema. The machine-
readable schema stays at ``/openapi.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")
#: No scripts, nothing from elsewhere.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """A parameter or a schema property."""

    name: str
    type: str
    required: bool
    description: str
    where: str = ""  # a parameter's place: path, query, header


@dataclass(frozen=True, slots=True)
class OperationDoc:
    """One method on one path."""

    method: str
    path: str
    summary: str
    description: str
    parameters: list[FieldDoc]
    body: str | None
    responses: list[tuple[str, str, str]]  # status, description, schema

    @property
    def anchor(self) -> str:
        return f"{self.method}-{self.path}".replace("/", "-").replace("{", "").replace("}", "")


@dataclass(frozen=True, slots=True)
class SchemaDoc:
    """A named schema and its properties."""

    name: str
    description: str
    fields: list[FieldDoc]


def type_name(schema: dict[str, Any]) -> str:
    """A short type for a JSON schema: ``SearchIn``, ``string``, ``list[HitOut]``,
    ``integer | null``, ``"engram" | "hybrid"``."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(f'"{value}"' if isinstance(value, str) else str(value) for value in schema["enum"])
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            return " | ".join(dict.fromkeys(type_name(option) for option in schema[combined]))
    kind = schema.get("type")
    if kind == "array":
        return f"list[{type_name(schema.get('items', {}))}]"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"dict[string, {type_name(schema['additionalProperties'])}]"
    return str(kind) if kind else "any"


def reference(openapi: dict[str, Any]) -> tuple[list[OperationDoc], list[SchemaDoc]]:
    """Every operation, in the schema's order of paths, and every named schema, by name."""
    operations = []
    for path, item in openapi.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            parameters = [
                FieldDoc(
                    p["name"],
                    type_name(p.get("schema", {})),
                    bool(p.get("required")),
                    p.get("description") or p.get("schema", {}).get("description", ""),
                    p.get("in", ""),
                )
                for p in op.get("parameters", [])
            ]
            content = op.get("requestBody", {}).get("content", {})
            body = next((type_name(c.get("schema", {})) for c in content.values()), None)
            responses = [
                (
                    status,
                    answer.get("description", ""),
                    next((type_name(c.get("schema", {})) for c in answer.get("content", {}).values()), ""),
                )
                for status, answer in op.get("responses", {}).items()
            ]
            operations.append(
                OperationDoc(
                    method.upper(),
                    path,
                    op.get("summary", ""),
                    op.get("description", ""),
                    parameters,
                    body,
                    responses,
                )
            )
    schemas = []
    for name, schema in sorted(openapi.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        fields = [
            FieldDoc(field, type_name(spec), field in required, spec.get("description", ""))
            for field, spec in schema.get("properties", {}).items()
        ]
        schemas.append(SchemaDoc(name, schema.get("description", ""), fields))
    return operations, schemas


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """The API reference page."""
    openapi = request.app.openapi()
    operations, schemas = reference(openapi)
    html = _env.get_template("apidocs.html").render(
        info=openapi.get("info", {}), operations=operations, schemas=schemas
    )
    return HTMLResponse(
        html,
        headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"},
    )
