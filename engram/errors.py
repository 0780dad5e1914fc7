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
    │   ├── EmbedderMismatchError  the store was embedded with another model
    │   ├── StoreNotFoundError no store at that path (reads never create one)
    │   ├── StoreBusyError     another process holds the lock past the timeout; retry
    │   ├── StoreReadOnlyError the file or its folder cannot be written
    │   └── StoreFullError     the disk (or a size limit) is full
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


class StoreNotFoundError(StoreError):
    """There is no store at the given path; a read never creates one (a mistyped path?)."""


class StoreBusyError(StoreError):
    """Another connection held the database lock for longer than the busy timeout; retry later."""


class StoreReadOnlyError(StoreError):
    """The store (or the folder it lives in) cannot be written: a write was refused, nothing changed."""


class StoreFullError(StoreError):
    """The disk is full (or a size limit was reached): the write was rolled back, nothing changed."""


class ProviderError(EngramError):
    """An embedding or language-model provider failed."""

    exit_code = 5


#: The distribution name on PyPI (``pip install engram-recall``); the import package and the
#: command are ``engram``. ``engram-memory`` and ``engram`` on PyPI are other projects.
DISTRIBUTION = "engram-recall"


def install_hint(extra: str | None = None) -> str:
    """The ``pip install`` command that adds ``extra`` (or reinstalls the core when ``None``)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else f"pip install '{DISTRIBUTION}'"


class MissingDependencyError(EngramError, ImportError):
    """An optional extra is needed; the message names the ``pip install`` that adds it.

    ``extra`` is ``None`` for a package of the core install that has gone missing.
    """

    exit_code = 6

    def __init__(self, feature: str, extra: str | None, module: str) -> None:
        self.feature, self.extra, self.module = feature, extra, module
        super().__init__(f"{feature} needs the optional package {module!r}: {install_hint(extra)}")


def require(module: str, *, feature: str, extra: str):  # type: ignore[no-untyped-def]
    """Import an optional dependency, or raise :class:`MissingDependencyError` with a hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(feature, extra, module) from exc
