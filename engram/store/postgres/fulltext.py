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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from engram.store.sqlite.fulltext import COMMON_TERM_SHARE, _prunable
from engram.store.sqlite.sql import bm25_bound

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

    def phrase_tokens(self) -> dict[int, tuple[str, ...]]:
        """Each phrase's tokens, in order."""
        out: dict[int, tuple[str, ...]] = {}
        for phrase, token in zip(self.phrases, self.tokens, strict=True):
            out[phrase] = (*out.get(phrase, ()), token)
        return out


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


@dataclass(frozen=True, slots=True)
class TermStats:
    """A query's statistics over a tenant's rows: each phrase's IDF and document count."""

    idf: dict[int, float]
    counts: dict[int, int]
    rows: int
    avg_len: float


def term_stats(cursor: Any, table: str, kind: str, tenant: str, query: Query, cache: TermCounts | None = None) -> TermStats:
    """Each phrase's IDF over the tenant's rows of ``table``, and the tenant's average row length."""
    totals = cursor.execute(
        "SELECT coalesce(sum(docs), 0), coalesce(sum(tokens), 0), coalesce(sum(changes), 0) FROM fts_totals "
        "WHERE tenant=%s AND kind=%s",
        (tenant, kind),
    ).fetchone()
    version = (int(totals[0]), int(totals[1]), int(totals[2]))
    rows, tokens = version[0], version[1]
    phrases = query.phrase_tokens()
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
    idf, matching = {}, {}
    for phrase, toks in phrases.items():
        n = matching[phrase] = known[toks]
        idf[phrase] = max(math.log((rows - n + 0.5) / (n + 0.5)), 1e-6) if rows else 1e-6
    return TermStats(idf, matching, rows, tokens / rows if rows else 1.0)


def score_sql(query: Query, stats: TermStats, alias: str) -> tuple[str, list[Any]]:
    """An expression of row ``alias``'s bm25 score (0 where no phrase matches), and its parameters.

    One term per phrase, read from the row's own arrays (``array_position``, once per token):
    no join, no aggregate per row. ``f / (f + n)`` is written ``1 - n / (f + n)`` so that the
    row's frequency is looked up once. A phrase of several tokens counts only where all are,
    with the least of their frequencies.
    """
    a = alias
    norm = f"{K1} * (1 - {B} + {B} * {a}.fts_len / %s::float8)"
    parts: list[str] = []
    params: list[Any] = []
    for phrase, toks in query.phrase_tokens().items():
        freqs = [f"{a}.fts_freqs[array_position({a}.fts_terms, %s::text)]"] * len(toks)
        f_params: list[Any] = list(toks)
        if len(toks) == 1:
            f = freqs[0]
        else:  # least() skips NULLs: the condition makes a missing token a miss
            f = f"CASE WHEN {a}.fts_terms @> %s::text[] THEN least({', '.join(freqs)}) END"
            f_params = [list(toks), *toks]
        parts.append(f"coalesce(%s::float8 * (1 - {norm} / ({f} + {norm})), 0)")
        params += [stats.idf[phrase] * (K1 + 1), stats.avg_len, *f_params, stats.avg_len]
    return " + ".join(parts), params


def candidates_sql(query: Query, common: Collection[int], alias: str) -> tuple[str, list[Any]]:
    """A condition finding (through the GIN index) the rows that hold a phrase not in ``common``,
    or two of ``common`` (:func:`~engram.store.sqlite.fulltext._prunable` says when that is a query)."""
    phrases = query.phrase_tokens()
    single = [toks[0] for p, toks in phrases.items() if p not in common and len(toks) == 1]
    clauses, params = ([f"{alias}.fts_terms && %s::text[]"], [single]) if single else ([], [])
    for p, toks in phrases.items():
        if p not in common and len(toks) > 1:
            clauses.append(f"{alias}.fts_terms @> %s::text[]")
            params.append(list(toks))
    shared = [p for p in phrases if p in common]
    for i, p in enumerate(shared):
        for q in shared[i + 1 :]:
            clauses.append(f"{alias}.fts_terms @> %s::text[]")
            params.append(list(dict.fromkeys(phrases[p] + phrases[q])))
    return "(" + " OR ".join(clauses) + ")", params


def bm25_rows(
    conn: Any,
    table: str,
    kind: str,
    tenant: str,
    terms: Sequence[str],
    where: str,
    params: Sequence[Any],
    columns: str,
    limit: int,
    alias: str,
    cache: TermCounts | None = None,
) -> list[tuple[Any, ...]]:
    """Rows of ``columns`` (already prefixed, seq first) and their bm25 score last, best first
    (ties by seq).

    Only rows that can rank are scored, as the SQLite store does: a phrase in more than
    ``COMMON_TERM_SHARE`` of the tenant's rows adds at most a known bound to a score, so rows
    holding only one such phrase, and no other, are left out when that bound is below the
    ``limit``-th score found among the rest; when it is not, the rows are ranked again with
    fewer phrases left out. The ranking is the one of scoring every match.
    """
    terms = list(dict.fromkeys(terms))
    if not terms or limit <= 0:
        return []
    query = Query.of(terms)
    if not query.tokens:
        return []
    stats = term_stats(conn, table, kind, tenant, query, cache)
    score, score_params = score_sql(query, stats, alias)
    names = [column.split(".")[-1].strip() for column in columns.split(",")]
    seq = names[0]

    def ranked(common: Collection[int]) -> list[tuple[Any, ...]]:
        condition, condition_params = candidates_sql(query, common, alias)
        sql = (
            f"SELECT * FROM (SELECT {columns}, {score} AS bm25_score FROM {table} {alias} "
            f"WHERE {where} AND {condition} OFFSET 0) s WHERE s.bm25_score > 0 "
            f"ORDER BY s.bm25_score DESC, s.{seq} LIMIT %s"
        )
        return conn.execute(sql, [*score_params, *params, *condition_params, limit]).fetchall()  # type: ignore[no-any-return]

    bounds = common_phrases(stats, limit)
    rows = ranked(bounds)
    floor = float(rows[-1][-1]) if len(rows) == limit else 0.0
    if bounds and max(bounds.values()) >= floor:  # a row left out might have ranked
        kept = {phrase: bound for phrase, bound in bounds.items() if bound < floor}
        rows = ranked(kept if _prunable_phrases(stats, kept) else {})
    return rows


def common_phrases(stats: TermStats, limit: int) -> dict[int, float]:
    """The phrases to leave out of the candidates, with the most each adds to a score.

    Those in more than ``COMMON_TERM_SHARE`` of the rows; none when fewer than two are common
    and the other phrases are in fewer than ``limit`` rows (the pruning would be undone).
    """
    counts = stats.counts
    common = {p: bm25_bound(n, stats.rows) for p, n in counts.items() if n > COMMON_TERM_SHARE * stats.rows}
    if len(common) < 2 and sum(n for p, n in counts.items() if p not in common) < limit:
        return {}
    return common if _prunable_phrases(stats, common) else {}


def _prunable_phrases(stats: TermStats, common: Collection[int]) -> bool:
    """The SQLite store's rule (:func:`~engram.store.sqlite.fulltext._prunable`) on phrase numbers."""
    return _prunable([str(p) for p in stats.counts], [str(p) for p in common])
