"""Authenticators for the wire protocols beyond Proctor's own tokens.

- ``ExternalJwtAuthenticator``: a workload JWT (GitHub Actions, Kubernetes, SPIFFE, client
  credentials) presented directly as the PostgreSQL password. Validated exactly as at the
  token exchange endpoint; no Proctor token is minted, so the session carries no token id.
- ``AuthorizingAuthenticator``: wraps the chain and applies ``identity.access`` rules before
  any connection is chosen, by narrowing the identity's ``connections`` claim (which the
  PostgreSQL adapter enforces). An identity allowed no connection at all is refused here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from proctor.identity.access import AccessPolicy
from proctor.identity.authenticator import AuthenticationError, Authenticator
from proctor.identity.issuers import IssuerRegistry
from proctor.identity.validation import looks_like_jwt
from proctor.model import Connection, Identity


class ExternalJwtAuthenticator:
    def __init__(self, registry: IssuerRegistry) -> None:
        self._registry = registry

    def handles(self, secret: str) -> bool:
        return looks_like_jwt(secret)

    def authenticate(self, secret: str) -> Identity:
        if not looks_like_jwt(secret):
            raise AuthenticationError("the password is not a JWT")
        resolved = self._registry.resolve(secret, password=True)
        identity = resolved.identity
        if resolved.connections:
            identity = replace(
                identity,
                claims={**identity.claims, "connections": sorted(resolved.connections)},
            )
        return identity


class AuthorizingAuthenticator:
    def __init__(
        self,
        inner: Authenticator,
        policy: AccessPolicy,
        connections: Iterable[Connection],
        grants: Callable[[Identity], frozenset[str]] | None = None,
    ) -> None:
        """``grants``: the connections the identity holds an active just-in-time access
        grant for (``proctor.approvals.grants``); they are allowed too, within the token's
        own connection scope."""
        self._inner = inner
        self._policy = policy
        self._connections = list(connections)
        self._grants = grants

    def authenticate(self, secret: str) -> Identity:
        identity = self._inner.authenticate(secret)
        if not self._policy.restricts:
            return identity
        allowed = self._policy.allowed(identity, self._connections)
        if self._grants is not None:
            granted = self._grants(identity)
            scope = identity.claims.get("connections")
            allowed |= {c for c in granted if not scope or c in scope}
        if not allowed:
            raise AuthenticationError(
                f"{identity.subject} is not allowed to use any connection; "
                "ask for access with `proctor request CONNECTION`"
            )
        return replace(identity, claims={**identity.claims, "connections": sorted(allowed)})
