"""Session writers: where a session's start, statements and end go.

The tamper-evident recording format replaces the store-backed writer later; the interface
stays. ``statement`` never blocks: it appends to a buffer a background thread flushes in
batches, because a synchronous database write per statement would stall every session on
the event loop.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
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
    def end(self, end: SessionEnd) -> None: ...


class RecorderFactory(Protocol):
    def open(self, start: SessionStart) -> SessionRecorder: ...
    def close(self) -> None: ...


_Op = Callable[[SessionStore], None]


class BatchingStoreWriter:
    """One per process: a thread that writes queued session events to the store in batches."""

    def __init__(self, store: SessionStore, max_batch: int = 500, idle_wait: float = 0.05) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[SessionStart | StatementRecord | SessionEnd | None] = (
            queue.SimpleQueue()
        )
        self._max_batch = max_batch
        self._idle_wait = idle_wait
        self._failed: str | None = None
        self._thread = threading.Thread(target=self._run, name="proctor-recorder", daemon=True)
        self._thread.start()

    @property
    def healthy(self) -> bool:
        return self._failed is None

    def open(self, start: SessionStart) -> StoreSessionRecorder:
        if self._failed:
            raise RecordingUnavailable(self._failed)
        self._queue.put(start)
        return StoreSessionRecorder(self)

    def put(self, item: SessionStart | StatementRecord | SessionEnd) -> None:
        self._queue.put(item)

    def close(self, timeout: float = 10.0) -> None:
        """Flush everything queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if None in batch:
                stop = True
                batch = [b for b in batch if b is not None]
            self._write(batch)  # type: ignore[arg-type]

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

    def __init__(self, writer: BatchingStoreWriter) -> None:
        self._writer = writer

    @property
    def healthy(self) -> bool:
        return self._writer.healthy

    def statement(self, record: StatementRecord) -> None:
        self._writer.put(record)

    def end(self, end: SessionEnd) -> None:
        self._writer.put(end)
