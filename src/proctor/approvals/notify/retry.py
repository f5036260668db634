"""When to try a delivery again, and how long to wait first.

Retried: network errors, timeouts, HTTP 408, 429 and 5xx (and SMTP 4xx replies). Not retried:
other 4xx (the request itself is wrong: a revoked webhook URL, a bad token; repeating it
changes nothing) and redirects (a signed body is never re-sent to a place we were not
configured with). Waits grow exponentially with "equal jitter" (half fixed, half random), so
gateways that failed together do not retry in lockstep; a ``Retry-After`` the receiver sent
replaces the backoff, capped at ``max_delay``.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAIL = "fail"  # permanent: do not try again


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    detail: str  # for logs: never a URL, a body or a secret
    retry_after: float | None = None  # seconds, when the receiver said


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_delay: float = 1.0
    max_delay: float = 300.0
    multiplier: float = 2.0
    jitter: float = 0.5  # the random share of each wait

    def delay(
        self, failures: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1 for the first)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_delay))
        base = min(self.max_delay, self.initial_delay * self.multiplier ** max(0, failures - 1))
        spread = base * self.jitter
        # Jitter needs no unpredictability, only spread: the module generator will do.
        return base - spread + (rng or random).uniform(0.0, spread)


def http_outcome(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status in (408, 429) or status >= 500:
        return Outcome.RETRY
    return Outcome.FAIL


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
