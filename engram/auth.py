"""API keys for the server: create, verify, list, revoke. Secrets are shown once, stored hashed.

A secret is ``engram_`` plus 32 random bytes in URL-safe base64: with that much entropy a
plain sha256 is a safe verifier (slow password hashes guard low-entropy secrets, which these
are not), and lookup by hash stays one indexed read per request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from engram.errors import NotFoundError, ValidationError
from engram.model.keys import ApiKey
from engram.model.scope import check_id
from engram.model.timeutil import now
from engram.store.base import Store

SECRET_PREFIX = "engram_"


def hash_secret(secret: str) -> str:
    """The stored verifier of a secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(store: Store, tenant: str, label: str | None = None, *, at: datetime | None = None) -> tuple[ApiKey, str]:
    """Make a key for ``tenant``; returns it and its secret (which is not stored and cannot be shown again)."""
    check_id(tenant, "tenant")
    if label is not None and len(label) > 200:
        raise ValidationError("label is longer than 200 characters")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id="key_" + secrets.token_hex(8),
        tenant=tenant,
        label=label,
        prefix=secret[: len(SECRET_PREFIX) + 6],
        created_at=at or now(),
    )
    store.put_api_key(key, hash_secret(secret))
    return key, secret


def verify_key(store: Store, secret: str) -> ApiKey | None:
    """The active key a secret belongs to, or ``None`` (unknown or revoked)."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    key = store.find_api_key(hash_secret(secret))
    return key if key is not None and key.active else None


def revoke_key(store: Store, key_id: str) -> ApiKey:
    """Revoke a key by id; revoking twice is harmless.

    Raises:
        NotFoundError: no key has that id.
    """
    key = store.revoke_api_key(key_id, now())
    if key is None:
        raise NotFoundError(f"no API key {key_id!r}")
    return key
