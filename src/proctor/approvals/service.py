"""Approvals: requests are made, decided, expired and withdrawn here (no sockets, no asyncio).

The gateway (held statements), the REST API and the CLI all go through `ApprovalService`, so
the rules — who may decide, separation of duties, expiry, what gets notified — live in one
place. Store calls are synchronous; async callers run them in a thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from proctor.approvals import workflows as wf
from proctor.config.approvals import ApprovalsConfig, WorkflowConfig
from proctor.model import (
    AccessGrant,
    ApprovalEvent,
    ApprovalRequest,
    Decision,
    Identity,
    RequestKind,
    RequestStatus,
    Scope,
)
from proctor.store.approvals import (
    AlreadyDecided,
    ApprovalStore,
    RequestNotPending,
    new_grant_id,
    new_request_id,
)

Publish = Callable[[ApprovalEvent], None]


def unknown_workflows(config: ApprovalsConfig, named: frozenset[str]) -> list[str]:
    """Workflows the policy's review rules name that the configuration does not declare."""
    return sorted(named - config.workflow_names())


class DecisionRefused(Exception):
    """The decision is not allowed or no longer possible (the message is safe to show)."""


class DecisionConflict(DecisionRefused):
    """The request is no longer pending, or this reviewer has already answered it (the API
    answers 409 Conflict rather than 403)."""


class RequestRefused(Exception):
    """An access request that cannot be made (the message is safe to show)."""


def statement_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ApprovalService:
    def __init__(
        self,
        store: ApprovalStore,
        config: ApprovalsConfig,
        *,
        publish: Publish | None = None,
        public_url: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.config = config
        self._publish = publish
        self._public_url = public_url.rstrip("/") if public_url else None
        self._now = clock

    # -- helpers --------------------------------------------------------------------------------

    def workflow(self, name: str | None) -> tuple[str, WorkflowConfig]:
        chosen = name or self.config.default_workflow
        return chosen, self.config.workflow(chosen)

    def subscribe(self, listener: Publish) -> None:
        """Also hand every event to ``listener`` (the API's live stream), besides the
        publisher given at construction. Listeners must be quick and must not raise."""
        first = self._publish
        if first is None:
            self._publish = listener
            return

        def both(event: ApprovalEvent) -> None:
            listener(event)
            first(event)

        self._publish = both

    def url(self, request_id: str) -> str | None:
        return f"{self._public_url}/approvals/{request_id}" if self._public_url else None

    def _event(self, kind: str, request: ApprovalRequest, actor: str | None = None) -> None:
        if self._publish is not None:
            self._publish(
                ApprovalEvent(kind, request, self._now(), actor=actor, url=self.url(request.id))
            )

    # -- making requests ------------------------------------------------------------------------

    def request_statement(
        self,
        *,
        identity: Identity,
        connection: str,
        session_id: str | None,
        text: str,
        redacted_text: str,
        rule: str | None,
        workflow: str | None,
    ) -> ApprovalRequest:
        return self._open(
            identity,
            RequestKind.STATEMENT,
            connection,
            workflow,
            session_id=session_id,
            statement_text=redacted_text,
            statement_hash=statement_hash(text),
            rule=rule,
        )

    def request_access(
        self, *, identity: Identity, connection: str, duration: timedelta, reason: str | None
    ) -> ApprovalRequest:
        access = self.config.access
        if duration.total_seconds() <= 0:
            raise RequestRefused("the duration must be above zero")
        if duration.total_seconds() > access.max_duration:
            raise RequestRefused(
                f"at most {timedelta(seconds=access.max_duration)} may be requested"
            )
        if access.reason_required and not (reason and reason.strip()):
            raise RequestRefused("access requests need a reason (--reason)")
        return self._open(
            identity,
            RequestKind.ACCESS,
            connection,
            access.workflow,
            reason=reason,
            duration_seconds=int(duration.total_seconds()),
        )

    def _open(
        self,
        identity: Identity,
        kind: RequestKind,
        connection: str,
        workflow: str | None,
        **details: Any,
    ) -> ApprovalRequest:
        """Store a new pending request (expiring per its workflow) and announce it."""
        name, flow = self.workflow(workflow)
        now = self._now()
        request = ApprovalRequest(
            id=new_request_id(),
            kind=kind,
            status=RequestStatus.PENDING,
            requester=identity.subject,
            connection=connection,
            workflow=name,
            created_at=now,
            expires_at=now + timedelta(seconds=flow.expires),
            requester_groups=identity.groups,
            requester_persons=wf.persons(identity),
            **details,
        )
        self.store.create_request(request)
        self._event("requested", request, actor=identity.subject)
        return request

    # -- deciding -------------------------------------------------------------------------------

    def decide(
        self,
        request_id: str,
        approver: Identity,
        *,
        approve: bool,
        reason: str | None = None,
        break_glass: bool = False,
        scope: Scope | None = None,
    ) -> ApprovalRequest:
        current = self.store.get_request(request_id)
        if current is None:
            raise DecisionRefused(f"no approval request {request_id}")
        name, flow = current.workflow, self.config.workflow(current.workflow)
        why = wf.refusal(
            flow,
            name,
            current,
            approver,
            approve=approve,
            reason=reason,
            break_glass=break_glass,
        )
        if why is not None:
            raise DecisionRefused(why)
        if scope is Scope.SESSION and not flow.allow_session_scope:
            raise DecisionRefused(f"workflow {name} allows approving single statements only")
        decision = Decision(
            approver=approver.subject,
            approve=approve,
            reason=reason,
            at=self._now(),
            approver_groups=approver.groups,
            break_glass=break_glass,
        )
        try:
            updated = self.store.decide(
                request_id, decision, lambda r: wf.status_after(flow, r), scope=scope
            )
        except (RequestNotPending, AlreadyDecided) as exc:
            raise DecisionConflict(str(exc)) from None
        if break_glass:
            self._event("break_glass", updated, actor=approver.subject)
        if updated.status is RequestStatus.APPROVED:
            if updated.kind is RequestKind.ACCESS:
                self._grant(updated, approver.subject)
            self._event("approved", updated, actor=approver.subject)
        elif updated.status is RequestStatus.DENIED:
            self._event("denied", updated, actor=approver.subject)
        else:
            self._event("decision", updated, actor=approver.subject)
        return updated

    def _grant(self, request: ApprovalRequest, approver: str) -> AccessGrant:
        now = self._now()
        grant = AccessGrant(
            id=new_grant_id(),
            subject=request.requester,
            connection=request.connection,
            granted_by=approver,
            starts_at=now,
            expires_at=now + timedelta(seconds=request.duration_seconds or 0),
            request_id=request.id,
            reason=request.reason,
        )
        self.store.create_grant(grant)
        return grant

    def withdraw(self, request_id: str, by: str) -> ApprovalRequest | None:
        """The requester gives up (client cancel, session closed). None if already settled."""
        done = self.store.finish(request_id, RequestStatus.WITHDRAWN, self._now())
        if done is not None:
            self._event("withdrawn", done, actor=by)
        return done

    def expire(self, request_id: str) -> ApprovalRequest | None:
        """Expire one pending request (its wait is over). None if already settled."""
        done = self.store.finish(request_id, RequestStatus.EXPIRED, self._now())
        if done is not None:
            self._event("expired", done)
        return done

    def expire_due(self) -> list[ApprovalRequest]:
        expired = self.store.expire_due(self._now())
        for request in expired:
            self._event("expired", request)
        return expired

    def get(self, request_id: str) -> ApprovalRequest | None:
        return self.store.get_request(request_id)

    def pending_for(self, identity: Identity) -> list[ApprovalRequest]:
        """Pending requests this identity could decide (not their own)."""
        out = []
        for request in self.store.list_requests(status=RequestStatus.PENDING):
            flow = self.config.workflow(request.workflow)
            if wf.is_approver(flow, identity) and not (
                wf.persons(identity) & request.requester_persons
            ):
                out.append(request)
        return out

    def still_needed(self, request: ApprovalRequest) -> str:
        return wf.still_needed(self.config.workflow(request.workflow), request)
