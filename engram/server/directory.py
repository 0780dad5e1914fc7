"""Who is in a tenant: its users, and a user's sessions, one page at a time (store queries)."""

from __future__ import annotations

from engram.model.results import SessionSummary, UserSummary
from engram.model.scope import check_id
from engram.store.base import Store, UserScope

__all__ = ["SessionSummary", "UserSummary", "list_sessions", "list_users"]


def list_users(
    store: Store, tenant: str, *, after: str | None = None, limit: int = 100
) -> tuple[list[UserSummary], str | None]:
    """Users ordered by id after ``after``; returns a page and the next cursor (or ``None``)."""
    check_id(after, "cursor", required=False)
    page = store.list_users(tenant, after=after, limit=limit + 1)
    return page[:limit], (page[limit - 1].user_id if len(page) > limit else None)


def list_sessions(
    store: Store, tenant: str, user_id: str, *, after: str | None = None, limit: int = 100
) -> tuple[list[SessionSummary], str | None]:
    """A user's sessions, the most recently active first, after the cursor ``after``."""
    check_id(user_id, "user_id")
    check_id(after, "cursor", required=False)
    page = store.list_sessions(UserScope(tenant, user_id), after=after, limit=limit + 1)
    return page[:limit], (page[limit - 1].session_id if len(page) > limit else None)
