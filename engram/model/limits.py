"""Explicit limits on what Engram accepts. Documented in README.md ("Limits")."""

from __future__ import annotations

#: Longest accepted message content, in bytes of UTF-8: 1 MiB, so that a pasted document or
#: source file is one message (BEAM 500K's longest is 246,463 bytes, LongMemEval_S's 76,719). A long
#: message is embedded as overlapping windows (:mod:`engram.providers.chunking`).
MAX_CONTENT_BYTES = 1024 * 1024
#: Most messages accepted by one ``add`` call.
MAX_BATCH_MESSAGES = 2_000
#: Longest identifier (tenant, user, agent, session, message id, speaker name), in characters.
MAX_ID_CHARS = 128
#: Largest metadata object per turn, as compact JSON bytes.
MAX_METADATA_BYTES = 16 * 1024
#: Longest accepted query, in characters.
MAX_QUERY_CHARS = 4_000
#: Most results one search may ask for.
MAX_SEARCH_K = 1_000
#: Largest context budget, in tokens.
MAX_BUDGET_TOKENS = 200_000
#: Retrieved turns longer than this many tokens are shown as excerpts in a context by default
#: (the user's own words get four times as much, at most a tenth of a small budget: see
#: engram.read.context.shortener); at least MIN_EXCERPT_TOKENS when set.
DEFAULT_EXCERPT_TOKENS = 60
MIN_EXCERPT_TOKENS = 16
#: Largest page size of ``list``.
MAX_PAGE_SIZE = 1_000
#: Roles a turn may have.
ROLES = ("user", "assistant", "system", "tool")
