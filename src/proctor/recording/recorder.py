"""The gateway's tamper-evident recorder: session events in, signed segments and ledger out.

Same shape as the store writer (``writer.py``): the event loop only appends to a deque; a
thread of its own wakes on a timer, encodes, encrypts and hashes the events
(``SessionRecordingWriter``), writes a signed segment for every session whose checkpoint is
due, and commits the ledger once per round. Encoding on the event loop would cost every
session 20-40 µs per statement; here it costs the loop one append.

Per round, each session's events go into one batch record (format 2, ``batch.py``): one
encryption, one record and one hash for all of them, and the two events of every statement
(the statement, the reply bytes) encoded by hand. Recording one event per record, with
cbor2 and AES-GCM per event, cost the thread ~75 µs per statement; batched, ~10 µs
(``SignedRecorder`` fed 20,000 statements with their one-row replies, 8 sessions).

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
from collections import deque
from pathlib import Path

from proctor.model import SessionEnd, SessionStart, StatementRecord
from proctor.recording.batch import event_entry, raw_result_entry_parts, statement_entry
from proctor.recording.clock import read_clock
from proctor.recording.events import (
    ApprovalEvent,
    ErrorEvent,
    MaskingEvent,
    SessionEnded,
    SessionStarted,
)
from proctor.recording.format import to_micros
from proctor.recording.keystore import RecordingKeys
from proctor.recording.ledger import Ledger
from proctor.recording.pgstream import RAW_FORMAT
from proctor.recording.session_writer import Flush, SessionRecordingWriter
from proctor.recording.storage.base import BlobExists, BlobStorage
from proctor.recording.writer import RecorderFactory, RecordingUnavailable, SessionRecorder

log = logging.getLogger("proctor.recording")


# Bytes a session sent its client (results as the client saw them): (session id, time in
# µs since the epoch, data). A plain tuple: one is made per server reply on the event loop,
# where a frozen dataclass and a datetime cost ~2 µs more each time.
Output = tuple[str, int, bytes]
Item = SessionStart | StatementRecord | SessionEnd | Output
# Consecutive output of a session is recorded in events of about this size: large enough
# that per-event overhead vanishes, small enough that a crash loses little.
OUTPUT_EVENT_BYTES = 256 * 1024
# A session's events of one round go into batch records of about this much plaintext.
BATCH_BYTES = 256 * 1024
# Output handed to the recorder but not yet stored, per worker process, beyond which sessions
# stop reading results from their servers until the recorder catches up (slow storage, or
# more output than the thread can hash, encrypt and write): memory stays bounded and nothing
# goes unrecorded. The servers' sockets hold the rest, as for a slow client.
MAX_BACKLOG_BYTES = 64 * 1024 * 1024


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
        head_interval: float = 1.0,
        max_backlog: int = MAX_BACKLOG_BYTES,
        ledger_frontier: Path | None = None,
    ) -> None:
        self._storage = storage
        self._keys = keys
        self._policy_hash = policy_hash
        self._every = checkpoint_every
        self._interval = checkpoint_interval
        self._fail_closed = fail_closed
        self._flush_interval = flush_interval
        # Without its leaves: a gateway's memory must not grow with every checkpoint it
        # signs (the frontier is all appending needs); with ``ledger_frontier`` it also
        # starts without reading the whole ledger back.
        self._ledger = Ledger(
            storage, keys.signer, keep_leaves=False, frontier_file=ledger_frontier
        )
        # Leaves are written every round that has any; a signed head at most this often (and
        # at the end): each head is one more synchronous write, and a head covers every
        # leaf before it, so signing less often loses nothing but freshness.
        self._head_interval = head_interval
        # Never yet: the first round signs (the empty ledger's head at start-up). Not 0.0:
        # the monotonic clock counts from boot, so on a machine up for less than
        # ``head_interval`` a 0.0 here kept the first head unsigned that long.
        self._signed_at = float("-inf")
        # Appended to by the event loop, drained by the thread: a deque, because appends and
        # pops on both ends are atomic (a list swapped for a fresh one could lose an append
        # racing with the swap).
        self._buffer: deque[Item] = deque()
        # The backlog in bytes of output: ``queued`` is written by the event loop only,
        # ``taken`` (``queued`` as a round began) and ``unstored`` by the thread only, so
        # neither needs a lock; what is taken but could not be stored yet still counts.
        self.max_backlog = max_backlog
        self._queued = 0
        self._taken = 0
        self._unstored_bytes = 0
        self._unstored: list[Flush] = []
        self._writers: dict[str, SessionRecordingWriter] = {}  # the thread's alone
        self._failed: str | None = None
        self.failures = 0
        self.dropped = 0  # segments given up on (on_failure: continue only)
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="proctor-signed-recorder")
        self._worker.daemon = True
        self._worker.start()

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

    @property
    def backlog_bytes(self) -> int:
        """Output handed in and not yet stored (approximate while the thread runs)."""
        return self._queued - self._taken + self._unstored_bytes

    @property
    def backlogged(self) -> bool:
        return self.backlog_bytes > self.max_backlog

    def close(self, timeout: float = 10.0) -> None:
        """Write everything buffered (open sessions get a checkpoint: they read as unsealed,
        which is what they are), then stop the thread."""
        self._stopping.set()
        self._worker.join(timeout)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.wait(self._flush_interval):
            self._round(final=False)
        self._round(final=True)

    def _round(self, final: bool) -> None:
        # Read before draining: output counts only after it is queued (`_Handle.output`), so
        # everything this covers is drained now; what is queued meanwhile counts next round.
        taken = self._queued
        buffer = self._buffer
        batch = [buffer.popleft() for _ in range(len(buffer))]
        try:
            flushes = self._unstored + self._apply(batch)
            self._unstored = []
            now = time.monotonic()
            for writer in self._writers.values():
                if final or writer.due_checkpoint(now):
                    flush = writer.checkpoint()
                    if flush is not None:
                        flushes.append(flush)
            self._store(flushes, sign=final or now - self._signed_at >= self._head_interval)
            self._failed = None
        except Exception as exc:
            self.failures += 1
            self._failed = f"recording write failed: {type(exc).__name__}"
            log.error(
                "recording_write_failed",
                extra={"error": type(exc).__name__, "fail_closed": self._fail_closed},
            )
        finally:
            unstored = sum(len(f.blob[1]) for f in self._unstored)
            if unstored > self.max_backlog and not self._fail_closed:
                # on_failure: continue. Sessions must not wait on storage that keeps failing:
                # what it would not take is dropped, a hole the verifier will report.
                self.dropped += len(self._unstored)
                log.error(
                    "recording_segments_dropped",
                    extra={"segments": len(self._unstored), "bytes": unstored},
                )
                self._unstored = []
                unstored = 0
            self._unstored_bytes = unstored
            self._taken = taken

    def _store(self, flushes: list[Flush], *, sign: bool) -> None:
        """Segments first, then their leaves: a leaf must never name a segment that is not
        stored. What could not be stored is kept, in order, and tried again next round.
        ``sign``: also sign a head over the ledger if it has leaves no head covers yet."""
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
            if (stored or sign) and self._ledger.commit(sign=sign) is not None:
                self._signed_at = time.monotonic()

    def _apply(self, batch: list[Item]) -> list[Flush]:
        """Feed one round's items to the session writers, in order. A session's events of
        the round go into batch records (one per ~BATCH_BYTES), flushed before anything
        that must follow them: a checkpoint, the session's end, the end of the round."""
        flushes: list[Flush] = []
        writers = self._writers
        every = self._every
        rounds: dict[str, _Round] = {}
        for item in batch:
            if isinstance(item, tuple):  # Output: the most frequent item, first
                session_id, at, data = item
                r = rounds.get(session_id)
                if r is None:
                    writer = writers.get(session_id)
                    if writer is None:
                        continue  # its start failed to record: already reported
                    r = rounds[session_id] = _Round(writer)
                if r.out_at is None:
                    r.out_at = at
                r.out.append(data)
                r.out_size += len(data)
                if r.out_size >= OUTPUT_EVENT_BYTES:
                    r.close_output()
                    if r.size >= BATCH_BYTES:
                        r.flush()
                        # A long result: close the segment now, not at the end of the round.
                        if r.writer.segment_full:
                            flush = r.writer.checkpoint()
                            if flush is not None:
                                flushes.append(flush)
            elif isinstance(item, StatementRecord):
                session_id = item.session_id
                r = rounds.get(session_id)
                if r is None:
                    writer = writers.get(session_id)
                    if writer is None:
                        continue
                    r = rounds[session_id] = _Round(writer)
                if r.out_at is not None:
                    r.close_output()  # keep the order: output before what came after it
                r.add(_entry(item))
                if r.size >= BATCH_BYTES:
                    r.flush()
                if r.writer.pending + r.count >= every:
                    r.flush()
                    flush = r.writer.checkpoint()
                    if flush is not None:
                        flushes.append(flush)
            elif isinstance(item, SessionStart):
                writers[item.id] = SessionRecordingWriter(
                    item.id,
                    SessionStarted.from_model(item, self._policy_hash, read_clock()),
                    self._keys.signer,
                    self._keys.kek,
                    checkpoint_every=every,
                    checkpoint_interval=self._interval,
                )
            else:
                r = rounds.pop(item.id, None)
                if r is not None:
                    r.flush()
                ended = writers.pop(item.id, None)
                if ended is not None:
                    flushes.append(ended.seal(SessionEnded.from_model(item)))
        for r in rounds.values():
            r.flush()
        return flushes


class _Round:
    """One session's events of one recorder round, encoded, waiting to become a batch."""

    __slots__ = ("at", "count", "entries", "out", "out_at", "out_size", "size", "writer")

    def __init__(self, writer: SessionRecordingWriter) -> None:
        self.writer = writer
        self.entries: list[bytes] = []  # encoded entries, or parts of them (count says)
        self.count = 0
        self.at = 0  # the first entry's time
        self.size = 0
        self.out: list[bytes] = []  # a run of output chunks, recorded as one result
        self.out_at: int | None = None
        self.out_size = 0

    def add(self, entry: tuple[int, bytes]) -> None:
        at, data = entry
        if not self.count:
            self.at = at
        self.entries.append(data)
        self.count += 1
        self.size += len(data)

    def close_output(self) -> None:
        at = self.out_at
        assert at is not None
        if not self.count:
            self.at = at
        # The chunks go into the batch as they are: copied once, when it is encoded.
        self.entries += raw_result_entry_parts(at, self.out, self.out_size, RAW_FORMAT)
        self.count += 1
        self.size += self.out_size
        self.out = []
        self.out_at = None
        self.out_size = 0

    def flush(self) -> None:
        if self.out_at is not None:
            self.close_output()
        if self.count:
            self.writer.append_batch(self.entries, self.at, self.count)
            self.entries = []
            self.count = 0
            self.size = 0


class _Handle:
    __slots__ = ("_append", "_recorder", "_session_id")

    def __init__(self, recorder: SignedRecorder, session_id: str) -> None:
        self._recorder = recorder
        self._session_id = session_id
        self._append = recorder._buffer.append  # the hot path: one call per event

    @property
    def healthy(self) -> bool:
        return self._recorder.healthy

    def statement(self, record: StatementRecord) -> None:
        self._append(record)

    def output(self, data: bytes) -> None:
        self._append((self._session_id, time.time_ns() // 1000, data))
        self._recorder._queued += len(data)  # after the append: see `_round`

    @property
    def backlogged(self) -> bool:
        return self._recorder.backlogged

    def end(self, end: SessionEnd) -> None:
        self._append(end)


def _entry(record: StatementRecord) -> tuple[int, bytes]:
    """The time (µs) and batch entry of the event a session record stands for (approvals,
    masking counts and errors have types of their own; everything else is a statement)."""
    at = to_micros(record.at)
    kind = record.kind
    if kind == "masking":
        try:
            counts = json.loads(record.text)
        except ValueError:
            counts = {}
        return at, event_entry(at, MaskingEvent(record.at, counts, record.seq))
    if kind == "approval":
        event = ApprovalEvent(record.at, record.verdict, None, record.text, record.seq)
        return at, event_entry(at, event)
    if kind == "error":
        code = (record.error or "").rpartition(" ")[2] or None
        return at, event_entry(at, ErrorEvent(record.at, record.error or "error", code, record.seq))
    return at, statement_entry(at, record.text, kind, record.verdict, record.rule, record.seq)


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
    __slots__ = ("_handles", "_outputs")

    def __init__(self, handles: tuple[SessionRecorder, ...]) -> None:
        self._handles = handles
        # Output goes only where it is recorded (the store's index keeps none): this runs
        # for every reply a session sends.
        self._outputs = tuple(h for h in handles if getattr(h, "records_output", True))

    @property
    def healthy(self) -> bool:
        # Asked before every command (and every Bind): a loop, not all() over a generator.
        for h in self._handles:  # noqa: SIM110
            if not h.healthy:
                return False
        return True

    def statement(self, record: StatementRecord) -> None:
        for h in self._handles:
            h.statement(record)

    def output(self, data: bytes) -> None:
        for h in self._outputs:
            h.output(data)

    @property
    def backlogged(self) -> bool:
        for h in self._outputs:  # noqa: SIM110 - asked after every reply: no generator
            if h.backlogged:
                return True
        return False

    def end(self, end: SessionEnd) -> None:
        for h in self._handles:
            h.end(end)
