"""Just-in-time access grants in authorization: who may use a connection the access rules
deny, and when such a session must end.

Theory of operation. The PostgreSQL adapter asks ``authorize(identity, connection)`` on the
event loop, where no database call may block. Grants are therefore read where a database
call is already made: at authentication, which runs in a thread. ``AccessGrants.load`` is
called there (by ``AuthorizingAuthenticator``) and keeps the subject's active grants in
memory; ``denial`` then consults that fresh copy. A grant approved a second ago admits the
very next connection, on any worker, with either store, and the event loop never waits.

A session admitted by a grant remembers it (``PgSession.access_grant``). The worker checks
those sessions every second (``settle``, in a thread): a grant that expired or was revoked
ends the sessions relying on it, unless another active grant covers the same subject and
connection (a renewed request), which the session then relies on instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from proctor.identity.access import AccessPolicy
from proctor.model import AccessGrant, Connection, Identity
from proctor.store.approvals import ApprovalStore


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def ended_message(grant: AccessGrant, now: datetime) -> str | None:
    """Why a session admitted by ``grant`` must end now, or None while it holds."""
    if grant.revoked_at is not None and grant.revoked_at <= now:
        return (
            f"access grant {grant.id} for {grant.connection} was revoked at "
            f"{_when(grant.revoked_at)}"
        )
    if grant.expires_at <= now:
        when = _when(grant.expires_at)
        return f"access grant {grant.id} for {grant.connection} expired at {when}"
    return None


@dataclass(frozen=True, slots=True)
class Settled:
    """What becomes of a session relying on a grant: ``grant`` to rely on from now (the same
    one, or a renewal), or ``ended`` with the message for the client."""

    grant: AccessGrant | None
    ended: str | None = None


class AccessGrants:
    def __init__(
        self,
        store: ApprovalStore,
        access: AccessPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._access = access
        self._now = clock
        self._lock = threading.Lock()
        # subject -> the active grants read at that subject's latest authentication
        self._recent: dict[str, tuple[AccessGrant, ...]] = {}

    # -- at authentication (a thread) -----------------------------------------------------------

    def load(self, identity: Identity) -> frozenset[str]:
        """Read the identity's active grants; return the connections they cover."""
        found = tuple(self._store.grants(subject=identity.subject, active_at=self._now()))
        with self._lock:
            if found:
                self._recent[identity.subject] = found
            else:
                self._recent.pop(identity.subject, None)
        return frozenset(g.connection for g in found)

    # -- at session start (the event loop; memory only) ----------------------------------------

    def admitting(self, identity: Identity, connection: Connection) -> AccessGrant | None:
        """The grant this identity needs for this connection: None when the access rules
        allow it anyway, or when it holds no active grant for it."""
        if self._access.denial(identity, connection) is None:
            return None
        now = self._now()
        with self._lock:
            held = self._recent.get(identity.subject, ())
        usable = [g for g in held if g.connection == connection.name and g.active(now)]
        return max(usable, key=lambda g: g.expires_at) if usable else None

    def denial(self, identity: Identity, connection: Connection) -> str | None:
        """``AccessPolicy.denial``, except that an active grant admits."""
        denial = self._access.denial(identity, connection)
        if denial is None or self.admitting(identity, connection) is not None:
            return None
        return denial

    # -- while sessions run (a thread) ----------------------------------------------------------

    def settle(self, held: Iterable[AccessGrant]) -> dict[str, Settled]:
        """For each grant sessions rely on (by id): still good, replaced, or ended."""
        held = list(held)
        now = self._now()
        current = {g.id: g for g in self._store.grants_by_id(sorted({g.id for g in held}))}
        out: dict[str, Settled] = {}
        for grant in held:
            if grant.id in out:
                continue
            latest = current.get(grant.id, grant)
            why = ended_message(latest, now)
            if why is None:
                out[grant.id] = Settled(latest)
                continue
            renewal = self._renewal(latest, now)
            out[grant.id] = Settled(renewal) if renewal is not None else Settled(None, why)
        return out

    def _renewal(self, grant: AccessGrant, now: datetime) -> AccessGrant | None:
        others: Sequence[AccessGrant] = self._store.grants(
            subject=grant.subject, connection=grant.connection, active_at=now
        )
        others = [g for g in others if g.id != grant.id]
        return max(others, key=lambda g: g.expires_at) if others else None
