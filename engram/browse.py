"""Browsing stored turns: one by id, a page at a time, the users and sessions, counts.

:class:`engram.Memory` inherits these methods; each validates its arguments and makes one
store call.
"""

from __future__ import annotations

import builtins

from engram.errors import NotFoundError, ValidationError
from engram.model import Page, Stats, Turn
from engram.model.limits import MAX_PAGE_SIZE
from engram.model.results import SessionSummary, UserSummary, decode_cursor, encode_cursor
from engram.model.scope import check_id
from engram.model.timeutil import to_micros
from engram.store.base import Store, UserScope


class BrowseMethods:
    """``get``, ``list``, ``users``, ``sessions`` and ``stats`` for :class:`engram.Memory`."""

    store: Store
    tenant: str

    def get(self, turn_id: str, *, user_id: str, agent_id: str | None = None) -> Turn:
        """One turn by id.

        Raises:
            NotFoundError: no such turn for this user.
        """
        check_id(user_id, "user_id")
        found = self.store.get_turns(UserScope(self.tenant, user_id, agent_id), [turn_id])
        if not found:
            raise NotFoundError(f"no turn {turn_id!r} for user {user_id!r}")
        return found[0]

    def list(
        self,
        *,
        user_id: str,
        session_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Turns in chronological order, one page at a time (pass ``next_cursor`` back)."""
        check_id(user_id, "user_id")
        check_id(session_id, "session_id", required=False)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        after = decode_cursor(cursor) if cursor else None
        turns = self.store.list_turns(
            UserScope(self.tenant, user_id, agent_id), session_id=session_id, after=after, limit=limit + 1
        )
        more = len(turns) > limit
        turns = turns[:limit]
        next_cursor = _encode_cursor(turns[-1]) if more and turns else None
        return Page(items=turns, next_cursor=next_cursor)

    def users(self, *, after: str | None = None, limit: int = 100) -> builtins.list[UserSummary]:
        """This tenant's users (id, turns, sessions, time span), ordered by id, a page at a time."""
        check_id(after, "after", required=False)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        return self.store.list_users(self.tenant, after=after, limit=limit)

    def sessions(
        self, *, user_id: str, after: str | None = None, limit: int = 100
    ) -> builtins.list[SessionSummary]:
        """A user's sessions, the most recently active first, a page at a time."""
        check_id(user_id, "user_id")
        check_id(after, "after", required=False)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        return self.store.list_sessions(UserScope(self.tenant, user_id), after=after, limit=limit)

    def stats(self, *, user_id: str | None = None) -> Stats:
        """Counts and sizes for this tenant, or one user."""
        check_id(user_id, "user_id", required=False)
        return self.store.stats(self.tenant, user_id)


def _encode_cursor(turn: Turn) -> str:
    return encode_cursor(to_micros(turn.timestamp), turn.seq)
