"""Approval events for the notification tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from proctor.model.approval import (
    ApprovalEvent,
    ApprovalRequest,
    Decision,
    RequestKind,
    RequestStatus,
)

CREATED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
APPROVE_URL = "https://proctor.example/approvals/apr_7Qx"
STATEMENT = "UPDATE payments SET status='refunded' WHERE id=42"


def request(**changes: object) -> ApprovalRequest:
    base = ApprovalRequest(
        id="apr_7Qx",
        kind=RequestKind.STATEMENT,
        status=RequestStatus.PENDING,
        requester="alice",
        connection="shop",
        workflow="payments-change",
        created_at=CREATED,
        expires_at=CREATED + timedelta(minutes=15),
        requester_groups=frozenset({"dev"}),
        requester_persons=frozenset({"alice", "alice@example.com"}),
        session_id="ses_1",
        statement_text=STATEMENT,
        statement_hash="ab" * 32,
        rule="review-payments",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def event(kind: str = "requested", **changes: object) -> ApprovalEvent:
    req = request(**changes)
    actor = None
    if kind in ("approved", "denied", "break_glass", "decision"):
        approve = kind != "denied"
        decision = Decision(
            approver="bob" if kind != "break_glass" else "alice",
            approve=approve,
            reason="ticket 7",
            at=CREATED + timedelta(minutes=2),
            approver_groups=frozenset({"dba"}),
            break_glass=kind == "break_glass",
        )
        status = {
            "approved": RequestStatus.APPROVED,
            "break_glass": RequestStatus.APPROVED,
            "denied": RequestStatus.DENIED,
        }.get(kind, RequestStatus.PENDING)
        req = replace(req, status=status, decisions=(decision,), decided_at=decision.at)
        actor = decision.approver
    return ApprovalEvent(
        type=kind, request=req, at=CREATED + timedelta(minutes=2), actor=actor, url=APPROVE_URL
    )
