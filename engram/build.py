"""From settings to a :class:`~engram.Memory`: the one builder every entry point uses.

The CLI, ``engram serve`` / ``engram mcp`` and ``engram bench`` call :func:`build_memory` with
an :class:`~engram.settings.EngramSettings`; the server makes each tenant's memory from its
base memory with :func:`for_tenant`, so every tenant shares the same store, embedder, LLM,
retention policy, recipe and clock (nothing is copied field by field in two places).

Reads never create a store: ``create=False`` refuses a path with no file
(:class:`~engram.errors.StoreNotFoundError`) before anything, not even a folder, is created.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engram.errors import (
    EngramError,
    StoreBusyError,
    StoreFullError,
    StoreNotFoundError,
    StoreReadOnlyError,
    ValidationError,
)
from engram.settings import EngramSettings, LLMSettings

if TYPE_CHECKING:
    from engram.engine import Memory
    from engram.providers.llm import LLM
    from engram.store.base import Store

#: What to do next after a store error, for the messages of the CLI and the server.
NEXT_STEPS: dict[type[EngramError], str] = {
    StoreBusyError: "retry in a moment: another process holds the store's lock",
    StoreReadOnlyError: "check the permissions of the store file and of its folder",
    StoreFullError: "free disk space, then retry",
    StoreNotFoundError: "check --db / $ENGRAM_DB",
}


def next_step(exc: EngramError) -> str | None:
    """The advice for ``exc``'s class (the most specific one that has advice), if any."""
    for cls in type(exc).__mro__:
        if cls in NEXT_STEPS:
            return NEXT_STEPS[cls]
    return None


def with_next_step(exc: EngramError) -> str:
    """``exc``'s message, with its next step appended when the message does not already say it."""
    message, advice = str(exc), next_step(exc)
    if advice is None or advice.split(":")[0].lower() in message.lower():
        return message
    return f"{message} ({advice})"


def store_path(settings: EngramSettings) -> Path | str:
    """The store the settings name: a file (:func:`engram.default_path` when none is set) or a URL."""
    if settings.db is not None:
        return settings.db
    from engram.engine import default_path

    return default_path()


def open_store(settings: EngramSettings, *, create: bool = True) -> Store:
    """Open the settings' store (a file, or a ``postgresql://`` URL); with ``create=False`` a
    missing file is an error.

    Raises:
        StoreNotFoundError: ``create`` is false and there is no file at the path; nothing was
            created.
    """
    from engram.store.opening import is_store_url, open_store_at, store_exists

    path = store_path(settings)
    if not create and not store_exists(path):
        raise StoreNotFoundError(
            f"no Engram store at {path} (check --db / $ENGRAM_DB; "
            "`engram add` or `engram import` creates one)"
        )
    if is_store_url(path):
        return open_store_at(path, create=create)
    return open_store_at(
        path,
        create=create,
        vector_cache_mb=settings.vector_cache_mb,
        fulltext_cache_mb=settings.fulltext_cache_mb,
    )


def build_llm(settings: LLMSettings) -> LLM | None:
    """The OpenAI-compatible LLM the settings configure, or ``None`` when none is.

    Raises:
        ValidationError: only one of the base URL and the model is set.
    """
    if not settings.base_url and not settings.model:
        return None
    if not settings.configured:
        raise ValidationError(
            "an LLM needs both ENGRAM_LLM_BASE_URL and ENGRAM_LLM_MODEL (llm.base_url and llm.model)"
        )
    from engram.providers.llm import OpenAICompatibleLLM

    return OpenAICompatibleLLM(
        str(settings.model),
        base_url=str(settings.base_url),
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


def build_memory(
    settings: EngramSettings, *, tenant: str | None = None, create: bool = True, **overrides: Any
) -> Memory:
    """The :class:`~engram.Memory` the settings describe.

    Args:
        settings: from :func:`engram.settings.load_settings`.
        tenant: work in this tenant instead of ``settings.tenant``.
        create: create the store when the file does not exist (writes); ``False`` for reads.
        overrides: other :class:`~engram.Memory` arguments (e.g. ``clock``, ``llm``) that win
            over the settings.

    Raises:
        StoreNotFoundError: ``create`` is false and there is no store at the path.
        ValidationError: the settings are inconsistent (e.g. an LLM URL without a model).
    """
    from engram.engine import Memory

    llm = overrides.pop("llm") if "llm" in overrides else build_llm(settings.llm)
    embedder = overrides.pop("embedder", None)
    if embedder is None and settings.embedder == "hashing":
        from engram.providers.hashing import HashingEmbedder

        embedder = HashingEmbedder()
    store = open_store(settings, create=create)
    try:
        return Memory(
            store=store,
            embedder=embedder,
            tenant=tenant or settings.tenant,
            retrieval=settings.retrieval,
            llm=llm,
            retention=settings.retention,
            **overrides,
        )
    except BaseException:
        store.close()
        raise


#: Memory's constructor arguments, and the attribute of a Memory each one ends up in.
#: ``path`` and ``tenant`` are left out: a tenant's view has the base's store and its own tenant.
SHARED_COMPONENTS = {
    "store": "store",
    "embedder": "embedder",
    "token_counter": "token_counter",
    "retrieval": "retrieval",
    "llm": "llm",
    "retention": "retention_policy",
    "clock": "_clock",
}


def for_tenant(base: Memory, tenant: str) -> Memory:
    """A memory of ``tenant`` over everything ``base`` has: store, embedder, token counter,
    recipe, LLM, retention policy and clock. Cheap: no connection of its own.

    The first call loads the base's embedder if it was not loaded yet.
    """
    from engram.engine import Memory

    components = {argument: getattr(base, attribute) for argument, attribute in SHARED_COMPONENTS.items()}
    return Memory(tenant=tenant, **components)


def close_memory(memory: Memory) -> None:
    """Close a built memory: its store and its LLM's connections."""
    try:
        memory.close()
    finally:
        close = getattr(memory.llm, "close", None)
        if callable(close):
            close()
