"""Replies to Slack clicks also go to the click's response_url — only when that is Slack's.

In process: the Slack route on an aiohttp test server with a SQLite store, and a local
receiver standing in for ``hooks.slack.com`` (allowed explicitly; the default allows Slack
only)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from proctor.api.slack_replies import ResponseUrlReplies, is_slack_response_url
from proctor.api.slack_routes import add_slack_route
from proctor.approvals.notify.slack import slack_signature
from proctor.approvals.service import ApprovalService
from proctor.config.approvals import ApprovalsConfig
from proctor.model import Identity, RequestStatus
from proctor.server.reviews import ServerReviews
from proctor.store import SqlStore, open_store
from proctor.store.approvals import ApprovalStore

SECRET = "slack-signing-secret-0123456789"
APPROVALS = ApprovalsConfig.model_validate(
    {
        "workflows": {"w": {"approvers": {"groups": ["approver"]}}},
        "default_workflow": "w",
        "notify": [
            {
                "name": "slack",
                "kind": "slack",
                "url": "https://hooks.slack.com/services/T/B/x",
                "signing_secret": SECRET,
                "users": {"U0BOB0001": {"subject": "bob", "groups": ["approver"]}},
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/actions/T0/1/abc", True),
        ("https://hooks.slack.com:443/actions/T0/1/abc", True),
        ("http://hooks.slack.com/actions/T0/1/abc", False),
        ("https://hooks.slack.com.evil.example/actions", False),
        ("https://evil.example/hooks.slack.com/", False),
        ("https://user:pw@hooks.slack.com/actions", False),
        ("https://hooks.slack.com:8443/actions", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("file:///etc/passwd", False),
        ("", False),
    ],
)
def test_only_slack_urls_are_allowed(url: str, allowed: bool) -> None:
    assert is_slack_response_url(url) is allowed


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as s:
        yield s


@pytest.fixture
def service(store: SqlStore) -> ApprovalService:
    return ApprovalService(ApprovalStore(store), APPROVALS, public_url="http://gw.example")


class SlackStandIn:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(text="ok")


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackStandIn, str]]:
    stand_in = SlackStandIn()
    app = web.Application()
    app.router.add_post("/actions/{tail:.*}", stand_in.handle)
    async with TestServer(app) as server:
        yield stand_in, str(server.make_url("/actions/T0/1/x"))


async def gateway(
    service: ApprovalService, replies: ResponseUrlReplies
) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    add_slack_route(app, ServerReviews(service, None, 0.05), replies)  # type: ignore[arg-type]
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    return client


def click(request_id: str, response_url: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0BOB0001", "username": "bob"},
        "response_url": response_url,
        "actions": [{"action_id": "proctor_approve", "value": request_id}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def post(client: TestClient[web.Request, web.Application], body: bytes) -> Any:
    ts = str(int(time.time()))
    response = await client.post(
        "/api/approvals/slack",
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": slack_signature(SECRET, ts, body),
        },
    )
    assert response.status == 200
    return await response.json()


def held(service: ApprovalService) -> str:
    return service.request_statement(
        identity=Identity("alice", frozenset({"analyst"})),
        connection="shop",
        session_id=None,
        text="DELETE FROM t",
        redacted_text="DELETE FROM t",
        rule="r",
        workflow=None,
    ).id


async def test_the_reply_is_posted_to_the_response_url_too(
    service: ApprovalService, slack: tuple[SlackStandIn, str]
) -> None:
    stand_in, response_url = slack
    replies = ResponseUrlReplies(allowed=lambda url: url == response_url)
    client = await gateway(service, replies)
    try:
        request_id = held(service)
        answer = await post(client, click(request_id, response_url))
        assert answer["replace_original"] is True
        for _ in range(500):
            if stand_in.received:
                break
            await asyncio.sleep(0.01)
    finally:
        await replies.close()
        await client.close()
    assert stand_in.received == [answer]  # the very reply the click was answered with
    found = service.get(request_id)
    assert found is not None and found.status is RequestStatus.APPROVED


async def test_a_response_url_that_is_not_slacks_gets_nothing(
    service: ApprovalService, slack: tuple[SlackStandIn, str]
) -> None:
    stand_in, response_url = slack
    replies = ResponseUrlReplies()  # the default: Slack's own host only
    client = await gateway(service, replies)
    try:
        answer = await post(client, click(held(service), response_url))
        assert answer["replace_original"] is True
        await asyncio.sleep(0.2)  # time enough for a post that should not happen
    finally:
        await replies.close()
        await client.close()
    assert stand_in.received == []
