"""Approval requests, decisions and just-in-time access grants (values only)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class RequestKind(enum.StrEnum):
    STATEMENT = "statement"  # one held statement on a live session
    ACCESS = "access"  # just-in-time access to a connection for a while


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the requester gave up (client cancel, session closed)

    @property
    def final(self) -> bool:
        return self is not RequestStatus.PENDING


class Scope(enum.StrEnum):
    STATEMENT = "statement"  # this one execution
    SESSION = "session"  # the identical statement for the rest of the session


@dataclass(frozen=True, slots=True)
class Decision:
    """One reviewer's answer. ``break_glass``: a self-approval the workflow allows only with a
    reason, always flagged and notified."""

    approver: str
    approve: bool
    reason: str | None
    at: datetime
    approver_groups: frozenset[str] = frozenset()
    break_glass: bool = False


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    id: str  # apr_… (not a secret: shown to the requester and reviewers)
    kind: RequestKind
    status: RequestStatus
    requester: str  # subject
    connection: str
    workflow: str
    created_at: datetime
    expires_at: datetime
    requester_groups: frozenset[str] = frozenset()
    # Who the requester is as a person (subject, e-mail, the human a machine acts for):
    # separation of duties compares these, not just subjects.
    requester_persons: frozenset[str] = frozenset()
    session_id: str | None = None
    statement_text: str | None = None  # redacted text, for reviewers
    statement_hash: str | None = None  # SHA-256 of the exact text run (evidence)
    rule: str | None = None  # the policy rule that asked for review
    reason: str | None = None  # the requester's reason (JIT access, break-glass)
    scope: Scope = Scope.STATEMENT
    duration_seconds: int | None = None  # JIT access: how long the grant lasts
    decided_at: datetime | None = None
    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    @property
    def approvals(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.approve)


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """A time-boxed permission to use a connection, made by an approved access request."""

    id: str
    subject: str
    connection: str
    granted_by: str
    starts_at: datetime
    expires_at: datetime
    request_id: str | None = None
    reason: str | None = None
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.starts_at <= now < self.expires_at


@dataclass(frozen=True, slots=True)
class ApprovalEvent:
    """What notifications and the SSE stream carry: a request and what just happened to it.

    ``type``: ``requested``, ``approved``, ``denied``, ``expired``, ``withdrawn``,
    ``decision`` (one approval of several needed), ``break_glass``. ``url``: where a reviewer
    acts on it (the gateway's public URL), when known.
    """

    type: str
    request: ApprovalRequest
    at: datetime
    actor: str | None = None
    url: str | None = None
