"""The one exception tree of Engram.

Every error Engram raises on purpose derives from :class:`EngramError`. Messages say what
went wrong and what to do next. Interfaces map the tree once: the CLI to exit codes, the
REST server to HTTP status codes, the MCP server to tool errors.

    EngramError
    ├── ValidationError        bad input: nothing was written          (CLI exit 2, HTTP 422)
    ├── NotFoundError          no such memory in this scope             (CLI exit 3, HTTP 404)
    ├── StoreError             the database cannot be used as is        (CLI exit 4, HTTP 503)
    │   ├── CorruptStoreError  the file is not an Engram database or is damaged
    │   ├── SchemaVersionError the file was written by a newer Engram
    │   └── EmbedderMismatchError  the store was embedded with another model
    ├── ProviderError          an embedder or LLM failed                (CLI exit 5, HTTP 502)
    └── MissingDependencyError an optional extra is not installed       (CLI exit 6, HTTP 501)
"""

from __future__ import annotations


class EngramError(Exception):
    """Root of every error Engram raises on purpose."""

    exit_code = 1


class ValidationError(EngramError, ValueError):
    """Input was rejected; nothing was written."""

    exit_code = 2


class NotFoundError(EngramError, LookupError):
    """The requested memory does not exist in the given scope."""

    exit_code = 3


class StoreError(EngramError):
    """The store cannot be opened or used."""

    exit_code = 4


class CorruptStoreError(StoreError):
    """The file is not an Engram database, or it is damaged."""


class SchemaVersionError(StoreError):
    """The file was written by a newer version of Engram than this one."""


class EmbedderMismatchError(StoreError):
    """The store's vectors were made by a different embedding model than the one configured."""


class ProviderError(EngramError):
    """An embedding or language-model provider failed."""

    exit_code = 5


class MissingDependencyError(EngramError, ImportError):
    """An optional extra is needed; the message names the ``pip install`` that adds it."""

    exit_code = 6

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature, self.extra, self.module = feature, extra, module
        super().__init__(
            f"{feature} needs the optional package {module!r}: pip install 'engram-memory[{extra}]'"
        )


def require(module: str, *, feature: str, extra: str):  # type: ignore[no-untyped-def]
    """Import an optional dependency, or raise :class:`MissingDependencyError` with a hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(feature, extra, module) from exc
