"""Held statements wake when told to (a decision here, or a store notice from elsewhere),
with a poll interval long enough that only the wake-up can explain a prompt return."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from proctor.approvals.service import ApprovalService
from proctor.config.approvals import ApprovalsConfig
from proctor.model import ApprovalRequest, Identity, RequestStatus
from proctor.server.reviews import ServerReviews
from proctor.store import SqlStore, open_store
from proctor.store.approvals import ApprovalStore

CONFIG = ApprovalsConfig.model_validate({"workflows": {"w": {"approvers": {"groups": ["dba"]}}}})
ALICE = Identity("alice", frozenset({"dev"}))
BOB = Identity("bob", frozenset({"dba"}))
POLL = 60.0
WITHIN = 5.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as s:
        yield s


def held(service: ApprovalService) -> ApprovalRequest:
    return service.request_statement(
        identity=ALICE,
        connection="shop",
        session_id="ses_1",
        text="DELETE FROM t",
        redacted_text="DELETE FROM t",
        rule="r",
        workflow="w",
    )


def expiry() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=5)


async def test_wake_and_wake_all_end_the_wait(store: SqlStore) -> None:
    service = ApprovalService(ApprovalStore(store), CONFIG)
    reviews = ServerReviews(service, None, POLL)  # type: ignore[arg-type]
    for wake in ("one", "all"):
        request = held(service)
        waiting = asyncio.create_task(reviews.wait(request.id, expiry()))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(service.decide, request.id, BOB, approve=True)
        if wake == "one":
            reviews.wake(request.id)
        else:
            reviews.wake_all()  # after a LISTEN reconnect
        async with asyncio.timeout(WITHIN):
            done = await waiting
        assert done.status is RequestStatus.APPROVED


class DecidedDuringTheRead(ApprovalService):
    """The first read returns the request as pending, while a decision lands and its
    wake-up arrives before the read is over: the race between a notice and a poll."""

    def __init__(self, store: ApprovalStore, reviews: list[ServerReviews]) -> None:
        super().__init__(store, CONFIG)
        self.reviews = reviews
        self.loop = asyncio.get_running_loop()
        self.reads = 0

    def get(self, request_id: str) -> ApprovalRequest | None:
        self.reads += 1
        snapshot = super().get(request_id)
        if self.reads == 1:
            self.decide(request_id, BOB, approve=True)
            self.loop.call_soon_threadsafe(self.reviews[0].wake, request_id)
            time.sleep(0.2)  # the wake-up is handled on the loop before this read returns
        return snapshot


async def test_a_wake_up_arriving_during_the_read_is_not_lost(store: SqlStore) -> None:
    holder: list[ServerReviews] = []
    service = DecidedDuringTheRead(ApprovalStore(store), holder)
    reviews = ServerReviews(service, None, POLL)  # type: ignore[arg-type]
    holder.append(reviews)
    request = held(service)
    async with asyncio.timeout(WITHIN):
        done = await reviews.wait(request.id, expiry())
    assert done.status is RequestStatus.APPROVED and service.reads == 2
