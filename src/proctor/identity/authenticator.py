"""Turning a presented credential into a verified Identity.

Authenticators are synchronous (the token store is); adapters call them off the event loop.
The OIDC/SAML/workload authenticators of later issues implement the same interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from proctor.model import Identity
from proctor.store.interfaces import TokenStore


class AuthenticationError(Exception):
    """The credential was not accepted. The message is safe to show the client."""


class Authenticator(Protocol):
    def authenticate(self, secret: str) -> Identity:
        """Return the identity the secret proves, or raise AuthenticationError."""
        ...


class TokenAuthenticator:
    """Proctor access tokens (``prt_…``), verified against their stored hash."""

    def __init__(self, tokens: TokenStore) -> None:
        self._tokens = tokens

    def authenticate(self, secret: str) -> Identity:
        record = self._tokens.verify_token(secret, datetime.now(UTC))
        if record is None:
            # One message for unknown, expired and revoked: do not help a guesser.
            raise AuthenticationError("the access token is invalid, expired or revoked")
        return Identity(
            subject=record.subject,
            groups=record.groups,
            issuer="proctor",
            token_id=record.id,
            claims={"connections": sorted(record.connections)} if record.connections else {},
        )


class ChainAuthenticator:
    """Try several authenticators in order; the first that accepts wins."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._chain = list(authenticators)

    def authenticate(self, secret: str) -> Identity:
        last: AuthenticationError | None = None
        for auth in self._chain:
            try:
                return auth.authenticate(secret)
            except AuthenticationError as exc:
                last = exc
        raise last or AuthenticationError("no authenticator is configured")
