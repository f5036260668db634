"""LISTEN/NOTIFY on a real PostgreSQL store: what the store announces, and a worker's
listener hearing it, across a dropped connection too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from proctor.approvals.service import ApprovalService, DecisionConflict
from proctor.config.approvals import ApprovalsConfig
from proctor.demo.pgcluster import PgCluster, free_port
from proctor.model import AccessGrant, Identity
from proctor.server.store_listener import StoreListener
from proctor.store import SqlStore, open_store
from proctor.store.approvals import ApprovalStore, new_grant_id
from proctor.store.notifications import CHANNEL, listen_conninfo

pytestmark = pytest.mark.integration

CONFIG = ApprovalsConfig.model_validate({"workflows": {"w": {"approvers": {"groups": ["dba"]}}}})
ALICE = Identity("alice", frozenset({"dev"}))
BOB = Identity("bob", frozenset({"dba"}))
WAIT = 20.0  # generous: a notice arrives in milliseconds


@pytest.fixture
def pg_store(new_pg_database: Callable[[], str]) -> Iterator[SqlStore]:
    with open_store(new_pg_database(), migrate=True) as store:
        yield store


@dataclass
class Heard:
    keys: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    connected: int = 0

    async def next(self) -> str:
        async with asyncio.timeout(WAIT):
            return await self.keys.get()


@pytest.fixture
async def heard(pg_store: SqlStore) -> AsyncIterator[tuple[Heard, StoreListener]]:
    conninfo = listen_conninfo(pg_store)
    assert conninfo is not None
    state = Heard()

    def connected() -> None:
        state.connected += 1

    listener = StoreListener(conninfo, state.keys.put_nowait, connected, first_retry=0.05)
    task = asyncio.get_running_loop().create_task(listener.run())
    async with asyncio.timeout(WAIT):
        await listener.connected.wait()
    yield state, listener
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def until(check: Callable[[], bool]) -> None:
    for _ in range(int(WAIT / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def statement(service: ApprovalService, sql: str = "DELETE FROM t") -> str:
    return service.request_statement(
        identity=ALICE,
        connection="shop",
        session_id=None,
        text=sql,
        redacted_text=sql,
        rule="r",
        workflow="w",
    ).id


async def test_every_change_to_a_request_is_heard(
    pg_store: SqlStore, heard: tuple[Heard, StoreListener]
) -> None:
    state, _ = heard
    service = ApprovalService(ApprovalStore(pg_store), CONFIG)
    made = await asyncio.to_thread(statement, service)
    assert await state.next() == made
    await asyncio.to_thread(service.decide, made, BOB, approve=True)
    assert await state.next() == made
    withdrawn = await asyncio.to_thread(statement, service)
    assert await state.next() == withdrawn
    await asyncio.to_thread(service.withdraw, withdrawn, "alice")
    assert await state.next() == withdrawn
    expiring = await asyncio.to_thread(statement, service)
    assert await state.next() == expiring
    await asyncio.to_thread(service.expire, expiring)
    assert await state.next() == expiring
    # Nothing changes, nothing is announced: the next notice is the next change.
    assert await asyncio.to_thread(service.withdraw, withdrawn, "alice") is None
    later = await asyncio.to_thread(statement, service)
    assert await state.next() == later


async def test_grant_revocation_is_heard(
    pg_store: SqlStore, heard: tuple[Heard, StoreListener]
) -> None:
    state, _ = heard
    store = ApprovalStore(pg_store)
    now = datetime.now(UTC)
    grant = AccessGrant(
        id=new_grant_id(),
        subject="alice",
        connection="shop",
        granted_by="bob",
        starts_at=now,
        expires_at=now + timedelta(hours=1),
    )
    await asyncio.to_thread(store.create_grant, grant)
    assert await asyncio.to_thread(store.revoke_grant, grant.id)
    assert await state.next() == grant.id
    assert not await asyncio.to_thread(store.revoke_grant, grant.id)  # already: no notice


async def test_a_notice_is_sent_at_commit_only(
    pg_store: SqlStore, heard: tuple[Heard, StoreListener], store_pg_cluster: PgCluster
) -> None:
    state, _ = heard
    service = ApprovalService(ApprovalStore(pg_store), CONFIG)
    made = await asyncio.to_thread(statement, service)
    assert await state.next() == made
    await asyncio.to_thread(service.decide, made, BOB, approve=False)
    assert await state.next() == made
    # A decision refused inside its transaction (the request is settled) sends nothing …
    with pytest.raises(DecisionConflict):
        await asyncio.to_thread(service.decide, made, BOB, approve=True)
    # … and neither does a rolled-back transaction: the next notice is the committed one.
    dbname = pg_store.url.rsplit("/", 1)[1]
    with psycopg.connect(store_pg_cluster.dsn(dbname)) as conn:  # an open transaction
        conn.execute("SELECT pg_notify(%s, 'apr_uncommitted')", (CHANNEL,))
        conn.rollback()
        conn.execute("SELECT pg_notify(%s, 'apr_committed')", (CHANNEL,))
        conn.commit()
    assert await state.next() == "apr_committed"


async def test_the_listener_reconnects_and_asks_for_a_fresh_look(
    pg_store: SqlStore,
    heard: tuple[Heard, StoreListener],
    store_pg_cluster: PgCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    state, listener = heard
    assert (state.connected, listener.connects) == (1, 1)
    with psycopg.connect(store_pg_cluster.dsn(), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'proctor-listen'"
        ).fetchall()
    assert ended == [(True,)]
    with caplog.at_level(logging.WARNING, logger="proctor.approvals"):
        await until(lambda: listener.connects >= 2)
    assert state.connected == 2  # waiters re-read the store: notices may have been missed
    assert any(r.message == "approval_listen_lost" for r in caplog.records)
    service = ApprovalService(ApprovalStore(pg_store), CONFIG)
    made = await asyncio.to_thread(statement, service)
    assert await state.next() == made


async def test_an_unreachable_server_is_retried_quietly(caplog: pytest.LogCaptureFixture) -> None:
    listener = StoreListener(
        f"host=127.0.0.1 port={free_port()} dbname=x user=x password=S3CRET connect_timeout=2",
        lambda _: None,
        lambda: None,
        first_retry=0.01,
        max_retry=0.05,
    )
    with caplog.at_level(logging.WARNING, logger="proctor.approvals"):
        task = asyncio.get_running_loop().create_task(listener.run())
        await until(lambda: len(caplog.records) >= 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not listener.connected.is_set() and listener.connects == 0
    assert {r.message for r in caplog.records} == {"approval_listen_unavailable"}
    assert all("S3CRET" not in str(r.__dict__) for r in caplog.records)


def test_sqlite_stores_have_no_listen_connection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as store:
        assert listen_conninfo(store) is None


def test_the_conninfo_reaches_the_store_database(pg_store: SqlStore) -> None:
    conninfo = listen_conninfo(pg_store)
    assert conninfo is not None
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None and pg_store.url.endswith("/" + row[0])
