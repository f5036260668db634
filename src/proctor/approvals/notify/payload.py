"""What every channel says about an event: the request as JSON, a title, a few facts.

Only fields chosen here leave the gateway. The request's ``requester_persons`` (who a machine
identity acts for, used for separation of duties) stays inside: it may hold e-mail addresses
the receivers have no need for. The statement text is already redacted by the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proctor.model.approval import ApprovalEvent, ApprovalRequest, Decision

# Event type -> the headline people read (chat, mail). Unknown types get a generic one so a
# type added to the core later is still delivered.
_TITLES = {
    "requested": "Approval requested",
    "decision": "Approval recorded (more needed)",
    "approved": "Request approved",
    "denied": "Request denied",
    "expired": "Request expired",
    "withdrawn": "Request withdrawn",
    "break_glass": "BREAK-GLASS self-approval",
}
MAX_STATEMENT_CHARS = 2000  # chat blocks and cards have limits; the webhook gets it all


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def request_json(request: ApprovalRequest) -> dict[str, Any]:
    """The request as receivers see it (the ``data`` of the CloudEvent)."""
    return {
        "id": request.id,
        "kind": request.kind.value,
        "status": request.status.value,
        "requester": request.requester,
        "requester_groups": sorted(request.requester_groups),
        "connection": request.connection,
        "workflow": request.workflow,
        "session_id": request.session_id,
        "statement": request.statement_text,
        "statement_hash": request.statement_hash,
        "rule": request.rule,
        "reason": request.reason,
        "scope": request.scope.value,
        "duration_seconds": request.duration_seconds,
        "created_at": timestamp(request.created_at),
        "expires_at": timestamp(request.expires_at),
        "decided_at": timestamp(request.decided_at) if request.decided_at else None,
        "decisions": [_decision_json(d) for d in request.decisions],
    }


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "approver": decision.approver,
        "approve": decision.approve,
        "reason": decision.reason,
        "at": timestamp(decision.at),
        "approver_groups": sorted(decision.approver_groups),
        "break_glass": decision.break_glass,
    }


@dataclass(frozen=True, slots=True)
class Summary:
    """An event told for people: a title, label/value facts, the statement, a link."""

    title: str
    facts: tuple[tuple[str, str], ...]
    statement: str | None
    url: str | None
    request_id: str
    asks_for_decision: bool  # whether reviewers are asked to act (buttons, links)

    @property
    def headline(self) -> str:
        """One line for notification previews and mail subjects."""
        facts = dict(self.facts)
        return f"{self.title}: {facts['Requester']} on {facts['Connection']} ({self.request_id})"


def summarize(event: ApprovalEvent) -> Summary:
    request = event.request
    facts: list[tuple[str, str]] = [
        ("Requester", request.requester),
        ("Connection", request.connection),
        ("Kind", request.kind.value),
        ("Workflow", request.workflow),
    ]
    if request.rule:
        facts.append(("Rule", request.rule))
    if request.duration_seconds:
        facts.append(("Duration", _duration(request.duration_seconds)))
    if request.reason:
        facts.append(("Reason", request.reason))
    if event.actor and event.type != "requested":
        facts.append(("By", event.actor))
    last = request.decisions[-1] if request.decisions else None
    if last is not None and last.reason and event.type in ("approved", "denied", "break_glass"):
        facts.append(("Decision reason", last.reason))
    facts.append(("Expires", timestamp(request.expires_at)))
    statement = request.statement_text
    if statement is not None and len(statement) > MAX_STATEMENT_CHARS:
        statement = statement[:MAX_STATEMENT_CHARS] + " …(truncated)"
    return Summary(
        title=_TITLES.get(event.type, f"Approval event: {event.type}"),
        facts=tuple(facts),
        statement=statement,
        # Only a web link becomes a button or href; anything else is dropped, not rendered.
        url=event.url if event.url and event.url.startswith(("https://", "http://")) else None,
        request_id=request.id,
        asks_for_decision=event.type in ("requested", "decision") and not request.status.final,
    )


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours}h{minutes}m"
    if hours:
        return f"{hours}h"
    return f"{minutes or 1}m"
