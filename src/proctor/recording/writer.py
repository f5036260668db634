"""Session writers: where a session's start, statements and end go.

The tamper-evident recording format replaces the store-backed writer later; the interface
stays. ``statement`` never blocks: it appends to a buffer a background thread flushes in
batches, because a synchronous database write per statement would stall every session on
the event loop.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from proctor.model import SessionEnd, SessionStart, StatementRecord
from proctor.store.interfaces import SessionStore

log = logging.getLogger("proctor.recording")


class RecordingUnavailable(Exception):
    """The writer cannot accept events; callers fail closed."""


class SessionRecorder(Protocol):
    @property
    def healthy(self) -> bool: ...
    def statement(self, record: StatementRecord) -> None: ...
    def output(self, data: bytes) -> None:
        """Bytes sent to the client, as sent (results already masked)."""
        ...

    @property
    def backlogged(self) -> bool:
        """The recording lags the data path by more than it may hold in memory: read no more
        output until this is False again (nothing is dropped, the session only waits)."""
        ...

    def end(self, end: SessionEnd) -> None: ...


class RecorderFactory(Protocol):
    @property
    def healthy(self) -> bool: ...
    def open(self, start: SessionStart) -> SessionRecorder: ...
    def close(self) -> None: ...


class BatchingStoreWriter:
    """One per process: a thread that writes session events to the store in batches.

    The thread wakes on a timer, not per event: waking it for every statement made the two
    threads trade the GIL on every transaction, which cost more than the writes themselves.

    Each statement is converted to its row on the caller's thread (the event loop) as it is
    recorded, so the thread runs next to no Python: it swaps the pending list out and hands
    whole lists of rows to the store, whose driver binds and writes them, ~100 rows per
    INSERT, stepping SQLite without the GIL. Python running in this thread while the loop
    is busy is what costs here: whenever the loop ends a callback a thread waiting for the
    GIL is woken to take it, and the loop then waits to get it back.
    """

    def __init__(self, store: SessionStore, flush_interval: float = 0.2) -> None:
        self._store = store
        # In order: session starts, lists of statement rows, session ends. Starts and ends
        # are rare, so consecutive statements share one list. Guarded by a lock: the loop
        # appends to the last list while the thread may be swapping the whole thing out.
        self._pending: list[SessionStart | SessionEnd | list[tuple[object, ...]]] = []
        self._lock = threading.Lock()
        self._interval = flush_interval
        self._failed: str | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proctor-recorder", daemon=True)
        self._thread.start()

    @property
    def healthy(self) -> bool:
        return self._failed is None

    def open(self, start: SessionStart) -> StoreSessionRecorder:
        if self._failed:
            raise RecordingUnavailable(self._failed)
        self.put(start)
        return StoreSessionRecorder(self)

    def put(self, item: SessionStart | SessionEnd) -> None:
        with self._lock:
            self._pending.append(item)

    def statement(self, record: StatementRecord) -> None:
        try:
            row = self._store.statement_row(record)
        except Exception as exc:  # a record the store refuses: stop new statements (fail closed)
            self._failed = f"session store write failed: {type(exc).__name__}"
            log.error("recording_write_failed", extra={"error": type(exc).__name__})
            return
        with self._lock:
            pending = self._pending
            if pending:
                last = pending[-1]
                if type(last) is list:
                    last.append(row)
                    return
            pending.append([row])

    def close(self, timeout: float = 10.0) -> None:
        """Flush everything buffered, then stop the thread."""
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self._flush()
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self._write(batch)

    def _write(self, batch: list[SessionStart | SessionEnd | list[tuple[object, ...]]]) -> None:
        # In order: a session's start before its statements before its end.
        try:
            for item in batch:
                if isinstance(item, list):
                    self._store.insert_statement_rows(item)
                elif isinstance(item, SessionStart):
                    self._store.session_started(item)
                else:
                    self._store.session_ended(item)
            self._failed = None
        except Exception as exc:  # any store failure must stop new statements, not the thread
            self._failed = f"session store write failed: {type(exc).__name__}"
            log.error("recording_write_failed", extra={"error": type(exc).__name__})


class StoreSessionRecorder:
    __slots__ = ("_writer",)
    records_output = False  # ``output`` does nothing: a tee need not call it

    def __init__(self, writer: BatchingStoreWriter) -> None:
        self._writer = writer

    @property
    def healthy(self) -> bool:
        return self._writer.healthy

    def statement(self, record: StatementRecord) -> None:
        self._writer.statement(record)

    def output(self, data: bytes) -> None:
        pass  # the store keeps the session index; results go to the signed recording

    @property
    def backlogged(self) -> bool:
        return False  # it holds no output

    def end(self, end: SessionEnd) -> None:
        self._writer.put(end)
