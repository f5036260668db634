"""The approvals REST API and its live feed, in process, on a SQLite store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from proctor.api.approval_feed import CLOSED, ApprovalFeed
from proctor.api.approvals_routes import add_approval_routes
from proctor.api.identity_setup import IdentityRuntime
from proctor.approvals.service import ApprovalService
from proctor.config.approvals import ApprovalsConfig
from proctor.config.identity import RolesConfig
from proctor.identity.access import AccessPolicy, RoleResolver
from proctor.identity.authenticator import TokenAuthenticator
from proctor.identity.revalidation import TokenRevalidator
from proctor.model import ApprovalEvent, ApprovalRequest, Identity
from proctor.server.reviews import ServerReviews
from proctor.store import SqlStore, open_store
from proctor.store.approvals import ApprovalStore

APPROVALS = ApprovalsConfig.model_validate(
    {
        "workflows": {"writes": {"approvers": {"groups": ["approver"]}, "expires": "60s"}},
        "default_workflow": "writes",
        "access": {"max_duration": "1h"},
        "poll_interval": "0.05s",
    }
)
ALICE = Identity(subject="alice", groups=frozenset({"analyst"}))
BOB = Identity(subject="bob", groups=frozenset({"approver"}))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as s:
        yield s


@pytest.fixture
def service(store: SqlStore) -> ApprovalService:
    return ApprovalService(ApprovalStore(store), APPROVALS, public_url="http://gw.example")


@pytest.fixture
def tokens(store: SqlStore) -> dict[str, str]:
    people = {"alice": ("analyst",), "bob": ("approver",), "carol": (), "admin": ("admin",)}
    return {
        who: store.create_token(who, frozenset(groups), timedelta(hours=1)).secret
        for who, groups in people.items()
    }


@pytest.fixture
async def client(
    store: SqlStore, service: ApprovalService
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    runtime = IdentityRuntime(
        authenticator=TokenAuthenticator(store),
        store=store,
        tokens=TokenAuthenticator(store),
        access=AccessPolicy(()),
        roles=RoleResolver(RolesConfig.model_validate({"admin": {"groups": ["admin"]}})),
        revalidator=TokenRevalidator(store),
        revalidate_interval=2.0,
    )
    reviews = ServerReviews(service, None, 0.05)  # type: ignore[arg-type]
    app = web.Application()
    add_approval_routes(app, runtime, reviews, {"shop"})
    async with TestClient(TestServer(app)) as c:
        yield c


def held(
    service: ApprovalService, who: Identity = ALICE, sql: str = "DELETE FROM t WHERE id=1"
) -> ApprovalRequest:
    return service.request_statement(
        identity=who,
        connection="shop",
        session_id="ses_1",
        text=sql,
        redacted_text=sql,
        rule="r",
        workflow=None,
    )


async def call(
    client: TestClient[web.Request, web.Application],
    token: str | None,
    method: str,
    path: str,
    body: Any = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.request(method, path, json=body, headers=headers)
    return response.status, await response.json()


async def test_who_sees_what(client: Any, service: ApprovalService, tokens: dict[str, str]) -> None:
    request = held(service)
    status, seen = await call(client, tokens["bob"], "GET", "/api/approvals")
    assert status == 200 and [r["id"] for r in seen] == [request.id]
    assert seen[0]["can_decide"] is True and seen[0]["url"].endswith(f"/approvals/{request.id}")
    assert seen[0]["still_needed"] == "1 more approval"
    _, own = await call(client, tokens["alice"], "GET", "/api/approvals")
    assert own[0]["can_decide"] is False and own[0]["can_withdraw"] is True
    _, none = await call(client, tokens["carol"], "GET", "/api/approvals")
    assert none == []
    _, everything = await call(client, tokens["admin"], "GET", "/api/approvals?status=all")
    assert [r["id"] for r in everything] == [request.id]
    status, body = await call(client, tokens["carol"], "GET", f"/api/approvals/{request.id}")
    assert status == 403 and body["error"] == "forbidden"
    _, mine = await call(client, tokens["bob"], "GET", "/api/approvals?mine=1")
    assert mine == []
    status, body = await call(client, None, "GET", "/api/approvals")
    assert status == 401 and body["error"] == "invalid_token"


async def test_decide_errors_and_wake(
    client: Any, service: ApprovalService, tokens: dict[str, str]
) -> None:
    request = held(service)
    path = f"/api/approvals/{request.id}"
    status, body = await call(client, tokens["alice"], "POST", path + "/approve", {})
    assert status == 403 and "separation of duties" in body["message"]
    status, body = await call(client, tokens["carol"], "POST", path + "/approve", {})
    assert status == 403 and "not an approver" in body["message"]
    status, _ = await call(client, tokens["bob"], "POST", path + "/approve", {"scope": "forever"})
    assert status == 400
    status, _ = await call(client, tokens["bob"], "POST", path + "/approve", [1])
    assert status == 400
    status, body = await call(
        client, tokens["bob"], "POST", path + "/approve", {"reason": "ok", "scope": "session"}
    )
    assert status == 200 and body["status"] == "approved" and body["scope"] == "session"
    assert body["decisions"][0]["approver"] == "bob"
    status, body = await call(client, tokens["bob"], "POST", path + "/deny", {})
    assert status == 409 and body["error"] == "conflict"
    status, _ = await call(client, tokens["alice"], "POST", path + "/withdraw")
    assert status == 409
    status, _ = await call(client, tokens["bob"], "POST", "/api/approvals/apr_00ff/approve", {})
    assert status == 404


async def test_access_requests_and_grants(
    client: Any, service: ApprovalService, tokens: dict[str, str]
) -> None:
    status, body = await call(
        client, tokens["carol"], "POST", "/api/access-requests", {"connection": "shop"}
    )
    assert status == 400 and "duration" in body["message"]
    status, body = await call(
        client,
        tokens["carol"],
        "POST",
        "/api/access-requests",
        {"connection": "shop", "duration": "30m"},
    )
    assert status == 400 and "need a reason" in body["message"]
    status, _ = await call(
        client,
        tokens["carol"],
        "POST",
        "/api/access-requests",
        {"connection": "other", "duration": "30m", "reason": "x"},
    )
    assert status == 404
    status, made = await call(
        client,
        tokens["carol"],
        "POST",
        "/api/access-requests",
        {"connection": "shop", "duration": "30m", "reason": "INC-1"},
    )
    assert status == 201 and made["kind"] == "access" and made["duration_seconds"] == 1800
    await call(client, tokens["bob"], "POST", f"/api/approvals/{made['id']}/approve", {})
    _, grants = await call(client, tokens["carol"], "GET", "/api/access-grants?active=1")
    assert len(grants) == 1 and grants[0]["active"] and grants[0]["request_id"] == made["id"]
    _, bobs = await call(client, tokens["bob"], "GET", "/api/access-grants")
    assert bobs == []
    grant = grants[0]["id"]
    status, _ = await call(client, tokens["bob"], "POST", f"/api/access-grants/{grant}/revoke")
    assert status == 403
    status, body = await call(client, tokens["admin"], "POST", f"/api/access-grants/{grant}/revoke")
    assert status == 200 and body["revoked_at"] and body["active"] is False
    status, _ = await call(client, tokens["admin"], "POST", f"/api/access-grants/{grant}/revoke")
    assert status == 409
    status, _ = await call(client, tokens["admin"], "POST", "/api/access-grants/grt_00/revoke")
    assert status == 404


async def test_page(client: Any, service: ApprovalService) -> None:
    request = held(service, sql="DELETE FROM secrets WHERE id=1")
    response = await client.get(f"/approvals/{request.id}")
    text = await response.text()
    assert response.status == 200 and request.id in text and "secrets" not in text
    assert f"proctor approvals approve {request.id}" in text
    assert (await client.get("/approvals/apr_00")).status == 404
    assert (await client.get("/approvals/nonsense")).status == 404


async def read_events(response: Any, count: int) -> list[str]:
    kinds: list[str] = []
    while len(kinds) < count:
        line = (await response.content.readline()).decode()
        if line.startswith("event: "):
            kinds.append(line[7:].strip())
    return kinds


async def test_event_stream(client: Any, service: ApprovalService, tokens: dict[str, str]) -> None:
    response = await client.get(
        "/api/approvals/events", headers={"Authorization": f"Bearer {tokens['bob']}"}
    )
    assert response.headers["Content-Type"] == "text/event-stream"
    assert (await response.content.readline()).startswith(b"retry:")
    request = await asyncio.to_thread(held, service)
    await asyncio.to_thread(service.decide, request.id, BOB, approve=True, reason="ok")
    async with asyncio.timeout(5):
        assert await read_events(response, 2) == ["requested", "approved"]
    response.close()


async def test_feed_polls_changes_made_elsewhere(tmp_path: Path) -> None:
    """Another worker: a second service on the same store, whose events this feed never
    hears; polling finds them, once each."""
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as store:
        here = ApprovalService(ApprovalStore(store), APPROVALS)
        elsewhere = ApprovalService(ApprovalStore(store), APPROVALS)
        feed = ApprovalFeed(here, poll_interval=0.05)
        here.subscribe(feed.publish)
        async with feed.subscribe() as queue:
            await asyncio.sleep(0.1)
            request = await asyncio.to_thread(held, elsewhere)
            async with asyncio.timeout(5):
                first = await queue.get()
            assert isinstance(first, ApprovalEvent) and first.type == "requested"
            # Decided here: pushed at once (from a thread), and not repeated by the poll.
            done = threading.Event()

            def decide() -> None:
                here.decide(request.id, BOB, approve=True, reason="ok")
                done.set()

            await asyncio.to_thread(decide)
            async with asyncio.timeout(5):
                second = await queue.get()
            assert isinstance(second, ApprovalEvent) and second.type == "approved"
            await asyncio.sleep(0.3)
            assert queue.empty()
            await feed.close()
            assert await queue.get() is CLOSED


def test_feed_publish_without_listeners_is_a_no_op(service: ApprovalService) -> None:
    feed = ApprovalFeed(service)
    request = held(service)
    feed.publish(ApprovalEvent("requested", request, datetime.now(UTC)))
