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
from proctor.store.tokens import SECRET_PREFIX


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

    def handles(self, secret: str) -> bool:
        return secret.startswith(SECRET_PREFIX)

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
    """Try several authenticators in order; the first that accepts wins.

    An authenticator with a ``handles(secret)`` method is asked only about secrets of its
    shape (``prt_…`` for tokens, three base64url parts for JWTs), so the error the client sees
    comes from the authenticator that understood its credential, not from the last one tried.
    """

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._chain = list(authenticators)

    def authenticate(self, secret: str) -> Identity:
        last: AuthenticationError | None = None
        for auth in self._chain:
            handles = getattr(auth, "handles", None)
            if handles is not None and not handles(secret):
                continue
            try:
                return auth.authenticate(secret)
            except AuthenticationError as exc:
                last = exc
        if last is None and len(self._chain) > 1:
            raise AuthenticationError(
                "the password is neither a Proctor access token (prt_…) "
                "nor a JWT from a trusted issuer"
            )
        raise last or AuthenticationError("the access token is invalid, expired or revoked")
