"""Held statements waiting for reviewers: the asyncio side of `proctor.approvals`.

A held statement waits on an event that a decision made through this worker sets at once
(the REST API and the CLI's calls land on some worker's HTTP listener); decisions made
through another worker or gateway are seen by polling the store every ``poll_interval``.
Store calls run in threads: the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from proctor.approvals.service import ApprovalService, Publish
from proctor.config import ProctorConfig
from proctor.model import ApprovalRequest, Identity
from proctor.policy import Policy
from proctor.store import SqlStore
from proctor.store.approvals import ApprovalStore
from proctor.store.interfaces import Store

log = logging.getLogger("proctor.approvals")


class ServerReviews:
    """Implements ``proctor.adapters.postgres.ports.Reviews`` for one worker."""

    def __init__(self, service: ApprovalService, policy: Policy, poll_interval: float) -> None:
        self.service = service
        self._policy = policy
        self._poll = max(0.05, poll_interval)
        self._waiters: dict[str, asyncio.Event] = {}

    def wake(self, request_id: str) -> None:
        """A decision was just made here: the held statement need not wait for the poll."""
        event = self._waiters.get(request_id)
        if event is not None:
            event.set()

    def url(self, request_id: str) -> str | None:
        return self.service.url(request_id)

    def still_needed(self, request: ApprovalRequest) -> str:
        return self.service.still_needed(request)

    async def request(
        self,
        *,
        identity: Identity,
        connection: str,
        session_id: str,
        text: str,
        redacted_text: str,
        rule: str | None,
        workflow: str | None,
    ) -> ApprovalRequest:
        if workflow is None and rule is not None:
            found = self._policy.rule(rule)
            workflow = found.workflow if found is not None else None
        return await asyncio.to_thread(
            self.service.request_statement,
            identity=identity,
            connection=connection,
            session_id=session_id,
            text=text,
            redacted_text=redacted_text,
            rule=rule,
            workflow=workflow,
        )

    async def wait(self, request_id: str, expires_at: datetime) -> ApprovalRequest:
        event = self._waiters.setdefault(request_id, asyncio.Event())
        try:
            while True:
                current = await asyncio.to_thread(self.service.get, request_id)
                if current is None:
                    raise LookupError(f"approval request {request_id} disappeared")
                if current.status.final:
                    return current
                left = (expires_at - datetime.now(UTC)).total_seconds()
                if left <= 0:
                    await asyncio.to_thread(self.service.expire, request_id)
                    continue  # re-read: a decision may have won the race
                event.clear()
                try:
                    async with asyncio.timeout(min(self._poll, left)):
                        await event.wait()
                except TimeoutError:
                    pass
        finally:
            self._waiters.pop(request_id, None)

    async def withdraw(self, request_id: str, by: str) -> None:
        await asyncio.to_thread(self.service.withdraw, request_id, by)

    async def expire_loop(self, interval: float = 5.0) -> None:
        """Expire requests nobody waits for any more (their gateway went away)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.service.expire_due)
            except Exception:
                log.exception("approval_expiry_failed")


def build_reviews(
    config: ProctorConfig,
    store: Store,
    policy: Policy,
    public_url: str,
    publish: Publish | None = None,
) -> ServerReviews | None:
    """The worker's reviews; None when the store cannot hold approvals (not a SQL store)."""
    if not isinstance(store, SqlStore):
        return None
    service = ApprovalService(
        ApprovalStore(store), config.approvals, publish=publish, public_url=public_url
    )
    return ServerReviews(service, policy, config.approvals.poll_interval)
