"""The PostgreSQL backend (optional extra ``[postgres]``: psycopg 3 with its pool, pgvector)."""

from engram.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
