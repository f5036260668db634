"""Webhook, Slack and Teams deliveries to a real HTTP receiver on loopback.

The receiver is an aiohttp server on the test's event loop; the notifier runs in its own
thread, exactly as in the gateway, so blocking calls (``close``) go through ``to_thread``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from proctor.approvals.notify import (
    ChannelCounts,
    NotifyStats,
    RetryPolicy,
    SignatureError,
    verify_webhook_signature,
)
from proctor.config.notify import (
    SlackChannelConfig,
    TeamsChannelConfig,
    WebhookChannelConfig,
)
from proctor.server.notify import Notifier, build_notifier
from proctor.server.tls import ensure_self_signed, server_context
from tests.unit.approvals.notify_samples import APPROVE_URL, STATEMENT, event

pytestmark = pytest.mark.integration

SECRET = "whsec-test-0123456789abcdef"
FAST = RetryPolicy(initial_delay=0.01, max_delay=0.05)


@dataclass
class Received:
    path: str
    headers: CIMultiDictProxy[str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records every POST; answers from a per-path script (the last answer repeats)."""

    base: str = ""
    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[web.Response | Callable[[], web.Response]]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return self.base + path

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Received(request.path, request.headers, body, time.monotonic()))
        if request.path == "/hang":
            await self.release.wait()
        answers = self.script.get(request.path, [])
        answer = (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else None
        if answer is None:
            return web.Response(status=200, text="ok")
        return answer() if callable(answer) else answer


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", state.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.base = f"http://{host}:{port}"
    yield state
    state.release.set()
    await runner.cleanup()


@pytest.fixture
async def notifiers() -> AsyncIterator[list[Notifier]]:
    made: list[Notifier] = []
    yield made
    for notifier in made:
        await asyncio.to_thread(notifier.close, 2)


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def webhook(url: str, **extra: object) -> WebhookChannelConfig:
    return WebhookChannelConfig.model_validate(
        {"name": "hook", "kind": "webhook", "url": url, "secret": SECRET, **extra}
    )


def make(notifiers: list[Notifier], *configs: object, public_url: str | None = None) -> Notifier:
    notifier = build_notifier(configs, public_url, retry=FAST)  # type: ignore[arg-type]
    notifiers.append(notifier)
    return notifier


async def test_webhook_cloudevent_signed_and_verifiable(
    receiver: Receiver, notifiers: list[Notifier]
) -> None:
    notifier = make(notifiers, webhook(receiver.url("/hook")), public_url="https://px.example/")
    notifier.publish(event())
    await eventually(lambda: notifier.stats["hook"].delivered == 1)
    (got,) = receiver.on("/hook")
    assert got.headers["Content-Type"] == "application/cloudevents+json"
    assert got.headers["User-Agent"].startswith("proctor/")
    document = json.loads(got.body)
    assert document["specversion"] == "1.0"
    assert document["type"] == "dev.proctor.approval.requested"
    assert document["source"] == "https://px.example"
    assert document["subject"] == "apr_7Qx"
    assert document["proctorurl"] == APPROVE_URL
    assert document["data"]["statement"] == STATEMENT
    assert SECRET not in got.body.decode()

    # The receiver's side, with the helper the docs describe.
    header = got.headers["Proctor-Signature"]
    signed_at = verify_webhook_signature(SECRET, header, got.body)
    assert abs(signed_at - time.time()) < 60
    with pytest.raises(SignatureError, match="does not match"):
        verify_webhook_signature(SECRET, header, got.body.replace(b"alice", b"mallory"))
    with pytest.raises(SignatureError, match="does not match"):
        verify_webhook_signature("whsec-wrong-0123456789abcdef", header, got.body)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_webhook_signature(SECRET, header, got.body, now=signed_at + 301)


async def test_retried_after_500s_then_delivered_once(
    receiver: Receiver, notifiers: list[Notifier]
) -> None:
    receiver.script["/hook"] = [web.Response(status=500), web.Response(status=503), web.Response()]
    notifier = make(notifiers, webhook(receiver.url("/hook")))
    notifier.publish(event())
    await eventually(lambda: notifier.stats["hook"].delivered == 1)
    assert notifier.stats["hook"] == ChannelCounts(delivered=1, retried=2)
    attempts = receiver.on("/hook")
    assert len(attempts) == 3
    # One delivery: the same event id and body each time, a fresh signature each time.
    assert len({a.body for a in attempts}) == 1
    for attempt in attempts:
        verify_webhook_signature(SECRET, attempt.headers["Proctor-Signature"], attempt.body)


async def test_4xx_is_not_retried(receiver: Receiver, notifiers: list[Notifier]) -> None:
    receiver.script["/hook"] = [web.Response(status=400)]
    notifier = make(notifiers, webhook(receiver.url("/hook")))
    notifier.publish(event())
    await eventually(lambda: notifier.stats["hook"].failed == 1)
    await asyncio.sleep(0.2)
    assert len(receiver.on("/hook")) == 1
    assert notifier.stats["hook"] == ChannelCounts(failed=1)


async def test_redirects_are_not_followed(receiver: Receiver, notifiers: list[Notifier]) -> None:
    receiver.script["/hook"] = [web.Response(status=307, headers={"Location": "/elsewhere"})]
    notifier = make(notifiers, webhook(receiver.url("/hook")))
    notifier.publish(event())
    await eventually(lambda: notifier.stats["hook"].failed == 1)
    assert receiver.on("/elsewhere") == []


async def test_429_retry_after_is_honoured(receiver: Receiver, notifiers: list[Notifier]) -> None:
    receiver.script["/hook"] = [
        web.Response(status=429, headers={"Retry-After": "1"}),
        web.Response(status=202),
    ]
    notifier = make(notifiers, webhook(receiver.url("/hook")))
    notifier.retry = RetryPolicy(initial_delay=0.01, max_delay=5)
    notifier.publish(event())
    await eventually(lambda: notifier.stats["hook"].delivered == 1)
    first, second = receiver.on("/hook")
    assert second.at - first.at >= 0.95  # the backoff alone would have waited ~10ms


class UpdateLog(NotifyStats):
    """The stats, keeping every update as it was made."""

    def __init__(self, channels: list[str]) -> None:
        super().__init__(channels)
        self.updates: list[dict[str, int]] = []

    def add(self, channel: str, **deltas: int) -> None:
        self.updates.append(deltas)
        super().add(channel, **deltas)


async def test_a_finished_notification_leaves_pending_in_the_same_update(
    receiver: Receiver, notifiers: list[Notifier]
) -> None:
    """The stats are read from other threads than the notifier's: a notification's outcome
    (delivered, failed) and the end of its pending count are one update, so no snapshot
    shows it both finished and pending (every snapshot's delivered + failed + dropped +
    pending counts each notification taken once)."""
    fail, ok = (lambda: web.Response(status=400)), (lambda: web.Response())
    receiver.script["/hook"] = [fail, ok] * 5  # a response object answers once: made anew
    notifier = make(notifiers, webhook(receiver.url("/hook")))
    notifier.stats = log = UpdateLog(["hook"])
    for _ in range(10):
        notifier.publish(event())
    await eventually(lambda: notifier.stats["hook"].pending == 0 and len(log.updates) >= 20)
    finishing = sorted(
        tuple(sorted(u.items())) for u in log.updates if "delivered" in u or "failed" in u
    )
    failed, delivered = (("failed", 1), ("pending", -1)), (("delivered", 1), ("pending", -1))
    assert finishing == sorted([failed] * 5 + [delivered] * 5)
    assert notifier.stats["hook"] == ChannelCounts(delivered=5, failed=5)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_receiver_that_is_down_fails_counted_and_others_go_on(
    receiver: Receiver, notifiers: list[Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    down = webhook(f"http://127.0.0.1:{unused_port()}/token-in-path", max_attempts=3)
    up = TeamsChannelConfig.model_validate(
        {"name": "teams", "kind": "teams", "url": receiver.url("/teams")}
    )
    notifier = make(notifiers, down, up)
    started = time.perf_counter()
    notifier.publish(event())
    assert time.perf_counter() - started < 0.05  # publish only schedules
    await eventually(lambda: notifier.stats["hook"].failed == 1)
    assert notifier.stats["hook"] == ChannelCounts(failed=1, retried=2)
    assert notifier.stats["teams"].delivered == 1
    # Still working after a failure.
    notifier.publish(event())
    await eventually(lambda: notifier.stats["teams"].delivered == 2)
    assert "cannot connect to 127.0.0.1" in caplog.text
    assert "token-in-path" not in caplog.text and SECRET not in caplog.text


async def test_a_hanging_receiver_times_out(receiver: Receiver, notifiers: list[Notifier]) -> None:
    notifier = make(notifiers, webhook(receiver.url("/hang"), max_attempts=2, timeout=0.2))
    notifier.publish(event())
    await eventually(lambda: notifier.stats["hook"].failed == 1)
    assert notifier.stats["hook"] == ChannelCounts(failed=1, retried=1)


async def test_close_flushes_queued_events(receiver: Receiver, notifiers: list[Notifier]) -> None:
    notifier = make(notifiers, webhook(receiver.url("/hook")))
    for kind in ("requested", "decision", "approved"):
        notifier.publish(event(kind))
    assert await asyncio.to_thread(notifier.close, 5)
    types = sorted(json.loads(r.body)["type"] for r in receiver.on("/hook"))
    assert types == [f"dev.proctor.approval.{k}" for k in ("approved", "decision", "requested")]


async def test_slack_incoming_webhook(receiver: Receiver, notifiers: list[Notifier]) -> None:
    config = SlackChannelConfig.model_validate(
        {
            "name": "slack",
            "kind": "slack",
            "url": receiver.url("/services/T0/B0/x"),
            "signing_secret": "slack-signing-0123456789",
        }
    )
    notifier = make(notifiers, config)
    notifier.publish(event())
    await eventually(lambda: notifier.stats["slack"].delivered == 1)
    (got,) = receiver.on("/services/T0/B0/x")
    assert got.headers["Content-Type"].startswith("application/json")
    assert "Authorization" not in got.headers
    message = json.loads(got.body)
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    buttons = {e["action_id"]: e.get("value") for e in actions["elements"]}
    assert buttons["proctor_approve"] == buttons["proctor_deny"] == "apr_7Qx"
    assert "slack-signing" not in got.body.decode()


async def test_slack_web_api(receiver: Receiver, notifiers: list[Notifier]) -> None:
    receiver.script["/api/chat.postMessage"] = [
        web.json_response({"ok": True}),
        web.json_response({"ok": False, "error": "channel_not_found"}),
    ]
    config = SlackChannelConfig.model_validate(
        {
            "name": "slack",
            "kind": "slack",
            "url": receiver.url("/api/chat.postMessage"),
            "token": "xoxb-test-token",
            "channel": "C123",
        }
    )
    notifier = make(notifiers, config)
    notifier.publish(event())
    await eventually(lambda: notifier.stats["slack"].delivered == 1)
    notifier.publish(event())
    await eventually(lambda: notifier.stats["slack"].failed == 1)
    first, _ = receiver.on("/api/chat.postMessage")
    assert first.headers["Authorization"] == "Bearer xoxb-test-token"
    assert json.loads(first.body)["channel"] == "C123"
    assert notifier.stats["slack"] == ChannelCounts(delivered=1, failed=1)  # not retried


async def test_teams_adaptive_card(receiver: Receiver, notifiers: list[Notifier]) -> None:
    receiver.script["/workflows/x"] = [web.Response(status=202)]
    config = TeamsChannelConfig.model_validate(
        {"name": "teams", "kind": "teams", "url": receiver.url("/workflows/x"), "events": "all"}
    )
    notifier = make(notifiers, config)
    notifier.publish(event())
    await eventually(lambda: notifier.stats["teams"].delivered == 1)
    (got,) = receiver.on("/workflows/x")
    card = json.loads(got.body)["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"] == APPROVE_URL


async def test_https_receiver_with_a_private_ca(
    tmp_path: Path, notifiers: list[Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    files = ensure_self_signed(tmp_path / "tls")
    state = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", state.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(files))
    await site.start()
    try:
        port = runner.addresses[0][1]
        trusted = webhook(f"https://127.0.0.1:{port}/hook", ca_file=str(files.ca_file))
        notifier = make(notifiers, trusted)
        notifier.publish(event())
        await eventually(lambda: notifier.stats["hook"].delivered == 1)
        untrusted = make(notifiers, webhook(f"https://127.0.0.1:{port}/hook", max_attempts=1))
        untrusted.publish(event())
        await eventually(lambda: untrusted.stats["hook"].failed == 1)
        assert len(state.on("/hook")) == 1
        assert f"TLS error with 127.0.0.1:{port}" in caplog.text
    finally:
        await runner.cleanup()


def test_no_threads_left_behind() -> None:
    # Every notifier above was closed by the fixture; its delivery thread has ended.
    names = [t.name for t in threading.enumerate()]
    assert "proctor-approval-notify" not in names
