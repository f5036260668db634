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

    def statement_row(self, record: StatementRecord) -> tuple[object, ...]:
        if record.seq < 0:
            raise ValueError("refused")
        return (record,)

    def insert_statement_rows(self, rows: Sequence[tuple[object, ...]]) -> None:
        self.events.extend(row[0] for row in rows)

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


def test_a_record_the_store_refuses_stops_new_statements_until_a_write_succeeds() -> None:
    store = Collecting()
    writer = BatchingStoreWriter(store, flush_interval=3600)  # type: ignore[arg-type]
    start = SessionStart("s1", "alice", frozenset(), "shop", None, "postgres", "::1", NOW)
    recorder = writer.open(start)
    good = StatementRecord("s1", 1, NOW, "select 1", "simple")
    recorder.statement(good)
    assert recorder.healthy
    recorder.statement(StatementRecord("s1", -1, NOW, "select 2", "simple"))
    assert not recorder.healthy  # the gate refuses commands now (fail closed)
    writer._flush()
    assert recorder.healthy
    writer.close()
    assert store.events == [start, good]
