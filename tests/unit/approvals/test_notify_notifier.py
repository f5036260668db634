"""The notifier's queueing, retry loop, counters and shutdown, with a scripted transport."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest

from proctor.approvals.notify import (
    ChannelCounts,
    MailDelivery,
    MailServer,
    RetryPolicy,
    WebhookChannel,
)
from proctor.approvals.notify.channels import Delivery
from proctor.approvals.notify.retry import AttemptResult, Outcome
from proctor.config.notify import TeamsChannelConfig, WebhookChannelConfig
from proctor.model.approval import ApprovalEvent
from proctor.server.notify import Notifier, build_notifier

from .notify_samples import event

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)
SERVER = MailServer(host="127.0.0.1", port=1, ssl=False, starttls=False)


@dataclass
class FakeChannel:
    name: str
    events: frozenset[str] = frozenset({"requested"})
    max_attempts: int = 3
    timeout: float = 1.0
    kind: str = "fake"
    broken: bool = False
    rendered: list[str] = field(default_factory=list)

    def accepts(self, event_type: str) -> bool:
        return event_type in self.events

    def render(self, event: ApprovalEvent) -> Delivery:
        if self.broken:
            raise RuntimeError("secret-ish detail")
        self.rendered.append(event.type)
        message = EmailMessage()
        message["X-Channel"] = self.name
        return MailDelivery(message=message, server=SERVER)


class Script:
    """A mail sender answering from a per-channel list of outcomes (the last one repeats)."""

    def __init__(self, **answers: list[Outcome]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, delivery: MailDelivery, time_limit: float) -> AttemptResult:
        self.gate.wait(5)
        name = str(delivery.message["X-Channel"])
        with self.lock:
            self.calls.append(name)
            queue = self.answers.get(name, [Outcome.DELIVERED])
            outcome = queue.pop(0) if len(queue) > 1 else queue[0]
        return AttemptResult(outcome, outcome.value)


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_delivered_after_retries_and_counted() -> None:
    script = Script(a=[Outcome.RETRY, Outcome.RETRY, Outcome.DELIVERED])
    notifier = Notifier([FakeChannel("a")], FAST, send_mail=script)
    notifier.publish(event())
    assert notifier.close(5)
    assert script.calls == ["a", "a", "a"]
    assert notifier.stats["a"] == ChannelCounts(delivered=1, retried=2)


def test_attempts_are_bounded_and_permanent_failures_not_retried() -> None:
    script = Script(a=[Outcome.RETRY], b=[Outcome.FAIL])
    notifier = Notifier([FakeChannel("a"), FakeChannel("b")], FAST, send_mail=script)
    notifier.publish(event())
    assert notifier.close(5)
    assert script.calls.count("a") == 3 and script.calls.count("b") == 1
    assert notifier.stats.snapshot() == {
        "a": ChannelCounts(failed=1, retried=2),
        "b": ChannelCounts(failed=1),
    }


def test_events_are_filtered_per_channel() -> None:
    only_requested = FakeChannel("a")
    everything = FakeChannel("b", events=frozenset({"requested", "approved", "withdrawn"}))
    notifier = Notifier([only_requested, everything], FAST, send_mail=Script())
    for kind in ("requested", "approved", "withdrawn", "expired"):
        notifier.publish(event(kind))
    notifier.close(5)
    assert only_requested.rendered == ["requested"]
    assert sorted(everything.rendered) == ["approved", "requested", "withdrawn"]


def test_nothing_starts_without_an_event() -> None:
    before = threading.active_count()
    notifier = Notifier([FakeChannel("a")], FAST, send_mail=Script())
    notifier.publish(event("approved"))  # no channel wants it
    assert threading.active_count() == before
    assert notifier.close(1)


def test_publish_never_blocks_on_a_stuck_transport() -> None:
    script = Script()
    script.gate.clear()  # every send hangs until released
    notifier = Notifier([FakeChannel("a")], FAST, send_mail=script)
    notifier.start()
    started = time.perf_counter()
    for _ in range(100):
        notifier.publish(event())
    assert time.perf_counter() - started < 0.5
    wait_for(lambda: notifier.stats["a"].pending == 100)
    script.gate.set()
    assert notifier.close(5)
    assert notifier.stats["a"] == ChannelCounts(delivered=100)


def test_queue_is_bounded() -> None:
    script = Script()
    script.gate.clear()
    notifier = Notifier([FakeChannel("a")], FAST, send_mail=script, max_pending=3)
    for _ in range(5):
        notifier.publish(event())
    wait_for(lambda: notifier.stats["a"].dropped == 2)
    script.gate.set()
    notifier.close(5)
    assert notifier.stats["a"] == ChannelCounts(delivered=3, dropped=2)


def test_close_cuts_long_retries_short_and_drops_later_events() -> None:
    slow = RetryPolicy(initial_delay=60, max_delay=60)
    notifier = Notifier([FakeChannel("a")], slow, send_mail=Script(a=[Outcome.RETRY]))
    notifier.publish(event())
    wait_for(lambda: notifier.stats["a"].retried == 1)
    started = time.monotonic()
    assert not notifier.close(0.1)
    assert time.monotonic() - started < 5
    notifier.publish(event())
    assert notifier.stats["a"] == ChannelCounts(retried=1, dropped=2)
    assert notifier.close(1)  # again: harmless


def test_a_broken_channel_is_counted_and_logged_without_detail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = Notifier(
        [FakeChannel("bad", broken=True), FakeChannel("good")], FAST, send_mail=Script()
    )
    notifier.publish(event())
    notifier.close(5)
    assert notifier.stats["bad"] == ChannelCounts(failed=1)
    assert notifier.stats["good"] == ChannelCounts(delivered=1)
    assert "cannot render: RuntimeError" in caplog.text
    assert "secret-ish" not in caplog.text


def test_a_transport_that_raises_is_retried() -> None:
    calls = []

    def explode(delivery: MailDelivery, time_limit: float) -> AttemptResult:
        calls.append(1)
        raise OSError("boom")

    notifier = Notifier([FakeChannel("a", max_attempts=2)], FAST, send_mail=explode)
    notifier.publish(event())
    notifier.close(5)
    assert len(calls) == 2
    assert notifier.stats["a"] == ChannelCounts(failed=1, retried=1)


def test_unique_names_required() -> None:
    with pytest.raises(ValueError, match="unique"):
        Notifier([FakeChannel("a"), FakeChannel("a")])


def test_build_notifier_from_config() -> None:
    configs = (
        WebhookChannelConfig.model_validate(
            {"name": "w", "kind": "webhook", "url": "https://w.example", "secret": "x" * 16}
        ),
        TeamsChannelConfig.model_validate(
            {"name": "t", "kind": "teams", "url": "https://t.example", "max_attempts": 2}
        ),
    )
    notifier = build_notifier(configs, "https://proctor.example/", retry=FAST)
    webhook, teams = notifier.channels
    assert (webhook.name, webhook.kind, teams.kind, teams.max_attempts) == (
        "w",
        "webhook",
        "teams",
        2,
    )
    assert isinstance(webhook, WebhookChannel) and webhook.source == "https://proctor.example"
    assert teams.accepts("requested") and not teams.accepts("approved")
    assert notifier.retry is FAST
    assert set(notifier.stats.snapshot()) == {"w", "t"}
    assert notifier.close(1)
