"""The PostgreSQL schema as ordered, named migrations. Never edit one that has shipped: add one.

Made to scale out: ``tenant`` leads every primary key and index (then ``user_id`` wherever a
table is read per user), so a tenant-sharded cluster (Citus) can distribute every table by
``tenant`` and keep each tenant's rows, indexes and joins on one node. ``api_keys`` is the one
store-wide table (a key is found by the hash of its secret before its tenant is known): on
Citus it is a reference table.

Times are microseconds since the epoch (``bigint``), as in the SQLite store, so both backends
share their row mappers and compare times exactly. Full-text postings live in the rows
themselves (``fts_terms``/``fts_freqs``, see :mod:`engram.store.postgres.fulltext`), so a
deleted memory takes its index entries with it; ``fts_totals`` keeps each tenant's document
and token counts (sharded rows, so concurrent writers do not queue on one counter).

A database records which migrations it has; one with a migration this Engram does not know
was written by a newer Engram and is refused. Migrations run under an advisory lock, so
several workers starting at once apply them once.
"""

from __future__ import annotations

from typing import Any

from engram.errors import CorruptStoreError
from engram.store.migrations import pending

#: The advisory lock (a constant key) migrations take: concurrent openers apply them once.
MIGRATION_LOCK = 0x456E6772

# ``changes`` only grows: a reader caching term counts knows them current while it is unchanged.
_COUNTERS = """
CREATE FUNCTION engram_fts_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO fts_totals AS f (tenant, kind, shard, docs, tokens, changes)
        SELECT tenant, TG_ARGV[0], pg_backend_pid() % 16, -count(*), -coalesce(sum(fts_len), 0), 1
        FROM old_rows GROUP BY tenant
        ON CONFLICT (tenant, kind, shard) DO UPDATE
        SET docs = f.docs + excluded.docs, tokens = f.tokens + excluded.tokens, changes = f.changes + 1;
    ELSE
        INSERT INTO fts_totals AS f (tenant, kind, shard, docs, tokens, changes)
        SELECT tenant, TG_ARGV[0], pg_backend_pid() % 16, count(*), coalesce(sum(fts_len), 0), 1
        FROM new_rows GROUP BY tenant
        ON CONFLICT (tenant, kind, shard) DO UPDATE
        SET docs = f.docs + excluded.docs, tokens = f.tokens + excluded.tokens, changes = f.changes + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION engram_fts_recount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fts_totals AS f (tenant, kind, shard, docs, tokens, changes)
    VALUES (NEW.tenant, TG_ARGV[0], pg_backend_pid() % 16, 0, NEW.fts_len - OLD.fts_len, 1)
    ON CONFLICT (tenant, kind, shard) DO UPDATE SET tokens = f.tokens + excluded.tokens, changes = f.changes + 1;
    RETURN NULL;
END $$
"""


def _counted(table: str, kind: str) -> str:
    """Triggers keeping ``fts_totals`` in step with ``table``'s rows: per statement for inserts
    and deletes, per row for an update that changes a row's postings (recall counts, pins and
    archive marks change other columns and write nothing there)."""
    return f"""
CREATE TRIGGER {table}_fts_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION engram_fts_count('{kind}');
CREATE TRIGGER {table}_fts_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION engram_fts_count('{kind}');
CREATE TRIGGER {table}_fts_update AFTER UPDATE OF fts_terms, fts_freqs, fts_len ON {table} FOR EACH ROW
    WHEN (OLD.fts_terms IS DISTINCT FROM NEW.fts_terms OR OLD.fts_freqs IS DISTINCT FROM NEW.fts_freqs
          OR OLD.fts_len IS DISTINCT FROM NEW.fts_len)
    EXECUTE FUNCTION engram_fts_recount('{kind}');
"""


MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE TABLE engram_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE turns (
    tenant        text NOT NULL,
    user_id       text NOT NULL,
    id            text NOT NULL,
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    agent_id      text,
    session_id    text NOT NULL,
    role          text NOT NULL,
    name          text,
    content       text NOT NULL,
    content_hash  text NOT NULL,
    ts            bigint NOT NULL,
    recorded_at   bigint NOT NULL,
    metadata      text NOT NULL DEFAULT '{}',
    embed_key     bytea,
    embedding     vector,
    keys          text,
    importance    double precision NOT NULL DEFAULT 0.5,
    episode_id    text,
    recalls       integer NOT NULL DEFAULT 0,
    last_recalled bigint,
    pinned        integer NOT NULL DEFAULT 0,
    archived_at   bigint,
    fts_terms     text[] NOT NULL DEFAULT '{}',
    fts_freqs     real[] NOT NULL DEFAULT '{}',
    fts_len       integer NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant, user_id, id)
);
CREATE UNIQUE INDEX turns_user_seq ON turns (tenant, user_id, seq);
CREATE INDEX turns_user_time ON turns (tenant, user_id, ts, seq);
CREATE INDEX turns_tenant_seq ON turns (tenant, seq);
CREATE INDEX turns_session_time ON turns (tenant, user_id, session_id, ts, seq);
CREATE INDEX turns_embed_key ON turns (tenant, user_id, embed_key);
CREATE INDEX turns_episode ON turns (tenant, user_id, episode_id);
CREATE INDEX turns_fts ON turns USING gin (tenant, user_id, fts_terms);
CREATE INDEX turns_fts_tenant ON turns USING gin (tenant, fts_terms);
CREATE TABLE episodes (
    tenant      text NOT NULL,
    user_id     text NOT NULL,
    id          text NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    agent_id    text,
    session_id  text NOT NULL,
    turn_ids    text NOT NULL,
    start_ts    bigint NOT NULL,
    end_ts      bigint NOT NULL,
    summary     text NOT NULL,
    keyphrases  text NOT NULL DEFAULT '[]',
    entities    text NOT NULL DEFAULT '[]',
    keys        text NOT NULL DEFAULT '',
    importance  double precision NOT NULL DEFAULT 0.5,
    visits      integer NOT NULL DEFAULT 0,
    last_visit  bigint,
    pinned      integer NOT NULL DEFAULT 0,
    archived_at bigint,
    embedding   vector,
    updated_at  bigint NOT NULL,
    fts_terms   text[] NOT NULL DEFAULT '{}',
    fts_freqs   real[] NOT NULL DEFAULT '{}',
    fts_len     integer NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant, user_id, id)
);
CREATE UNIQUE INDEX episodes_user_seq ON episodes (tenant, user_id, seq);
CREATE INDEX episodes_session ON episodes (tenant, user_id, session_id, start_ts);
CREATE INDEX episodes_fts ON episodes USING gin (tenant, user_id, fts_terms);
CREATE INDEX episodes_fts_tenant ON episodes USING gin (tenant, fts_terms);
CREATE TABLE facts (
    tenant          text NOT NULL,
    user_id         text NOT NULL,
    id              text NOT NULL,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    slot            text NOT NULL,
    agent_id        text,
    subject         text NOT NULL,
    attribute       text NOT NULL,
    value           text NOT NULL,
    statement       text NOT NULL,
    kind            text NOT NULL,
    multi           integer NOT NULL,
    valid_from      bigint NOT NULL,
    valid_to        bigint,
    recorded_at     bigint NOT NULL,
    superseded_at   bigint,
    superseded_by   text,
    confidence      double precision NOT NULL,
    source          text NOT NULL,
    source_turn_ids text NOT NULL,
    mentions        integer NOT NULL DEFAULT 1,
    recalls         integer NOT NULL DEFAULT 0,
    last_recalled   bigint,
    importance      double precision NOT NULL DEFAULT 0.6,
    pinned          integer NOT NULL DEFAULT 0,
    archived_at     bigint,
    embedding       vector,
    fts_terms       text[] NOT NULL DEFAULT '{}',
    fts_freqs       real[] NOT NULL DEFAULT '{}',
    fts_len         integer NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant, user_id, id)
);
CREATE UNIQUE INDEX facts_user_seq ON facts (tenant, user_id, seq);
CREATE INDEX facts_slot ON facts (tenant, user_id, slot, valid_from);
CREATE INDEX facts_fts ON facts USING gin (tenant, user_id, fts_terms);
CREATE INDEX facts_fts_tenant ON facts USING gin (tenant, fts_terms);
CREATE TABLE links (
    tenant     text NOT NULL,
    user_id    text NOT NULL,
    src        text NOT NULL,
    dst        text NOT NULL,
    kind       text NOT NULL,
    weight     double precision NOT NULL DEFAULT 1.0,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant, user_id, src, dst, kind)
);
CREATE INDEX links_dst ON links (tenant, user_id, dst);
CREATE TABLE lifecycle_state (
    tenant                text NOT NULL,
    user_id               text NOT NULL,
    processed_seq         bigint NOT NULL DEFAULT 0,
    consolidated_seq      bigint NOT NULL DEFAULT 0,
    llm_calls             bigint NOT NULL DEFAULT 0,
    llm_prompt_tokens     bigint NOT NULL DEFAULT 0,
    llm_completion_tokens bigint NOT NULL DEFAULT 0,
    last_consolidated     bigint,
    PRIMARY KEY (tenant, user_id)
);
CREATE TABLE fts_totals (
    tenant text NOT NULL,
    kind   text NOT NULL,
    shard  integer NOT NULL,
    docs    bigint NOT NULL,
    tokens  bigint NOT NULL,
    changes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, kind, shard)
);
CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    tenant     text NOT NULL,
    label      text,
    key_hash   text NOT NULL UNIQUE,
    prefix     text NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint
);
CREATE INDEX api_keys_tenant ON api_keys (tenant);
"""
        + _COUNTERS
        + ";"
        + _counted("turns", "turn")
        + _counted("episodes", "episode")
        + _counted("facts", "fact"),
    ),
    (
        # Vectors and postings stay in their rows (STORAGE MAIN: out of line only when a row
        # outgrows a page): an exact vector search or a BM25 scan reads the rows, not a TOAST
        # lookup per row (a 384-d vector, 1.5 kB, was moved out of line in every turn). The
        # UPDATEs store the existing vectors again under the new rule.
        # A long turn's chunk vectors (one per window of its text after the first): deleted
        # with their turn (the foreign key), searched with it (a turn scores its best window).
        # A user's speaker names, read on every search, by a skip over an index of them.
        # The full-text GIN indexes without a pending list (fastupdate off): with one, every
        # index scan of a search reads the whole list of recent, unmerged entries (up to
        # 4 MB) until a vacuum merges them, and a pruned search scans the index several times.
        "0002_inline_vectors_and_turn_chunks",
        """
ALTER TABLE turns ALTER COLUMN embedding SET STORAGE MAIN, ALTER COLUMN fts_terms SET STORAGE MAIN,
    ALTER COLUMN fts_freqs SET STORAGE MAIN;
ALTER TABLE episodes ALTER COLUMN embedding SET STORAGE MAIN, ALTER COLUMN fts_terms SET STORAGE MAIN,
    ALTER COLUMN fts_freqs SET STORAGE MAIN;
UPDATE turns SET embedding = embedding::real[]::vector WHERE embedding IS NOT NULL;
UPDATE episodes SET embedding = embedding::real[]::vector WHERE embedding IS NOT NULL;
CREATE TABLE turn_chunks (
    tenant    text NOT NULL,
    user_id   text NOT NULL,
    seq       bigint NOT NULL,
    part      integer NOT NULL,
    embed_key bytea NOT NULL,
    embedding vector NOT NULL,
    PRIMARY KEY (tenant, user_id, seq, part),
    FOREIGN KEY (tenant, user_id, seq) REFERENCES turns (tenant, user_id, seq) ON DELETE CASCADE
);
ALTER TABLE turn_chunks ALTER COLUMN embedding SET STORAGE MAIN;
CREATE INDEX turn_chunks_embed_key ON turn_chunks (tenant, user_id, embed_key);
CREATE INDEX turns_user_name ON turns (tenant, user_id, name);
ALTER INDEX turns_fts SET (fastupdate = off);
ALTER INDEX turns_fts_tenant SET (fastupdate = off);
ALTER INDEX episodes_fts SET (fastupdate = off);
ALTER INDEX episodes_fts_tenant SET (fastupdate = off);
ALTER INDEX facts_fts SET (fastupdate = off);
ALTER INDEX facts_fts_tenant SET (fastupdate = off);
SELECT gin_clean_pending_list(index) FROM unnest(ARRAY['turns_fts', 'turns_fts_tenant', 'episodes_fts',
    'episodes_fts_tenant', 'facts_fts', 'facts_fts_tenant']::regclass[]) AS index;
""",
    ),
    (
        # A user's current facts of one kind: every search reads the standing instructions.
        "0003_facts_by_kind",
        """
CREATE INDEX facts_kind ON facts (tenant, user_id, kind);
""",
    ),
]


def migrate(conn: Any, location: str) -> None:
    """Bring the schema up to date (under an advisory lock), or refuse a newer database.

    ``conn`` is an autocommit psycopg connection.

    Raises:
        SchemaVersionError: the database has a migration this Engram does not know.
        CorruptStoreError: the database holds tables of another application named like Engram's.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS engram_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for name in pending_migrations(conn):
            try:
                with conn.transaction():
                    conn.execute(dict(MIGRATIONS)[name])
            except Exception as exc:
                if type(exc).__name__ == "DuplicateTable":
                    raise CorruptStoreError(
                        f"the database {location} holds tables named like Engram's but is not an Engram "
                        "store; give Engram a database (or schema) of its own"
                    ) from exc
                raise
            conn.execute("INSERT INTO engram_migrations(name) VALUES (%s)", (name,))


def check_readable(conn: Any, location: str) -> None:
    """On a server that refuses writes: the schema must be there and up to date already.

    Raises:
        StoreReadOnlyError: the schema is missing or older (it cannot be migrated here).
        SchemaVersionError: the database was written by a newer Engram.
    """
    from engram.errors import StoreReadOnlyError

    exists = conn.execute("SELECT to_regclass('engram_migrations') IS NOT NULL").fetchone()[0]
    if not exists or pending_migrations(conn):
        raise StoreReadOnlyError(
            f"the store {location} needs its schema created or upgraded but the server is read-only: "
            "open it once on the primary (any command that writes does it)"
        )


def pending_migrations(conn: Any) -> list[str]:
    """The migrations this database still needs, in order.

    Raises:
        SchemaVersionError: the database has a migration this Engram does not know.
    """
    applied = {row[0] for row in conn.execute("SELECT name FROM engram_migrations")}
    return pending(applied, [name for name, _ in MIGRATIONS])
