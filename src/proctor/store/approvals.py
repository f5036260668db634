"""Store tables and methods of approvals: requests, decisions, just-in-time access grants.

A decision is taken inside one write transaction that re-reads the request: two reviewers
approving at once through different workers cannot both count as "the last approval needed",
and nobody decides a request that has just expired or been withdrawn.

Every change to a request or a grant is announced in its own transaction (``notifications``:
PostgreSQL NOTIFY, delivered at commit), so processes waiting on it wake without polling.

The tables are declared on the store's ``metadata`` (``schema`` imports this module), so the
migrations and the schema-drift test see one schema.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, RowMapping

from proctor.model import (
    AccessGrant,
    ApprovalRequest,
    Decision,
    RequestKind,
    RequestStatus,
    Scope,
)
from proctor.store.errors import StoreError
from proctor.store.notifications import notify_change
from proctor.store.schema import ID, UtcDateTime, metadata
from proctor.store.tables import TablesOnStore

if TYPE_CHECKING:
    pass

access_grants = Table(
    "access_grants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject", Text, nullable=False),
    Column("connection", Text, nullable=False),
    Column("granted_by", Text, nullable=False),
    Column("reason", Text),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("request_id", ID),
    Index(None, "subject", "connection"),
    Index(None, "expires_at"),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requester", Text, nullable=False),
    Column("requester_groups", Text, nullable=False),  # JSON list
    Column("requester_persons", Text, nullable=False),  # JSON list
    Column("connection", Text, nullable=False),
    Column("workflow", Text, nullable=False),
    # No foreign key: the request may be made before the batched session row is written.
    Column("session_id", ID),
    Column("statement_text", Text),
    Column("statement_hash", String(64)),
    Column("rule", Text),
    Column("reason", Text),
    Column("scope", String(16), nullable=False),
    Column("duration_seconds", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
    Index(None, "status"),
    Index(None, "requester"),
    Index(None, "session_id"),
    # The live feed asks "changed since T" every poll; the evidence pack reads a period.
    Index(None, "created_at"),
    Index(None, "decided_at"),
)

approval_decisions = Table(
    "approval_decisions",
    metadata,
    Column(
        "request_id",
        ID,
        ForeignKey("approval_requests.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("approver", Text, nullable=False),
    Column("approver_groups", Text, nullable=False),  # JSON list
    Column("approve", Boolean, nullable=False),
    Column("reason", Text),
    Column("break_glass", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("request_id", "approver"),
    Index(None, "at"),
)


class RequestNotPending(StoreError):
    """The request is already decided, expired or withdrawn."""


class AlreadyDecided(StoreError):
    """This reviewer has already answered this request."""


def new_request_id() -> str:
    return "apr_" + secrets.token_hex(6)


def new_grant_id() -> str:
    return "grt_" + secrets.token_hex(8)


def _now() -> datetime:
    return datetime.now(UTC)


def _names(values: frozenset[str]) -> str:
    return json.dumps(sorted(values))


def _names_of(text: str) -> frozenset[str]:
    return frozenset(json.loads(text))


# (request as stored, decision being added) -> the status the request has after it
StatusRule = Callable[[ApprovalRequest], RequestStatus]


class ApprovalStore(TablesOnStore):
    """The approvals tables, on the same database (and connections) as a ``SqlStore``."""

    # -- requests -------------------------------------------------------------------------------

    def create_request(self, request: ApprovalRequest) -> None:
        with self._tx(write=True) as conn:
            conn.execute(
                insert(approval_requests).values(
                    id=request.id,
                    kind=request.kind.value,
                    status=request.status.value,
                    requester=request.requester,
                    requester_groups=_names(request.requester_groups),
                    requester_persons=_names(request.requester_persons),
                    connection=request.connection,
                    workflow=request.workflow,
                    session_id=request.session_id,
                    statement_text=request.statement_text,
                    statement_hash=request.statement_hash,
                    rule=request.rule,
                    reason=request.reason,
                    scope=request.scope.value,
                    duration_seconds=request.duration_seconds,
                    created_at=request.created_at,
                    expires_at=request.expires_at,
                    decided_at=request.decided_at,
                )
            )
            notify_change(conn, request.id)  # the live feeds of other workers

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        with self._tx() as conn:
            return self._load(conn, request_id)

    def list_requests(
        self,
        *,
        status: RequestStatus | None = None,
        requester: str | None = None,
        session_id: str | None = None,
        limit: int = 100,
    ) -> list[ApprovalRequest]:
        query = select(approval_requests).order_by(approval_requests.c.created_at.desc())
        if status is not None:
            query = query.where(approval_requests.c.status == status.value)
        if requester is not None:
            query = query.where(approval_requests.c.requester == requester)
        if session_id is not None:
            query = query.where(approval_requests.c.session_id == session_id)
        with self._tx() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
            decisions = self._decisions(conn, [row["id"] for row in rows])
        return [_request(row, decisions.get(row["id"], ())) for row in rows]

    def decide(
        self,
        request_id: str,
        decision: Decision,
        status_after: StatusRule,
        scope: Scope | None = None,
    ) -> ApprovalRequest:
        """Add one reviewer's decision and settle the status, atomically.

        ``status_after`` gets the request with the new decision included and says what its
        status becomes (still pending until enough approvals). Raises `RequestNotPending`,
        `AlreadyDecided`, or `StoreError` for an unknown id.
        """
        with self._tx(write=True) as conn:
            current = self._load(conn, request_id, lock=True)
            if current is None:
                raise StoreError(f"no approval request {request_id}")
            if current.status is not RequestStatus.PENDING:
                raise RequestNotPending(f"request {request_id} is {current.status.value}")
            if current.expires_at <= decision.at:
                self._set_status(conn, request_id, RequestStatus.EXPIRED, decision.at)
                raise RequestNotPending(f"request {request_id} has expired")
            # The request row is locked (FOR UPDATE; SQLite writers are serialised), so this
            # check cannot race another decision by the same reviewer.
            if any(d.approver == decision.approver for d in current.decisions):
                raise AlreadyDecided(
                    f"{decision.approver} has already decided request {request_id}"
                )
            conn.execute(
                insert(approval_decisions).values(
                    request_id=request_id,
                    approver=decision.approver,
                    approver_groups=_names(decision.approver_groups),
                    approve=decision.approve,
                    reason=decision.reason,
                    break_glass=decision.break_glass,
                    at=decision.at,
                )
            )
            updated = _replace(current, decisions=(*current.decisions, decision))
            status = status_after(updated)
            if status is not RequestStatus.PENDING:
                self._set_status(conn, request_id, status, decision.at)
                updated = _replace(updated, status=status, decided_at=decision.at)
            if scope is not None and decision.approve and scope is not updated.scope:
                # The reviewer widened (or narrowed) what an approval covers.
                conn.execute(
                    update(approval_requests)
                    .where(approval_requests.c.id == request_id)
                    .values(scope=scope.value)
                )
                updated = _replace(updated, scope=scope)
            notify_change(conn, request_id)
            return updated

    def changed_since(self, since: datetime, limit: int = 500) -> list[ApprovalRequest]:
        """Requests made, decided (also partly: one approval of several) or settled at or
        after ``since``, oldest change first (the API's live stream polls this)."""
        r, d = approval_requests.c, approval_decisions.c
        decided = select(d.request_id).where(d.at >= since)
        query = (
            select(approval_requests)
            .where(or_(r.created_at >= since, r.decided_at >= since, r.id.in_(decided)))
            .order_by(r.created_at)
            .limit(limit)
        )
        with self._tx() as conn:
            rows = conn.execute(query).mappings().all()
            decisions = self._decisions(conn, [row["id"] for row in rows])
        return [_request(row, decisions.get(row["id"], ())) for row in rows]

    def finish(
        self, request_id: str, status: RequestStatus, at: datetime | None = None
    ) -> ApprovalRequest | None:
        """Expire or withdraw a pending request. None when it was no longer pending."""
        at = at or _now()
        with self._tx(write=True) as conn:
            done = self._set_status(conn, request_id, status, at)
            if not done:
                return None
            notify_change(conn, request_id)
            return self._load(conn, request_id)

    def expire_due(self, now: datetime | None = None) -> list[ApprovalRequest]:
        """Mark every pending request past its expiry as expired; return them."""
        now = now or _now()
        with self._tx(write=True) as conn:
            ids = (
                conn.execute(
                    select(approval_requests.c.id).where(
                        approval_requests.c.status == RequestStatus.PENDING.value,
                        approval_requests.c.expires_at <= now,
                    )
                )
                .scalars()
                .all()
            )
            for request_id in ids:
                if self._set_status(conn, request_id, RequestStatus.EXPIRED, now):
                    notify_change(conn, request_id)
            return [r for r in (self._load(conn, i) for i in ids) if r is not None]

    def _set_status(
        self, conn: Connection, request_id: str, status: RequestStatus, at: datetime
    ) -> bool:
        result = conn.execute(
            update(approval_requests)
            .where(
                approval_requests.c.id == request_id,
                approval_requests.c.status == RequestStatus.PENDING.value,
            )
            .values(status=status.value, decided_at=at)
        )
        return bool(result.rowcount)

    def _load(
        self, conn: Connection, request_id: str, lock: bool = False
    ) -> ApprovalRequest | None:
        query = select(approval_requests).where(approval_requests.c.id == request_id)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return _request(row, self._decisions(conn, [request_id]).get(request_id, ()))

    @staticmethod
    def _decisions(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[Decision, ...]]:
        if not ids:
            return {}
        rows = conn.execute(
            select(approval_decisions)
            .where(approval_decisions.c.request_id.in_(list(ids)))
            .order_by(approval_decisions.c.at)
        ).mappings()
        out: dict[str, list[Decision]] = {}
        for row in rows:
            out.setdefault(row["request_id"], []).append(
                Decision(
                    approver=row["approver"],
                    approve=bool(row["approve"]),
                    reason=row["reason"],
                    at=row["at"],
                    approver_groups=_names_of(row["approver_groups"]),
                    break_glass=bool(row["break_glass"]),
                )
            )
        return {k: tuple(v) for k, v in out.items()}

    # -- just-in-time grants --------------------------------------------------------------------

    def create_grant(self, grant: AccessGrant) -> None:
        with self._tx(write=True) as conn:
            conn.execute(
                insert(access_grants).values(
                    id=grant.id,
                    subject=grant.subject,
                    connection=grant.connection,
                    granted_by=grant.granted_by,
                    reason=grant.reason,
                    starts_at=grant.starts_at,
                    expires_at=grant.expires_at,
                    revoked_at=grant.revoked_at,
                    created_at=_now(),
                    request_id=grant.request_id,
                )
            )

    def grants(
        self,
        *,
        subject: str | None = None,
        connection: str | None = None,
        active_at: datetime | None = None,
        limit: int = 500,
    ) -> list[AccessGrant]:
        c = access_grants.c
        query = select(access_grants).order_by(c.starts_at.desc())
        if subject is not None:
            query = query.where(c.subject == subject)
        if connection is not None:
            query = query.where(c.connection == connection)
        if active_at is not None:
            query = query.where(
                c.revoked_at.is_(None), c.starts_at <= active_at, c.expires_at > active_at
            )
        with self._tx() as conn:
            return [_grant(row) for row in conn.execute(query.limit(limit)).mappings()]

    def grants_by_id(self, ids: Sequence[str]) -> list[AccessGrant]:
        if not ids:
            return []
        query = select(access_grants).where(access_grants.c.id.in_(list(ids)))
        with self._tx() as conn:
            return [_grant(row) for row in conn.execute(query).mappings()]

    def get_grant(self, grant_id: str) -> AccessGrant | None:
        found = self.grants_by_id([grant_id])
        return found[0] if found else None

    def revoke_grant(self, grant_id: str, at: datetime | None = None) -> bool:
        with self._tx(write=True) as conn:
            result = conn.execute(
                update(access_grants)
                .where(access_grants.c.id == grant_id, access_grants.c.revoked_at.is_(None))
                .values(revoked_at=at or _now())
            )
            if result.rowcount:
                # Sessions admitted by the grant end at once on every worker and replica.
                notify_change(conn, grant_id)
            return bool(result.rowcount)


def _replace(request: ApprovalRequest, **changes: Any) -> ApprovalRequest:
    return dataclasses.replace(request, **changes)


def _request(row: RowMapping, decisions: Sequence[Decision]) -> ApprovalRequest:
    return ApprovalRequest(
        id=row["id"],
        kind=RequestKind(row["kind"]),
        status=RequestStatus(row["status"]),
        requester=row["requester"],
        connection=row["connection"],
        workflow=row["workflow"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        requester_groups=_names_of(row["requester_groups"]),
        requester_persons=_names_of(row["requester_persons"]),
        session_id=row["session_id"],
        statement_text=row["statement_text"],
        statement_hash=row["statement_hash"],
        rule=row["rule"],
        reason=row["reason"],
        scope=Scope(row["scope"]),
        duration_seconds=row["duration_seconds"],
        decided_at=row["decided_at"],
        decisions=tuple(decisions),
    )


def _grant(row: RowMapping) -> AccessGrant:
    return AccessGrant(
        id=row["id"],
        subject=row["subject"],
        connection=row["connection"],
        granted_by=row["granted_by"],
        starts_at=row["starts_at"],
        expires_at=row["expires_at"],
        request_id=row["request_id"],
        reason=row["reason"],
        revoked_at=row["revoked_at"],
    )
