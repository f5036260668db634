"""Store tables and methods of the identity work: sign-in state, SAML replay cache, refresh.

- ``login_states``: a browser sign-in in flight (OIDC state, nonce, PKCE verifier), keyed by
  the SHA-256 of the ``state`` value, used once, valid for minutes. In the store rather than in
  a worker's memory because the callback may reach another worker. SAML sign-ins use the same
  rows: keyed by the AuthnRequest id, with the RelayState sent in ``nonce`` and an empty
  ``code_verifier`` (``proctor.identity.saml_signin``).
- ``saml_assertions``: ids of SAML assertions already consumed, until they expire, so a
  captured assertion cannot be replayed (to any worker).
- ``refresh_grants``: what ``proctor login`` may renew: a Proctor refresh secret (``prr_…``,
  stored hashed), the Proctor token currently issued from it, and the provider's own refresh
  token, encrypted with ``identity.refresh_token_key`` (never stored in clear).

The tables are declared on the store's ``metadata`` (``schema`` imports this module), so the
migrations and the schema-drift test see one schema.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from proctor.store.schema import ID, UtcDateTime, metadata
from proctor.store.tables import TablesOnStore

if TYPE_CHECKING:
    pass

login_states = Table(
    "login_states",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("provider", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("code_verifier", Text, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "expires_at"),
)

saml_assertions = Table(
    "saml_assertions",
    metadata,
    Column("issuer", String(255), nullable=False),
    Column("assertion_id", String(255), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("issuer", "assertion_id"),
    Index(None, "expires_at"),
)

refresh_grants = Table(
    "refresh_grants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("provider", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("token_id", ID, nullable=False),
    # Fernet ciphertext of the provider's refresh token; NULL when the provider gave none.
    Column("provider_refresh", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    UniqueConstraint("secret_hash"),
    Index(None, "token_id"),
)

REFRESH_PREFIX = "prr_"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LoginState:
    provider: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    id: str
    provider: str
    subject: str
    token_id: str
    provider_refresh: str | None = field(repr=False)
    expires_at: datetime
    revoked_at: datetime | None


class IdentityStore(TablesOnStore):
    """The identity tables, on the same database (and connections) as a ``SqlStore``."""

    # -- browser sign-in state ------------------------------------------------------------

    def save_login_state(
        self,
        state: str,
        provider: str,
        nonce: str,
        code_verifier: str,
        redirect_uri: str,
        ttl: timedelta,
    ) -> None:
        now = _now()
        with self._tx(write=True) as conn:
            conn.execute(delete(login_states).where(login_states.c.expires_at < now))
            conn.execute(
                insert(login_states).values(
                    state_hash=_sha256(state),
                    provider=provider,
                    nonce=nonce,
                    code_verifier=code_verifier,
                    redirect_uri=redirect_uri,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )

    def take_login_state(self, state: str) -> LoginState | None:
        """The state, removed so that it can be used only once; None if unknown or expired."""
        key = _sha256(state)
        with self._tx(write=True) as conn:
            row = (
                conn.execute(select(login_states).where(login_states.c.state_hash == key))
                .mappings()
                .first()
            )
            if row is None:
                return None
            conn.execute(delete(login_states).where(login_states.c.state_hash == key))
        if row["expires_at"] <= _now():
            return None
        return LoginState(
            provider=row["provider"],
            nonce=row["nonce"],
            code_verifier=row["code_verifier"],
            redirect_uri=row["redirect_uri"],
            expires_at=row["expires_at"],
        )

    # -- SAML replay cache ------------------------------------------------------------------

    def consume_assertion(self, issuer: str, assertion_id: str, expires_at: datetime) -> bool:
        """Record an assertion as used; False when it was used before (a replay)."""
        now = _now()
        try:
            with self._tx(write=True) as conn:
                conn.execute(delete(saml_assertions).where(saml_assertions.c.expires_at < now))
                conn.execute(
                    insert(saml_assertions).values(
                        issuer=issuer[:255], assertion_id=assertion_id[:255], expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True

    # -- refresh ----------------------------------------------------------------------------

    def create_refresh(
        self,
        provider: str,
        subject: str,
        token_id: str,
        provider_refresh: str | None,
        ttl: timedelta,
    ) -> tuple[str, RefreshGrant]:
        """A new refresh secret (shown once) and its grant."""
        secret = REFRESH_PREFIX + secrets.token_urlsafe(32)
        now = _now()
        grant = RefreshGrant(
            id="rfg_" + secrets.token_urlsafe(9),
            provider=provider,
            subject=subject,
            token_id=token_id,
            provider_refresh=provider_refresh,
            expires_at=now + ttl,
            revoked_at=None,
        )
        with self._tx(write=True) as conn:
            conn.execute(
                insert(refresh_grants).values(
                    id=grant.id,
                    secret_hash=_sha256(secret),
                    provider=provider,
                    subject=subject,
                    token_id=token_id,
                    provider_refresh=provider_refresh,
                    created_at=now,
                    expires_at=grant.expires_at,
                )
            )
        return secret, grant

    def use_refresh(self, secret: str) -> RefreshGrant | None:
        """The grant of a refresh secret if it is live; the secret is spent (rotated) either
        way, so a stolen copy used after its owner is refused, and vice versa."""
        if not secret.startswith(REFRESH_PREFIX) or len(secret) > 200:
            return None
        key = _sha256(secret)
        now = _now()
        with self._tx(write=True) as conn:
            row = (
                conn.execute(select(refresh_grants).where(refresh_grants.c.secret_hash == key))
                .mappings()
                .first()
            )
            if row is None:
                return None
            conn.execute(
                update(refresh_grants)
                .where(refresh_grants.c.id == row["id"], refresh_grants.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        if row["revoked_at"] is not None or row["expires_at"] <= now:
            return None
        return RefreshGrant(
            id=row["id"],
            provider=row["provider"],
            subject=row["subject"],
            token_id=row["token_id"],
            provider_refresh=row["provider_refresh"],
            expires_at=row["expires_at"],
            revoked_at=None,
        )

    def revoke_refresh_for_token(self, token_id: str) -> int:
        with self._tx(write=True) as conn:
            result = conn.execute(
                update(refresh_grants)
                .where(refresh_grants.c.token_id == token_id, refresh_grants.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return result.rowcount
