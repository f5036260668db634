"""A statement held for review on a live session, and what the client is told about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from proctor.codecs.pgwire import Message
from proctor.model import ApprovalRequest, RequestStatus, Statement, Verdict


@dataclass(slots=True)
class Held:
    """The held command, the messages that came after it in the same read (not yet judged:
    nothing overtakes a held command), and bytes the client sent since."""

    msg: Message
    text: str
    statement: Statement | None
    verdict: Verdict
    rest: list[Message]
    buffered: bytearray = field(default_factory=bytearray)
    request: ApprovalRequest | None = None


def waiting_notice(request: ApprovalRequest, url: str | None, still_needed: str) -> str:
    """The NoticeResponse text psql prints while the statement waits."""
    rule = f'rule "{request.rule}"' if request.rule else "policy"
    where = f", approve at {url}" if url else ""
    wait = max(0, int((request.expires_at - datetime.now(UTC)).total_seconds()))
    return (
        f"approval required by {rule}: request {request.id}{where}, waiting up to "
        f"{_duration(wait)} (needs {still_needed}; a reviewer runs "
        f"`proctor approvals approve {request.id} --reason …`; cancel to withdraw)"
    )


def outcome_error(request: ApprovalRequest) -> tuple[str, str | None]:
    """Message and detail of the error a held statement gets when it will not run."""
    status = request.status
    denial = next((d for d in request.decisions if not d.approve), None)
    if status is RequestStatus.DENIED and denial is not None:
        why = f": {denial.reason}" if denial.reason else ""
        return (
            f"request {request.id} was denied by {denial.approver}{why}",
            "The statement was not run.",
        )
    if status is RequestStatus.EXPIRED:
        return (
            f"request {request.id} expired before enough reviewers approved it",
            "The statement was not run.",
        )
    if status is RequestStatus.WITHDRAWN:
        return (f"request {request.id} was withdrawn", "The statement was not run.")
    return (f"request {request.id} is {status.value}", "The statement was not run.")


def approval_record(request: ApprovalRequest) -> str:
    """What the session's record says about a settled request (evidence: who, why)."""
    parts = [f"request {request.id} {request.status.value}"]
    for d in request.decisions:
        verb = "approved" if d.approve else "denied"
        flag = " (break-glass)" if d.break_glass else ""
        reason = f": {d.reason}" if d.reason else ""
        parts.append(f"{verb} by {d.approver}{flag} at {d.at.isoformat()}{reason}")
    if request.statement_hash:
        parts.append(f"statement sha256 {request.statement_hash}")
    return "; ".join(parts)


def _duration(seconds: int) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds % 60 else f"{seconds // 60}m"
    return f"{seconds}s"
