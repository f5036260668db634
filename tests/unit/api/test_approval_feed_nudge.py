"""The live feed polls at once when nudged (a store notice: another process changed a
request), instead of waiting for its poll interval; ServerReviews passes notices on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from proctor.api.approval_feed import ApprovalFeed
from proctor.approvals.service import ApprovalService
from proctor.config.approvals import ApprovalsConfig
from proctor.model import ApprovalEvent, Identity
from proctor.server.reviews import ServerReviews
from proctor.store import open_store
from proctor.store.approvals import ApprovalStore

APPROVALS = ApprovalsConfig.model_validate(
    {"workflows": {"w": {"approvers": {"groups": ["dba"]}}}, "default_workflow": "w"}
)
POLL = 60.0  # only a nudge can explain an event within the test's few seconds


def held(service: ApprovalService) -> str:
    return service.request_statement(
        identity=Identity("alice", frozenset({"dev"})),
        connection="shop",
        session_id=None,
        text="DELETE FROM t",
        redacted_text="DELETE FROM t",
        rule="r",
        workflow=None,
    ).id


async def test_a_store_notice_makes_the_feed_poll_now(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as store:
        here = ApprovalService(ApprovalStore(store), APPROVALS)
        elsewhere = ApprovalService(ApprovalStore(store), APPROVALS)  # its events never reach us
        reviews = ServerReviews(here, None, POLL)  # type: ignore[arg-type]
        feed = ApprovalFeed(here, poll_interval=POLL)
        reviews.add_change_listener(feed.nudge)
        async with feed.subscribe() as queue:
            await asyncio.sleep(0.2)  # the first poll (at subscribe) is over
            request_id = await asyncio.to_thread(held, elsewhere)
            reviews.changed_elsewhere(request_id)  # what the worker's StoreListener calls
            async with asyncio.timeout(5):
                event = await queue.get()
            assert isinstance(event, ApprovalEvent)
            assert (event.type, event.request.id) == ("requested", request_id)
            await asyncio.to_thread(elsewhere.withdraw, request_id, "alice")
            reviews.wake_all()  # after a reconnect: the feed looks too
            async with asyncio.timeout(5):
                event = await queue.get()
            assert isinstance(event, ApprovalEvent) and event.type == "withdrawn"
        await feed.close()
