"""BM25 on PostgreSQL with the SQLite backend's tokenisation, stemming and weights.

PostgreSQL's ``ts_rank`` is not BM25 (no IDF), so the PostgreSQL store computes FTS5's bm25
itself, in SQL, over its own term statistics:

- **Tokens** come from SQLite's own FTS5 tokenizer (``porter unicode61 remove_diacritics
  2``, the SQLite store's), run in memory in this process (:class:`Tokenizer`): the same
  tokens and stems by construction, not by imitation.
- **Postings** live in each row: ``fts_terms`` (distinct terms) with ``fts_freqs`` (each
  term's frequency, weighted by column as the SQLite store's ``bm25()`` weights them) and
  ``fts_len`` (the row's length in tokens, counting the scope token FTS5 indexes too). A GIN
  index on ``(tenant, user_id, fts_terms)`` finds a user's rows holding a term; a deleted
  row takes its postings with it.
- **Statistics**: a term's document count is counted in the tenant's rows (GIN index on
  ``(tenant, fts_terms)``); the tenant's row and token totals are kept by triggers in
  ``fts_totals``. They are the tenant's, not the whole database's as in one SQLite file (no
  tenant's words shift another's scores, and a tenant's shard holds all it needs); with one
  tenant, as in the benchmarks, they are the same numbers.

The score is FTS5's: ``Σ idf × f × (k1 + 1) / (f + k1 × (1 − b + b × len / avglen))`` with
``k1 = 1.2``, ``b = 0.75`` and ``idf = max(log((N − n + 0.5) / (n + 0.5)), 1e-6)``. A query
term that tokenises to several tokens (``don't``) is matched, as FTS5 matches a phrase, only
where all of them are; its frequency is the least of theirs (FTS5 counts adjacent
occurrences: the one approximation here).
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: FTS5's bm25 constants.
K1 = 1.2
B = 0.75
#: Column weights, as the SQLite store's ``bm25()`` calls give them.
TURN_WEIGHTS = (1.0, 0.5, 0.6)  # content, name, keys
EPISODE_WEIGHTS = (1.0, 0.7)  # summary, keys
FACT_WEIGHTS = (1.0,)  # statement


@dataclass(frozen=True, slots=True)
class Postings:
    """One row's index entries: distinct terms, their weighted frequencies, its length."""

    terms: list[str]
    freqs: list[float]
    length: int


class Tokenizer:
    """SQLite FTS5's tokenizer, run on an in-memory database: the SQLite store's tokens exactly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queries: dict[str, list[str]] = {}  # query term -> tokens (a pure function of the term)
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(c0, c1, c2, tokenize='porter unicode61 remove_diacritics 2')"
        )
        self._conn.execute("CREATE VIRTUAL TABLE vocab USING fts5vocab(docs, 'instance')")

    def postings(self, rows: Sequence[Sequence[str | None]], weights: Sequence[float]) -> list[Postings]:
        """The postings of each row of column texts (at most three columns), weighted by column."""
        if not rows:
            return []
        width = len(weights)
        out: list[dict[str, float]] = [{} for _ in rows]
        lengths = [1] * len(rows)  # the scope token every FTS5 row of the SQLite store holds
        with self._lock:
            self._conn.execute("DELETE FROM docs")
            self._conn.executemany(
                "INSERT INTO docs(rowid, c0, c1, c2) VALUES (?, ?, ?, ?)",
                [(i, *(list(row[:width]) + [None] * (3 - width))) for i, row in enumerate(rows)],
            )
            for doc, col, term, count in self._conn.execute(
                "SELECT doc, col, term, count(*) FROM vocab GROUP BY doc, col, term"
            ):
                index = int(col[1:])
                lengths[doc] += count
                out[doc][term] = out[doc].get(term, 0.0) + weights[index] * count
            self._conn.execute("DELETE FROM docs")
        return [Postings(list(found), list(found.values()), length) for found, length in zip(out, lengths, strict=True)]

    def query_tokens(self, term: str) -> list[str]:
        """The distinct tokens FTS5 makes of a quoted query term (a phrase when more than one)."""
        with self._lock:
            known = self._queries.get(term)
            if known is not None:
                return list(known)
            self._conn.execute("DELETE FROM docs")
            self._conn.execute("INSERT INTO docs(rowid, c0) VALUES (1, ?)", (term,))
            tokens = [row[0] for row in self._conn.execute("SELECT term FROM vocab ORDER BY offset")]
            self._conn.execute("DELETE FROM docs")
            if len(self._queries) >= 100_000:
                self._queries.clear()
            self._queries[term] = list(dict.fromkeys(tokens))
            return list(self._queries[term])


TOKENIZER = Tokenizer()


@dataclass(frozen=True, slots=True)
class Query:
    """A query's phrases flattened for SQL: phrase number, token and phrase size per token."""

    phrases: list[int]
    tokens: list[str]
    sizes: list[int]

    @classmethod
    def of(cls, terms: Sequence[str]) -> Query:
        phrases: list[int] = []
        tokens: list[str] = []
        sizes: list[int] = []
        for number, term in enumerate(dict.fromkeys(terms)):
            found = TOKENIZER.query_tokens(term)
            for token in found:
                phrases.append(number)
                tokens.append(token)
                sizes.append(len(found))
        return cls(phrases, tokens, sizes)


_PHRASES = "unnest(%s::int[], %s::text[], %s::int[]) AS q(phrase, term, size)"


class TermCounts:
    """Document counts of terms per tenant and kind, kept while the tenant's index is unchanged.

    Valid exactly as long as ``fts_totals``' sums for the tenant and kind (rows, tokens and the
    ever-growing ``changes``, which every write to the index raises) are those they were read
    with: another worker's write changes them, and the next search counts again. So a count
    is never stale, and a tenant that is searched more than written counts each term once.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._entries: dict[tuple[str, str], tuple[tuple[int, int, int], dict[tuple[str, ...], int]]] = {}

    def known(self, key: tuple[str, str], version: tuple[int, int, int]) -> dict[tuple[str, ...], int]:
        """The counts known for ``key`` at ``version`` (a copy)."""
        with self._lock:
            entry = self._entries.get(key)
            return dict(entry[1]) if entry is not None and entry[0] == version else {}

    def remember(self, key: tuple[str, str], version: tuple[int, int, int], counts: dict[tuple[str, ...], int]) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                if len(self._entries) >= 1000:
                    self._entries.clear()
                entry = self._entries[key] = (version, {})
            if len(entry[1]) + len(counts) > self._limit:
                entry[1].clear()
            entry[1].update(counts)


def idf_weights(
    cursor: Any, table: str, kind: str, tenant: str, query: Query, cache: TermCounts | None = None
) -> tuple[dict[int, float], float]:
    """Each phrase's IDF over the tenant's rows of ``table``, and the tenant's average row length."""
    totals = cursor.execute(
        "SELECT coalesce(sum(docs), 0), coalesce(sum(tokens), 0), coalesce(sum(changes), 0) FROM fts_totals "
        "WHERE tenant=%s AND kind=%s",
        (tenant, kind),
    ).fetchone()
    version = (int(totals[0]), int(totals[1]), int(totals[2]))
    rows, tokens = version[0], version[1]
    phrases: dict[int, tuple[str, ...]] = {}
    for phrase, token in zip(query.phrases, query.tokens, strict=True):
        phrases[phrase] = (*phrases.get(phrase, ()), token)
    known = cache.known((tenant, kind), version) if cache is not None else {}
    wanted = [p for p, toks in phrases.items() if toks not in known]
    if wanted:
        sub = Query(
            [p for p in query.phrases if p in wanted],
            [t for p, t in zip(query.phrases, query.tokens, strict=True) if p in wanted],
            [s for p, s in zip(query.phrases, query.sizes, strict=True) if p in wanted],
        )
        counts = dict(
            cursor.execute(
                f"SELECT phrase, count(*) FROM (SELECT q.phrase FROM {table} r JOIN {_PHRASES} ON q.term = ANY(r.fts_terms) "
                "WHERE r.tenant = %s AND r.fts_terms && %s::text[] "
                "GROUP BY r.user_id, r.id, q.phrase HAVING count(*) = min(q.size)) hits GROUP BY phrase",
                (sub.phrases, sub.tokens, sub.sizes, tenant, sub.tokens),
            ).fetchall()
        )
        found = {phrases[p]: int(counts.get(p, 0)) for p in wanted}
        known.update(found)
        if cache is not None:
            cache.remember((tenant, kind), version, found)
    idf = {}
    for phrase, toks in phrases.items():
        n = known[toks]
        idf[phrase] = max(math.log((rows - n + 0.5) / (n + 0.5)), 1e-6) if rows else 1e-6
    return idf, (tokens / rows if rows else 1.0)


def score_sql(alias: str) -> tuple[str, str]:
    """A ``LATERAL`` join computing row ``alias``'s bm25 score as ``score``, and its condition.

    Parameters, in order: phrases, tokens, sizes, idfs (per token), the average length (the
    lateral), then the tokens again (the condition, which lets the GIN index find the rows).
    """
    k, k1, b, a = K1 + 1, K1, B, alias
    lateral = (
        f"CROSS JOIN LATERAL (SELECT sum(idf * f * {k} / (f + {k1} * (1 - {b} + {b} * {a}.fts_len / %s::float8))) "
        f"AS score FROM (SELECT min(q.idf) AS idf, min(u.f) AS f FROM unnest({a}.fts_terms, {a}.fts_freqs) AS u(term, f) "
        "JOIN unnest(%s::int[], %s::text[], %s::int[], %s::float8[]) AS q(phrase, term, size, idf) ON q.term = u.term "
        "GROUP BY q.phrase HAVING count(*) = min(q.size)) hits) bm25"
    )
    return lateral, f"{alias}.fts_terms && %s::text[] AND bm25.score IS NOT NULL"


def score_params(query: Query, idf: dict[int, float], avg: float) -> tuple[list[Any], list[Any]]:
    """The parameters of :func:`score_sql`'s lateral join and of its condition."""
    return [avg, query.phrases, query.tokens, query.sizes, [idf[p] for p in query.phrases]], [query.tokens]
