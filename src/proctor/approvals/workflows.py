"""Who may decide a request, and when a request is settled.

Pure functions over the configuration and the request: the store applies them inside the
transaction that records a decision.
"""

from __future__ import annotations

from collections.abc import Mapping

from proctor.config.approvals import WorkflowConfig
from proctor.model import ApprovalRequest, Identity, RequestStatus

# Claims by which a machine identity names the person it acts for (RFC 8693 ``act`` names
# the actor; ``on_behalf_of``/``owner`` are what workload rules and agents commonly set).
_FOR_PERSON_CLAIMS = ("on_behalf_of", "owner", "requested_by")


def persons(identity: Identity) -> frozenset[str]:
    """Keys naming the person behind an identity: its subject, its e-mail, and the person
    a machine identity acts for. Separation of duties compares these sets."""
    keys = {f"subject:{identity.subject}"}
    if identity.email:
        keys.add(f"email:{identity.email.strip().lower()}")
    claims: Mapping[str, object] = identity.claims or {}
    act = claims.get("act")
    if isinstance(act, Mapping) and isinstance(act.get("sub"), str):
        keys.add(f"subject:{act['sub']}")
    for name in _FOR_PERSON_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str) and value:
            keys.add(f"email:{value.lower()}" if "@" in value else f"subject:{value}")
    return frozenset(keys)


def is_approver(workflow: WorkflowConfig, identity: Identity) -> bool:
    approvers = workflow.approvers
    return identity.subject in approvers.subjects or bool(
        identity.groups & frozenset(approvers.groups)
    )


def refusal(
    workflow: WorkflowConfig,
    workflow_name: str,
    request: ApprovalRequest,
    approver: Identity,
    *,
    approve: bool,
    reason: str | None,
    break_glass: bool,
) -> str | None:
    """Why ``approver`` may not make this decision, or None when they may."""
    own = bool(persons(approver) & request.requester_persons)
    if break_glass:
        if not approve:
            return "break-glass is for approving your own request; to give up, withdraw it"
        if not own:
            return "break-glass is only for your own request; approve it normally"
        if not workflow.break_glass:
            return f"workflow {workflow_name} does not allow break-glass approval"
        if not (reason and reason.strip()):
            return "break-glass approval needs a reason"
        return None
    if own:
        return (
            "requesters may not decide their own requests (separation of duties), "
            "also not through another identity of the same person"
        )
    if not is_approver(workflow, approver):
        who = ", ".join(
            [*(f"group {g}" for g in workflow.approvers.groups), *workflow.approvers.subjects]
        )
        return f"{approver.subject} is not an approver for workflow {workflow_name} ({who})"
    if workflow.reason_required and not (reason and reason.strip()):
        return f"workflow {workflow_name} requires a reason"
    return None


def status_after(workflow: WorkflowConfig, request: ApprovalRequest) -> RequestStatus:
    """The status once ``request.decisions`` are in: one denial denies; a break-glass
    approval approves; otherwise enough approvals, one from each ``all_of`` group."""
    if any(not d.approve for d in request.decisions):
        return RequestStatus.DENIED
    approvals = request.approvals
    if any(d.break_glass for d in approvals):
        return RequestStatus.APPROVED
    if len(approvals) < workflow.min_approvals:
        return RequestStatus.PENDING
    for group in workflow.all_of:
        if not any(group in d.approver_groups for d in approvals):
            return RequestStatus.PENDING
    return RequestStatus.APPROVED


def still_needed(workflow: WorkflowConfig, request: ApprovalRequest) -> str:
    """What a pending request still waits for, in words (for notices and the CLI)."""
    approvals = request.approvals
    missing = max(0, workflow.min_approvals - len(approvals))
    groups = [g for g in workflow.all_of if not any(g in d.approver_groups for d in approvals)]
    parts = []
    if missing:
        parts.append(f"{missing} more approval{'s' if missing != 1 else ''}")
    if groups:
        parts.append("one from each of: " + ", ".join(groups))
    return "; ".join(parts) or "nothing"
