"""Operations: health and readiness (no key), stats, export and import of the tenant's memory."""

from __future__ import annotations

from email.message import Message
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from engram import __version__
from engram.errors import EngramError
from engram.model.limits import MAX_ID_CHARS
from engram.server.auth import TenantMemory, get_state
from engram.server.errors import ApiError
from engram.server.export_stream import stream_export
from engram.server.schemas import (
    ERROR_RESPONSES,
    ID_PATTERN,
    ErrorOut,
    HealthOut,
    ImportOut,
    ReadyOut,
    StatsOut,
    import_out,
    stats_out,
)

probes = APIRouter(tags=["operations"])
router = APIRouter(prefix="/v1", tags=["operations"], responses=ERROR_RESPONSES)

OptionalUser = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN, description="One user; default all."),
]
NDJSON = "application/x-ndjson"
#: Media types a JSONL body may be sent as (application/json is not one: a JSONL file is not JSON).
_IMPORT_TYPES = {"x-ndjson", "jsonl", "x-jsonlines"}
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An Engram JSONL export (a header line, then one turn per line).",
        "content": {NDJSON: {"schema": {"type": "string"}}},
    }
}


@probes.get("/health", response_model=HealthOut, summary="Liveness")
async def health() -> HealthOut:
    """The process is up. Needs no key."""
    return HealthOut(status="ok", version=__version__)


@probes.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Not ready; checks say why."}},
    summary="Readiness",
)
async def ready(request: Request) -> Any:
    """The embedder is loaded and the store answers a read. Needs no key."""
    state = get_state(request)
    checks = {"embedder": state.warmup_error or "ok"}
    try:
        await state.base.stats(user_id="readiness-probe")
        checks["store"] = "ok"
    except EngramError as exc:
        checks["store"] = str(exc)
    ok = all(value == "ok" for value in checks.values())
    body = ReadyOut(status="ready" if ok else "unavailable", checks=checks)
    return body if ok else JSONResponse(body.model_dump(), status_code=503)


@router.get("/stats", response_model=StatsOut, summary="Counts")
async def stats(memory: TenantMemory, user_id: OptionalUser = None) -> StatsOut:
    """Turn, user and session counts of the tenant, or of one user."""
    return stats_out(await memory.stats(user_id=user_id))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "Engram JSONL, streamed."}},
    summary="Export as JSONL",
)
async def export(memory: TenantMemory, user_id: OptionalUser = None, with_vectors: bool = False) -> StreamingResponse:
    """The tenant's turns (or one user's) and their fact versions as Engram JSONL, the format
    ``POST /v1/import`` reads."""

    async def write(dest: IO[str]) -> int:
        return await memory.export(dest, user_id=user_id, with_vectors=with_vectors)

    chunks = await stream_export(write)
    return StreamingResponse(
        chunks,
        media_type=NDJSON,
        headers={"Content-Disposition": 'attachment; filename="engram-export.jsonl"'},
    )


@router.post(
    "/import",
    response_model=ImportOut,
    openapi_extra=_IMPORT_BODY,
    responses={415: {"model": ErrorOut, "description": "The body is not sent as JSONL."}},
    summary="Import JSONL",
)
async def import_(request: Request, memory: TenantMemory) -> ImportOut:
    """Read an Engram JSONL file into the caller's tenant; the whole file is checked before writing."""
    content_type = Message()
    content_type["content-type"] = request.headers.get("content-type", "")
    if content_type.get_content_maintype() != "application" or content_type.get_content_subtype() not in _IMPORT_TYPES:
        raise ApiError(415, "unsupported_media_type", f"send the JSONL file as Content-Type: {NDJSON}")
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_request", f"the body is not UTF-8 (byte {exc.start})") from exc
    # split on newlines only: JSON strings may hold U+2028, which str.splitlines() would cut at
    return import_out(await memory.import_(text.split("\n")))
