"""Held statements waiting for reviewers: the asyncio side of `proctor.approvals`.

A held statement waits on an event that is set when its request may have changed:

- at once by a decision made through this worker (the REST API, the CLI's calls and Slack's
  button clicks land on some worker's HTTP listener: ``wake``);
- promptly, on a PostgreSQL store, by a decision made through any other worker or gateway:
  the store announces every change with NOTIFY and the worker's ``StoreListener`` calls
  ``changed_elsewhere`` with the request id (``wake_all`` after it reconnects, for what it
  missed), which also makes the API's live feed poll at once;
- otherwise by polling the store every ``poll_interval`` (SQLite, or while the LISTEN
  connection is down).

Whatever set the event, the waiter re-reads the request from the store: a notice is only a
hint to look now, never the decision itself. Store calls run in threads: the event loop
never waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
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
        self._change_listeners: list[Callable[[], None]] = []

    def wake(self, request_id: str) -> None:
        """A decision was just made here: the held statement need not wait for the poll."""
        event = self._waiters.get(request_id)
        if event is not None:
            event.set()

    def add_change_listener(self, listener: Callable[[], None]) -> None:
        """Also call ``listener`` (on the event loop) when another process changed a request:
        the API's live feed then polls the store at once."""
        self._change_listeners.append(listener)

    def changed_elsewhere(self, request_id: str) -> None:
        """A store notice: another worker or gateway changed this request."""
        self.wake(request_id)
        self._tell_listeners()

    def wake_all(self) -> None:
        """Every held statement looks at the store now (notices may have been missed)."""
        for event in list(self._waiters.values()):
            event.set()
        self._tell_listeners()

    def _tell_listeners(self) -> None:
        for listener in self._change_listeners:
            listener()

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
                # Cleared before the read, not after: a wake-up arriving while the store is
                # read must leave the event set, or the change waits for the next poll.
                event.clear()
                current = await asyncio.to_thread(self.service.get, request_id)
                if current is None:
                    raise LookupError(f"approval request {request_id} disappeared")
                if current.status.final:
                    return current
                left = (expires_at - datetime.now(UTC)).total_seconds()
                if left <= 0:
                    await asyncio.to_thread(self.service.expire, request_id)
                    continue  # re-read: a decision may have won the race
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
