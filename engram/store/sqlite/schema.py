"""The SQLite schema as ordered, named migrations. Never edit one that has shipped: add one.

A database records which migrations it has. Opening a file that has a migration this version
of Engram does not know means the file was written by a newer Engram: it is refused rather
than misread.
"""

from __future__ import annotations

import sqlite3

from engram.errors import CorruptStoreError
from engram.store.migrations import pending
from engram.store.sqlite.transactions import transaction

#: PRAGMA application_id of an Engram database ("Engr").
APPLICATION_ID = 0x456E6772

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_turns",
        """
        CREATE TABLE engram_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE turns (
            seq          INTEGER PRIMARY KEY,
            id           TEXT NOT NULL UNIQUE,
            tenant       TEXT NOT NULL,
            user_id      TEXT NOT NULL,
            agent_id     TEXT,
            session_id   TEXT NOT NULL,
            scope_key    TEXT NOT NULL,
            role         TEXT NOT NULL,
            name         TEXT,
            content      TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            ts           INTEGER NOT NULL,  -- event time, microseconds since the epoch (UTC)
            recorded_at  INTEGER NOT NULL, -- when stored, microseconds since the epoch
            metadata     TEXT NOT NULL DEFAULT '{}',
            embed_key    BLOB,
            embedding    BLOB
        );
        CREATE INDEX turns_user_time ON turns(tenant, user_id, ts, seq);
        CREATE INDEX turns_session_time ON turns(tenant, user_id, session_id, ts, seq);
        CREATE INDEX turns_embed_key ON turns(embed_key);
        CREATE VIRTUAL TABLE turns_fts USING fts5(
            content, name, scope_key,
            content='turns', content_rowid='seq',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
            INSERT INTO turns_fts(rowid, content, name, scope_key)
            VALUES (new.seq, new.content, new.name, new.scope_key);
        END;
        CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, content, name, scope_key)
            VALUES ('delete', old.seq, old.content, old.name, old.scope_key);
        END;
        CREATE TRIGGER turns_immutable BEFORE UPDATE OF
            id, tenant, user_id, agent_id, session_id, role, name, content, ts ON turns
        BEGIN
            SELECT RAISE(ABORT, 'turns are immutable');
        END;
        """,
    ),
    (
        "0002_api_keys",
        """
        CREATE TABLE api_keys (
            id          TEXT PRIMARY KEY,
            tenant      TEXT NOT NULL,
            label       TEXT,
            key_hash    TEXT NOT NULL UNIQUE,
            prefix      TEXT NOT NULL,
            created_at  INTEGER NOT NULL,
            revoked_at  INTEGER
        );
        CREATE INDEX api_keys_tenant ON api_keys(tenant);
        """,
    ),
    (
        "0003_lifecycle",
        """
        ALTER TABLE turns ADD COLUMN episode_id TEXT;
        ALTER TABLE turns ADD COLUMN keys TEXT;
        ALTER TABLE turns ADD COLUMN importance REAL NOT NULL DEFAULT 0.5;
        ALTER TABLE turns ADD COLUMN recalls INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE turns ADD COLUMN last_recalled INTEGER;
        ALTER TABLE turns ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE turns ADD COLUMN archived_at INTEGER;
        CREATE INDEX turns_episode ON turns(episode_id);
        DROP TRIGGER turns_fts_insert;
        DROP TRIGGER turns_fts_delete;
        DROP TABLE turns_fts;
        CREATE VIRTUAL TABLE turns_fts USING fts5(
            content, name, keys, scope_key,
            content='turns', content_rowid='seq',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        INSERT INTO turns_fts(turns_fts) VALUES ('rebuild');
        CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
            INSERT INTO turns_fts(rowid, content, name, keys, scope_key)
            VALUES (new.seq, new.content, new.name, new.keys, new.scope_key);
        END;
        CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, content, name, keys, scope_key)
            VALUES ('delete', old.seq, old.content, old.name, old.keys, old.scope_key);
        END;
        CREATE TRIGGER turns_fts_update AFTER UPDATE OF keys ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, content, name, keys, scope_key)
            VALUES ('delete', old.seq, old.content, old.name, old.keys, old.scope_key);
            INSERT INTO turns_fts(rowid, content, name, keys, scope_key)
            VALUES (new.seq, new.content, new.name, new.keys, new.scope_key);
        END;
        CREATE TABLE episodes (
            seq          INTEGER PRIMARY KEY,
            id           TEXT NOT NULL UNIQUE,
            tenant       TEXT NOT NULL,
            user_id      TEXT NOT NULL,
            agent_id     TEXT,
            session_id   TEXT NOT NULL,
            scope_key    TEXT NOT NULL,
            turn_ids     TEXT NOT NULL,
            start_ts     INTEGER NOT NULL,
            end_ts       INTEGER NOT NULL,
            summary      TEXT NOT NULL,
            keyphrases   TEXT NOT NULL DEFAULT '[]',
            entities     TEXT NOT NULL DEFAULT '[]',
            keys         TEXT NOT NULL DEFAULT '',
            importance   REAL NOT NULL DEFAULT 0.5,
            visits       INTEGER NOT NULL DEFAULT 0,
            last_visit   INTEGER,
            pinned       INTEGER NOT NULL DEFAULT 0,
            archived_at  INTEGER,
            embedding    BLOB,
            updated_at   INTEGER NOT NULL
        );
        CREATE INDEX episodes_session ON episodes(tenant, user_id, session_id, start_ts);
        CREATE VIRTUAL TABLE episodes_fts USING fts5(
            summary, keys, scope_key,
            content='episodes', content_rowid='seq',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER episodes_fts_insert AFTER INSERT ON episodes BEGIN
            INSERT INTO episodes_fts(rowid, summary, keys, scope_key)
            VALUES (new.seq, new.summary, new.keys, new.scope_key);
        END;
        CREATE TRIGGER episodes_fts_delete AFTER DELETE ON episodes BEGIN
            INSERT INTO episodes_fts(episodes_fts, rowid, summary, keys, scope_key)
            VALUES ('delete', old.seq, old.summary, old.keys, old.scope_key);
        END;
        CREATE TRIGGER episodes_fts_update AFTER UPDATE OF summary, keys ON episodes BEGIN
            INSERT INTO episodes_fts(episodes_fts, rowid, summary, keys, scope_key)
            VALUES ('delete', old.seq, old.summary, old.keys, old.scope_key);
            INSERT INTO episodes_fts(rowid, summary, keys, scope_key)
            VALUES (new.seq, new.summary, new.keys, new.scope_key);
        END;
        CREATE TABLE facts (
            seq             INTEGER PRIMARY KEY,
            id              TEXT NOT NULL UNIQUE,
            slot            TEXT NOT NULL,
            tenant          TEXT NOT NULL,
            user_id         TEXT NOT NULL,
            agent_id        TEXT,
            scope_key       TEXT NOT NULL,
            subject         TEXT NOT NULL,
            attribute       TEXT NOT NULL,
            value           TEXT NOT NULL,
            statement       TEXT NOT NULL,
            kind            TEXT NOT NULL,
            multi           INTEGER NOT NULL,
            valid_from      INTEGER NOT NULL,
            valid_to        INTEGER,
            recorded_at     INTEGER NOT NULL,
            superseded_at   INTEGER,
            superseded_by   TEXT,
            confidence      REAL NOT NULL,
            source          TEXT NOT NULL,
            source_turn_ids TEXT NOT NULL,
            mentions        INTEGER NOT NULL DEFAULT 1,
            recalls         INTEGER NOT NULL DEFAULT 0,
            last_recalled   INTEGER,
            importance      REAL NOT NULL DEFAULT 0.6,
            pinned          INTEGER NOT NULL DEFAULT 0,
            archived_at     INTEGER,
            embedding       BLOB
        );
        CREATE INDEX facts_slot ON facts(slot, valid_from);
        CREATE INDEX facts_user ON facts(tenant, user_id, superseded_at, valid_to);
        CREATE VIRTUAL TABLE facts_fts USING fts5(
            statement, scope_key,
            content='facts', content_rowid='seq',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER facts_fts_insert AFTER INSERT ON facts BEGIN
            INSERT INTO facts_fts(rowid, statement, scope_key) VALUES (new.seq, new.statement, new.scope_key);
        END;
        CREATE TRIGGER facts_fts_delete AFTER DELETE ON facts BEGIN
            INSERT INTO facts_fts(facts_fts, rowid, statement, scope_key)
            VALUES ('delete', old.seq, old.statement, old.scope_key);
        END;
        CREATE TABLE links (
            tenant     TEXT NOT NULL,
            user_id    TEXT NOT NULL,
            src        TEXT NOT NULL,
            dst        TEXT NOT NULL,
            kind       TEXT NOT NULL,
            weight     REAL NOT NULL DEFAULT 1.0,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (src, dst, kind)
        );
        CREATE INDEX links_user ON links(tenant, user_id);
        CREATE INDEX links_dst ON links(dst);
        CREATE TABLE lifecycle_state (
            tenant            TEXT NOT NULL,
            user_id           TEXT NOT NULL,
            processed_seq     INTEGER NOT NULL DEFAULT 0,
            consolidated_seq  INTEGER NOT NULL DEFAULT 0,
            llm_calls         INTEGER NOT NULL DEFAULT 0,
            llm_prompt_tokens INTEGER NOT NULL DEFAULT 0,
            llm_completion_tokens INTEGER NOT NULL DEFAULT 0,
            last_consolidated INTEGER,
            PRIMARY KEY (tenant, user_id)
        );
        """,
    ),
    (
        "0004_turns_by_user_seq",
        # A user's turns in insertion order (an index ends with the rowid, seq): the write path
        # reads the turns after its watermark on every add, and vectors load by seq. Without it
        # both sorted every turn of the user.
        """
        CREATE INDEX turns_user_seq ON turns(tenant, user_id);
        """,
    ),
    (
        "0005_turn_chunks",
        # A long turn's chunk vectors: one per window of its text after the first (the turn's
        # own vector embeds its start). Deleted with the turn by a trigger (every path that
        # deletes turns, forget's secure delete included); a turn's scope is the turn's row.
        """
        CREATE TABLE turn_chunks (
            seq        INTEGER NOT NULL,  -- the turn's seq
            part       INTEGER NOT NULL,  -- 1, 2, ... in text order
            embed_key  BLOB NOT NULL,
            embedding  BLOB NOT NULL,
            PRIMARY KEY (seq, part)
        ) WITHOUT ROWID;
        CREATE INDEX turn_chunks_embed_key ON turn_chunks(embed_key);
        CREATE TRIGGER turn_chunks_delete AFTER DELETE ON turns BEGIN
            DELETE FROM turn_chunks WHERE seq = old.seq;
        END;
        """,
    ),
    (
        "0006_facts_by_kind",
        # A user's current facts of one kind (every search reads the standing instructions).
        """
        CREATE INDEX facts_kind ON facts(tenant, user_id, kind);
        """,
    ),
]


def check_compatible(conn: sqlite3.Connection) -> None:
    """Refuse, without writing a byte, a file that is not an Engram store.

    Raises:
        CorruptStoreError: the file is another application's database, or not one at all.
    """
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if app_id not in (0, APPLICATION_ID) or (tables and "engram_migrations" not in tables):
        raise CorruptStoreError(
            "this file is an SQLite database but not an Engram store; choose another --db path"
        )


def migrate(conn: sqlite3.Connection, location: str) -> None:
    """Bring the schema up to date, or refuse a file this version cannot read.

    Safe when several processes open a new file at once: what is applied is read again under
    the write lock (``BEGIN IMMEDIATE``), and the pending migrations run in that one
    transaction, so the second opener finds them done. An up-to-date file takes no lock.

    Raises:
        SchemaVersionError: the file was written by a newer Engram.
    """
    if _has_migrations_table(conn) and not pending_migrations(conn):
        return
    with transaction(conn, location):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS engram_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        pending = pending_migrations(conn)
        for name in pending:
            # executescript would commit first: run the statements inside this transaction.
            for statement in _statements(dict(MIGRATIONS)[name]):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO engram_migrations(name, applied_at) VALUES (?, datetime('now'))", (name,)
            )
        if pending:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def pending_migrations(conn: sqlite3.Connection) -> list[str]:
    """The migrations this file still needs, in order (all of them for a new file).

    Raises:
        SchemaVersionError: the file has a migration this Engram does not know.
    """
    applied = (
        {row[0] for row in conn.execute("SELECT name FROM engram_migrations")}
        if _has_migrations_table(conn)
        else set()
    )
    return pending(applied, [name for name, _ in MIGRATIONS])


def _has_migrations_table(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='engram_migrations'").fetchone()
        is not None
    )


def _statements(script: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` keeps triggers whole)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out
