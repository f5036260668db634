"""The clock check reads the kernel's NTP state; its recorded form round-trips."""

from __future__ import annotations

import sys

import pytest

from proctor.recording.clock import ClockStatus, read_clock


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux-only")
def test_reads_the_kernel_clock_state() -> None:
    status = read_clock()
    assert status is not None
    assert status.max_error_us >= status.est_error_us >= 0
    assert status.source == "adjtimex"
    assert ("NOT synchronized" in status.describe()) is (not status.synchronized)


def test_recorded_form_round_trips_and_tolerates_junk() -> None:
    status = ClockStatus(True, 1500, 200, -12)
    assert ClockStatus.from_map(status.as_map()) == status
    assert ClockStatus.from_map(None) is None
    assert ClockStatus.from_map({"sync": True}) is None
    assert ClockStatus.from_map({**status.as_map(), "max_err_us": "x"}) is None
    assert "max error 0.0015 s" in status.describe()


def test_the_start_record_carries_the_clock_or_nothing() -> None:
    from datetime import UTC, datetime

    from proctor.recording.events import SessionStarted

    at = datetime(2026, 11, 26, tzinfo=UTC)
    with_clock = SessionStarted(
        at,
        "alice",
        frozenset(),
        "shop",
        "postgres",
        "127.0.0.1",
        clock=ClockStatus(False, 16, 16, 0),
    )
    again = SessionStarted.from_payload(at, with_clock.payload())
    assert again.clock == ClockStatus(False, 16, 16, 0)
    plain = SessionStarted(at, "alice", frozenset(), "shop", "postgres", "127.0.0.1")
    assert "clock" not in plain.payload()  # older readers see the payload they knew
    assert SessionStarted.from_payload(at, plain.payload()).clock is None
