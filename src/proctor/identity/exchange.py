"""RFC 8693 token exchange: an external JWT in, a short-lived Proctor token out.

Request (``POST /oauth/token``, form-encoded):

- ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``
- ``subject_token``: the JWT; ``subject_token_type``: ``…:token-type:jwt``, ``…:id_token`` or
  ``…:access_token`` (all are validated as JWTs from a trusted issuer)
- ``requested_token_type`` (optional): only ``…:token-type:access_token``
- ``audience`` (optional, repeatable): connection names the token will be limited to
- ``actor_token`` and ``resource`` are not supported (``invalid_request`` / ``invalid_target``)

Response: ``access_token`` (``prt_…``), ``issued_token_type``, ``token_type: Bearer``,
``expires_in``, plus Proctor's ``subject``, ``groups`` and ``connections``.

The Proctor token is stored hashed, bound to the identity's subject, a snapshot of its groups,
an expiry (the issuer's or rule's ``token_ttl``, never above ``exchange.max_ttl``) and a
connection scope: the requested audience, within what the workload rule and access rules allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from proctor.identity.access import AccessPolicy, denial_message
from proctor.identity.authenticator import AuthenticationError
from proctor.identity.errors import ProviderUnavailable
from proctor.identity.issuers import IssuerRegistry, Resolved
from proctor.identity.validation import looks_like_jwt
from proctor.model import Connection, IssuedToken
from proctor.store.interfaces import TokenStore

GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"
TT_ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
TT_ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
SUBJECT_TOKEN_TYPES = frozenset({TT_JWT, TT_ID_TOKEN, TT_ACCESS_TOKEN})


class OAuthError(Exception):
    """An OAuth error response (RFC 6749 §5.2): ``error`` code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


Form = Mapping[str, Sequence[str]]


def single(form: Form, name: str, required: bool = True) -> str | None:
    values = form.get(name, ())
    if len(values) > 1:
        raise OAuthError("invalid_request", f"{name} must be given once")
    if not values or not values[0]:
        if required:
            raise OAuthError("invalid_request", f"{name} is required")
        return None
    return values[0]


@dataclass(frozen=True)
class Minted:
    issued: IssuedToken
    resolved: Resolved
    ttl: timedelta

    def response(self) -> dict[str, Any]:
        record = self.issued.record
        return {
            "access_token": self.issued.secret,
            "issued_token_type": TT_ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": int(self.ttl.total_seconds()),
            "subject": record.subject,
            "groups": sorted(record.groups),
            "connections": sorted(record.connections),
        }


class TokenMinter:
    """Issues Proctor tokens for resolved external identities, applying access rules."""

    def __init__(
        self,
        tokens: TokenStore,
        access: AccessPolicy,
        connections: Mapping[str, Connection],
        max_ttl: float,
    ) -> None:
        self._tokens = tokens
        self._access = access
        self._connections = connections
        self._max_ttl = max_ttl

    def mint(
        self,
        resolved: Resolved,
        audience: Sequence[str] = (),
        how: str = "exchange",
        *,
        person: bool = False,
    ) -> Minted:
        """``person``: a person signing in (browser or device flow). They get a token even
        when the access rules give them no connection yet, because with it they ask for
        just-in-time access (``proctor request``); the rules still refuse every connection
        until a grant exists. A workload with no connection is refused here instead: nobody
        would ever ask on its behalf, and the error is clearer at exchange time."""
        identity = resolved.identity
        for name in audience:
            if name not in self._connections:
                raise OAuthError("invalid_target", f"no connection named {name!r}")
        if resolved.connections:
            outside = [a for a in audience if a not in resolved.connections]
            if outside:
                raise OAuthError("invalid_target", denial_message(identity.subject, outside[0]))
        scope = frozenset(audience) or resolved.connections
        if self._access.restricts or scope:
            for name in scope:
                denial = self._access.denial(identity, self._connections[name])
                if denial is not None:
                    raise OAuthError("invalid_target", denial)
            if (
                not person
                and not scope
                and not self._access.allowed(identity, self._connections.values())
            ):
                raise OAuthError(
                    "invalid_target",
                    f"{identity.subject} is not allowed to use any connection; "
                    "ask for access with `proctor request CONNECTION`",
                )
        ttl = timedelta(seconds=min(resolved.token_ttl, self._max_ttl))
        issued = self._tokens.create_token(
            identity.subject,
            identity.groups,
            ttl,
            connections=scope,
            description=f"{how} via {resolved.source}",
        )
        return Minted(issued, resolved, ttl)


class TokenExchange:
    def __init__(self, registry: IssuerRegistry, minter: TokenMinter) -> None:
        self._registry = registry
        self._minter = minter

    def exchange(self, form: Form) -> Minted:
        if single(form, "grant_type") != GRANT_TOKEN_EXCHANGE:
            raise OAuthError("unsupported_grant_type", "expected the token-exchange grant type")
        token = single(form, "subject_token")
        assert token is not None
        token_type = single(form, "subject_token_type")
        if token_type not in SUBJECT_TOKEN_TYPES:
            raise OAuthError(
                "invalid_request",
                "subject_token_type must be a JWT, ID token or access token type",
            )
        requested = single(form, "requested_token_type", required=False)
        if requested not in (None, TT_ACCESS_TOKEN):
            raise OAuthError("invalid_request", "only access tokens can be requested")
        if form.get("actor_token"):
            raise OAuthError("invalid_request", "delegation (actor_token) is not supported")
        if form.get("resource"):
            raise OAuthError("invalid_target", "name connections with audience, not resource")
        audience = [a for a in form.get("audience", ()) if a]
        if not looks_like_jwt(token):
            raise OAuthError("invalid_grant", "the subject token is not a JWT")
        try:
            resolved = self._registry.resolve(token)
        except ProviderUnavailable as exc:
            raise OAuthError("temporarily_unavailable", str(exc), status=503) from exc
        except AuthenticationError as exc:
            raise OAuthError("invalid_grant", str(exc)) from exc
        return self._minter.mint(resolved, audience)
