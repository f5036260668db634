"""The store's batching writer keeps every event, in order, while the loop appends as the
thread drains."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from proctor.model import SessionEnd, SessionStart, StatementRecord
from proctor.recording.writer import BatchingStoreWriter

NOW = datetime(2026, 11, 26, tzinfo=UTC)


class Collecting:
    def __init__(self) -> None:
        self.events: list[object] = []

    def session_started(self, start: SessionStart) -> None:
        self.events.append(start)

    def statements_recorded(self, records: Sequence[StatementRecord]) -> None:
        self.events.extend(records)

    def session_ended(self, end: SessionEnd) -> None:
        self.events.append(end)


def test_nothing_is_lost_while_the_thread_drains() -> None:
    store = Collecting()
    writer = BatchingStoreWriter(store, flush_interval=0.0005)  # type: ignore[arg-type]
    start = SessionStart("s1", "alice", frozenset(), "shop", None, "postgres", "::1", NOW)
    recorder = writer.open(start)
    records = [StatementRecord("s1", i, NOW, f"select {i}", "simple") for i in range(60_000)]
    for record in records:
        recorder.statement(record)
    end = SessionEnd("s1", NOW, "client_closed", len(records), 0, 0)
    recorder.end(end)
    writer.close()
    assert store.events == [start, *records, end]
