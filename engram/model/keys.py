"""API keys: each belongs to one tenant. Only a hash of the secret is ever stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key (never the secret itself).

    Attributes:
        id: public id, e.g. ``key_3f9a…``; used to revoke.
        tenant: the tenant whose memory the key opens.
        label: a note of the creator's.
        prefix: the first characters of the secret, to recognise it in a list.
        created_at: when it was made.
        revoked_at: when it was revoked, or ``None`` while it works.
    """

    id: str
    tenant: str
    label: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the key still opens its tenant."""
        return self.revoked_at is None
