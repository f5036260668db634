"""Backoff, Retry-After and what is retried."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from proctor.approvals.notify.retry import Outcome, RetryPolicy, http_outcome, parse_retry_after


def test_backoff_grows_with_bounded_jitter() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=10.0)
    rng = random.Random(7)
    for failures, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)]:
        delays = [policy.delay(failures, rng=rng) for _ in range(200)]
        assert all(base / 2 <= d <= base for d in delays)
        assert max(delays) - min(delays) > base / 4  # actually jittered


def test_retry_after_replaces_backoff_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=60.0)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(5, retry_after=0.0) == 0.0
    assert policy.delay(1, retry_after=3600.0) == 60.0


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (301, Outcome.FAIL),
        (400, Outcome.FAIL),
        (401, Outcome.FAIL),
        (404, Outcome.FAIL),
        (408, Outcome.RETRY),
        (410, Outcome.FAIL),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
    ],
)
def test_http_outcome(status: int, outcome: Outcome) -> None:
    assert http_outcome(status) is outcome


def test_parse_retry_after() -> None:
    now = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 3 ") == 3.0
    assert parse_retry_after("Wed, 01 May 2024 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 09:00:00 GMT", now) == 0.0
    for junk in (None, "", "soon", "-5", "1.5e9", "٣"):
        assert parse_retry_after(junk, now) is None
