"""Proctor access tokens: only their hash is ever stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    subject: str
    groups: frozenset[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    # Connection names this token may open; empty means any the identity is allowed.
    connections: frozenset[str] = frozenset()
    description: str | None = None

    def is_valid_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """Returned once at creation: the only time the secret exists outside the client."""

    secret: str = field(repr=False)
    record: TokenRecord = field()
