"""The gateway's tamper-evident recorder: session events in, signed segments and ledger out.

Same shape as the store writer (``writer.py``): the event loop only appends to a list; a
thread of its own wakes on a timer, encodes, encrypts and hashes the events
(``SessionRecordingWriter``), writes a signed segment for every session whose checkpoint is
due, and commits the ledger once per round. Encoding on the event loop would cost every
session 20-40 µs per statement; here it costs the loop one list append.

Fail closed: if a segment or the ledger cannot be written, ``healthy`` turns False and the
gate refuses every command (``recordings.on_failure: refuse``, the default) until writes
succeed again; with ``continue`` the failure is logged and counted, and commands go on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from proctor.model import SessionEnd, SessionStart, StatementRecord
from proctor.recording.events import (
    ApprovalEvent,
    ErrorEvent,
    Event,
    MaskingEvent,
    ResultEvent,
    SessionEnded,
    SessionStarted,
    StatementEvent,
)
from proctor.recording.keystore import RecordingKeys
from proctor.recording.ledger import Ledger
from proctor.recording.pgstream import RAW_FORMAT
from proctor.recording.session_writer import Flush, SessionRecordingWriter
from proctor.recording.storage.base import BlobExists, BlobStorage
from proctor.recording.writer import RecorderFactory, RecordingUnavailable, SessionRecorder

log = logging.getLogger("proctor.recording")


@dataclass(frozen=True, slots=True)
class Output:
    """Bytes a session sent its client (results as the client saw them)."""

    session_id: str
    at: datetime
    data: bytes


Item = SessionStart | StatementRecord | SessionEnd | Output
# Consecutive output of a session is recorded in events of about this size: large enough
# that per-event overhead vanishes, small enough that a crash loses little.
OUTPUT_EVENT_BYTES = 256 * 1024


class SignedRecorder:
    """One per worker process. Implements ``RecorderFactory``."""

    def __init__(
        self,
        storage: BlobStorage,
        keys: RecordingKeys,
        *,
        policy_hash: str | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 5.0,
        fail_closed: bool = True,
        flush_interval: float = 0.2,
    ) -> None:
        self._storage = storage
        self._keys = keys
        self._policy_hash = policy_hash
        self._every = checkpoint_every
        self._interval = checkpoint_interval
        self._fail_closed = fail_closed
        self._flush_interval = flush_interval
        self._ledger = Ledger(storage, keys.signer)
        self._buffer: list[Item] = []
        self._unstored: list[Flush] = []
        self._writers: dict[str, SessionRecordingWriter] = {}  # the thread's alone
        self._failed: str | None = None
        self.failures = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proctor-signed-recorder")
        self._thread.daemon = True
        self._thread.start()

    @property
    def healthy(self) -> bool:
        return self._failed is None or not self._fail_closed

    def open(self, start: SessionStart) -> SessionRecorder:
        if not self.healthy:
            raise RecordingUnavailable(self._failed or "recording failed")
        self._buffer.append(start)
        return _Handle(self, start.id)

    def put(self, item: Item) -> None:
        self._buffer.append(item)

    def close(self, timeout: float = 10.0) -> None:
        """Write everything buffered (open sessions get a checkpoint: they read as unsealed,
        which is what they are), then stop the thread."""
        self._stopping.set()
        self._thread.join(timeout)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.wait(self._flush_interval):
            self._round(final=False)
        self._round(final=True)

    def _round(self, final: bool) -> None:
        batch, self._buffer = self._buffer, []
        try:
            flushes = self._unstored + self._apply(batch)
            self._unstored = []
            now = time.monotonic()
            for writer in self._writers.values():
                if final or writer.due_checkpoint(now):
                    flush = writer.checkpoint()
                    if flush is not None:
                        flushes.append(flush)
            self._store(flushes)
            self._failed = None
        except Exception as exc:
            self.failures += 1
            self._failed = f"recording write failed: {type(exc).__name__}"
            log.error(
                "recording_write_failed",
                extra={"error": type(exc).__name__, "fail_closed": self._fail_closed},
            )

    def _store(self, flushes: list[Flush]) -> None:
        """Segments first, then their leaves: a leaf must never name a segment that is not
        stored. What could not be stored is kept, in order, and tried again next round."""
        stored = 0
        try:
            for flush in flushes:
                # BlobExists: stored by an earlier round whose answer was lost.
                with contextlib.suppress(BlobExists):
                    self._storage.put(*flush.blob)
                stored += 1
        finally:
            self._unstored = flushes[stored:]
            if stored:
                self._ledger.extend(f.leaf for f in flushes[:stored])
                self._ledger.commit()

    def _apply(self, batch: list[Item]) -> list[Flush]:
        flushes: list[Flush] = []
        writers = self._writers
        pending: dict[str, tuple[datetime, list[bytes], int]] = {}  # session -> output run

        def output_done(session_id: str) -> None:
            run = pending.pop(session_id, None)
            writer = writers.get(session_id)
            if run is not None and writer is not None:
                at, chunks, _ = run
                writer.append(ResultEvent(at, (), raw=b"".join(chunks), raw_format=RAW_FORMAT))

        for item in batch:
            if isinstance(item, Output):
                run = pending.get(item.session_id)
                if run is None:
                    pending[item.session_id] = (item.at, [item.data], len(item.data))
                else:
                    run[1].append(item.data)
                    pending[item.session_id] = (run[0], run[1], run[2] + len(item.data))
                if pending[item.session_id][2] >= OUTPUT_EVENT_BYTES:
                    output_done(item.session_id)
                continue
            session_id = item.id if not isinstance(item, StatementRecord) else item.session_id
            output_done(session_id)  # keep the order: output before what came after it
            if isinstance(item, StatementRecord):
                writer = writers.get(item.session_id)
                if writer is None:
                    continue  # its start failed to record: already reported
                writer.append(_event(item))
                if writer.pending >= self._every:
                    flush = writer.checkpoint()
                    if flush is not None:
                        flushes.append(flush)
            elif isinstance(item, SessionStart):
                writers[item.id] = SessionRecordingWriter(
                    item.id,
                    SessionStarted.from_model(item, self._policy_hash),
                    self._keys.signer,
                    self._keys.kek,
                    checkpoint_every=self._every,
                    checkpoint_interval=self._interval,
                )
            else:
                ended = writers.pop(item.id, None)
                if ended is not None:
                    flushes.append(ended.seal(SessionEnded.from_model(item)))
        for session_id in list(pending):
            output_done(session_id)
        return flushes


class _Handle:
    __slots__ = ("_recorder", "_session_id")

    def __init__(self, recorder: SignedRecorder, session_id: str) -> None:
        self._recorder = recorder
        self._session_id = session_id

    @property
    def healthy(self) -> bool:
        return self._recorder.healthy

    def statement(self, record: StatementRecord) -> None:
        self._recorder.put(record)

    def output(self, data: bytes) -> None:
        self._recorder.put(Output(self._session_id, datetime.now(UTC), data))

    def end(self, end: SessionEnd) -> None:
        self._recorder.put(end)


def _event(record: StatementRecord) -> Event:
    """The recording event a session record stands for (approvals, masking counts and
    errors have types of their own; everything else is a statement)."""
    kind = record.kind
    if kind == "masking":
        try:
            counts = json.loads(record.text)
        except ValueError:
            counts = {}
        return MaskingEvent(record.at, counts, record.seq)
    if kind == "approval":
        return ApprovalEvent(record.at, record.verdict, None, record.text, record.seq)
    if kind == "error":
        code = (record.error or "").rpartition(" ")[2] or None
        return ErrorEvent(record.at, record.error or "error", code, record.seq)
    return StatementEvent.from_model(record)


class TeeRecorders:
    """Several recorder factories as one: the store's session index and the signed
    recording both get every event; healthy only when all are."""

    def __init__(self, *factories: RecorderFactory) -> None:
        self._factories = factories

    @property
    def healthy(self) -> bool:
        return all(f.healthy for f in self._factories)

    def open(self, start: SessionStart) -> SessionRecorder:
        return _TeeHandle(tuple(f.open(start) for f in self._factories))

    def close(self) -> None:
        for f in self._factories:
            f.close()


class _TeeHandle:
    __slots__ = ("_handles",)

    def __init__(self, handles: tuple[SessionRecorder, ...]) -> None:
        self._handles = handles

    @property
    def healthy(self) -> bool:
        return all(h.healthy for h in self._handles)

    def statement(self, record: StatementRecord) -> None:
        for h in self._handles:
            h.statement(record)

    def output(self, data: bytes) -> None:
        for h in self._handles:
            h.output(data)

    def end(self, end: SessionEnd) -> None:
        for h in self._handles:
            h.end(end)
