"""The live feed of approval request changes behind ``GET /api/approvals/events`` (SSE).

Theory of operation. A gateway runs several worker processes (and maybe several replicas);
a request can be made, decided or settled through any of them. Each worker's feed therefore
has two sources:

- pushes: the worker's own `ApprovalService` publishes every event it makes (a request, a
  decision, an expiry, a withdrawal); they reach this worker's streams at once. The service
  may publish from any thread (store calls run in threads), so a push hops onto the event
  loop with ``call_soon_threadsafe``.
- polls: while at least one stream is open, the store is asked every ``poll_interval`` for
  requests changed since the previous poll (minus a margin for clocks and commit delays),
  which brings in what other workers did. On a PostgreSQL store a change made elsewhere is
  announced (LISTEN/NOTIFY, ``proctor.server.store_listener``) and ``nudge`` polls at once.

Both sources can report the same change; a change is identified by (request id, event type,
number of decisions) and delivered once. A poll sees only the latest state of a request, so
a request made and decided between two polls of another worker shows as decided only.
Nothing is replayed to a stream that connects later: it starts with the next change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from proctor.approvals.service import ApprovalService
from proctor.model import ApprovalEvent, ApprovalRequest, RequestStatus

log = logging.getLogger("proctor.api")

CLOSED = object()  # put in every queue when the feed closes (worker shutdown)
_Key = tuple[str, str, int]


def _key(event: ApprovalEvent) -> _Key:
    return (event.request.id, event.type, len(event.request.decisions))


def event_of(request: ApprovalRequest, url: str | None) -> ApprovalEvent:
    """The event a polled request stands for: what its current state says happened last."""
    if request.status is RequestStatus.PENDING:
        if request.decisions:
            last = request.decisions[-1]
            return ApprovalEvent("decision", request, last.at, actor=last.approver, url=url)
        return ApprovalEvent(
            "requested", request, request.created_at, actor=request.requester, url=url
        )
    actor = None
    if request.status in (RequestStatus.APPROVED, RequestStatus.DENIED) and request.decisions:
        actor = request.decisions[-1].approver
    elif request.status is RequestStatus.WITHDRAWN:
        actor = request.requester
    at = request.decided_at or request.created_at
    return ApprovalEvent(request.status.value, request, at, actor=actor, url=url)


class ApprovalFeed:
    def __init__(
        self,
        service: ApprovalService,
        poll_interval: float = 1.0,
        margin: float = 5.0,
        queue_size: int = 1000,
    ) -> None:
        self._service = service
        self._poll = max(0.05, poll_interval)
        self._margin = timedelta(seconds=margin)
        self._queue_size = queue_size
        self._queues: set[asyncio.Queue[object]] = set()
        self._seen: dict[_Key, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None
        self._closed = False
        self._nudged = asyncio.Event()

    # -- sources --------------------------------------------------------------------------------

    def publish(self, event: ApprovalEvent) -> None:
        """`ApprovalService` listener: called from any thread, never blocks, never raises."""
        loop = self._loop
        if loop is None or not self._queues or self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
            loop.call_soon_threadsafe(self._deliver, event)

    def nudge(self) -> None:
        """Poll now: another process changed a request (on the event loop; never raises)."""
        self._nudged.set()

    def _deliver(self, event: ApprovalEvent) -> None:
        key = _key(event)
        if key in self._seen:
            return
        self._seen[key] = time.monotonic()
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A stream that does not read: end it rather than hold events for it forever.
                self._queues.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(CLOSED)

    async def _poll_loop(self) -> None:
        opened = datetime.now(UTC)
        since = opened - self._margin
        first = True
        while self._queues and not self._closed:
            started = datetime.now(UTC)
            try:
                changed = await asyncio.to_thread(self._service.store.changed_since, since)
            except Exception:
                log.exception("approval_feed_poll_failed")
                changed = []
            else:
                since = started - self._margin
            for request in changed:
                event = event_of(request, self._service.url(request.id))
                if first and event.at < opened:  # what happened before is not news
                    self._seen.setdefault(_key(event), time.monotonic())
                else:
                    self._deliver(event)
            first = False
            self._forget_old()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._nudged.wait()
            # Cleared before the next poll reads: a nudge during that read is kept.
            self._nudged.clear()

    def _forget_old(self) -> None:
        # A change older than the poll window cannot come back from the store.
        horizon = time.monotonic() - 4 * (self._margin.total_seconds() + self._poll)
        for key in [k for k, at in self._seen.items() if at < horizon]:
            del self._seen[key]

    # -- streams --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[object]]:
        """A queue of `ApprovalEvent` (and `CLOSED` at shutdown) for one stream."""
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue(self._queue_size)
        if self._closed:
            queue.put_nowait(CLOSED)
        self._queues.add(queue)
        if self._poller is None or self._poller.done():
            self._poller = self._loop.create_task(self._poll_loop())
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def close(self) -> None:
        """End every stream (the worker is shutting down)."""
        self._closed = True
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(CLOSED)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
