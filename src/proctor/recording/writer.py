"""Session writers: where a session's start, statements and end go.

The tamper-evident recording format replaces the store-backed writer later; the interface
stays. ``statement`` never blocks: it appends to a buffer a background thread flushes in
batches, because a synchronous database write per statement would stall every session on
the event loop.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
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

    The event loop only appends to a deque (atomic under the GIL, no lock, no wake-up). The
    thread wakes on a timer, not per event: waking it for every statement made the two
    threads trade the GIL on every transaction, which cost more than the writes themselves.
    """

    def __init__(self, store: SessionStore, flush_interval: float = 0.2) -> None:
        self._store = store
        # A deque drained from the left: an append racing with the drain is either taken
        # now or left for the next round. (Swapping the list for a fresh one could lose an
        # append that had already looked up the old list when the thread finished with it.)
        self._buffer: deque[SessionStart | StatementRecord | SessionEnd] = deque()
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
        self._buffer.append(start)
        return StoreSessionRecorder(self)

    def put(self, item: SessionStart | StatementRecord | SessionEnd) -> None:
        self._buffer.append(item)

    def close(self, timeout: float = 10.0) -> None:
        """Flush everything buffered, then stop the thread."""
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self._flush()
        self._flush()

    def _flush(self) -> None:
        buffer = self._buffer
        if not buffer:
            return
        self._write([buffer.popleft() for _ in range(len(buffer))])

    def _write(self, batch: list[SessionStart | StatementRecord | SessionEnd]) -> None:
        # Keep order: a session's start before its statements before its end.
        pending: list[StatementRecord] = []
        try:
            for item in batch:
                if isinstance(item, StatementRecord):
                    pending.append(item)
                    continue
                if pending:
                    self._store.statements_recorded(pending)
                    pending = []
                if isinstance(item, SessionStart):
                    self._store.session_started(item)
                else:
                    self._store.session_ended(item)
            if pending:
                self._store.statements_recorded(pending)
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
        self._writer.put(record)

    def output(self, data: bytes) -> None:
        pass  # the store keeps the session index; results go to the signed recording

    @property
    def backlogged(self) -> bool:
        return False  # it holds no output

    def end(self, end: SessionEnd) -> None:
        self._writer.put(end)
