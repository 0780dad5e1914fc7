"""The one place errors become HTTP responses (and MCP tool errors).

Imports only Starlette at module level, which the MCP SDK brings too, so ``engram mcp``
works without the ``[server]`` extra.

Every error body has the same shape::

    {"error": {"code": "validation_error", "message": "k must be between 1 and 1000"}}

with ``details`` added for request-validation errors (one ``{"loc", "msg"}`` per problem,
never the rejected value). :class:`~engram.errors.EngramError` subclasses map by
:data:`ENGRAM_STATUS`; the server's own refusals (missing key, oversize body) raise
:class:`ApiError`; anything else is a 500 whose message hides the internals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from engram.build import with_next_step
from engram.errors import (
    CorruptStoreError,
    EmbedderMismatchError,
    EngramError,
    MissingDependencyError,
    NotFoundError,
    ProviderError,
    SchemaVersionError,
    StoreBusyError,
    StoreError,
    StoreFullError,
    StoreNotFoundError,
    StoreReadOnlyError,
    ValidationError,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError

log = logging.getLogger("engram.server")

#: EngramError class → (HTTP status, error code). The most specific class wins.
ENGRAM_STATUS: dict[type[EngramError], tuple[int, str]] = {
    ValidationError: (422, "validation_error"),
    NotFoundError: (404, "not_found"),
    CorruptStoreError: (503, "corrupt_store"),
    SchemaVersionError: (503, "schema_version"),
    EmbedderMismatchError: (503, "embedder_mismatch"),
    StoreBusyError: (503, "store_busy"),
    StoreReadOnlyError: (503, "store_read_only"),
    StoreFullError: (503, "store_full"),
    StoreNotFoundError: (503, "store_not_found"),
    StoreError: (503, "store_unavailable"),
    ProviderError: (502, "provider_error"),
    MissingDependencyError: (501, "missing_dependency"),
}

#: Codes for the HTTP statuses the framework itself produces.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


class ApiError(Exception):
    """A refusal of the server's own (not the library's): missing key, oversize body, ..."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def classify(exc: EngramError) -> tuple[int, str]:
    """The HTTP status and error code of a library error."""
    for cls in type(exc).__mro__:
        if cls in ENGRAM_STATUS:
            return ENGRAM_STATUS[cls]
    return 500, "internal_error"


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON error response in the one documented shape."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> tuple[int, str, str, list[dict[str, Any]]]:
    details = [
        {"loc": ".".join(str(part) for part in err.get("loc", ())), "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return 400, "invalid_json", "the request body is not valid JSON", details
    summary = "; ".join(f"{d['loc']}: {d['msg']}" for d in details[:5])
    return 422, "validation_error", f"invalid request: {summary}", details


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    from starlette.routing import Match

    def flat(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI's include_router wrapper
            yield from flat(included.routes) if included is not None else (route,)

    methods: set[str] = set()
    for route in flat(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods - {"HEAD"} if "GET" in methods else methods)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the one error shape."""
    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(EngramError)
    async def engram_error(_request: Request, exc: EngramError) -> JSONResponse:
        status, code = classify(exc)
        headers = {"Retry-After": "1"} if isinstance(exc, StoreBusyError) else None
        return error_response(status, code, with_next_step(exc), headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message, details = _validation_details(exc)
        return error_response(status, code, message, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; the routes are listed at /docs"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)}"
        return error_response(exc.status_code, code, message, headers=headers or None)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "internal server error; the server log has the details")
