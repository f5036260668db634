"""The per-session recording writer: events in, blobs out, no I/O (sans-IO).

The gateway makes one writer per session (never shared: one tenant's events must never
reach another's recording), feeds it events, and asks it now and then for blobs to store:

    w = SessionRecordingWriter(session_id, started, signer, kek)
    w.append(StatementEvent(...))            # one event, one record
    w.append_batch([statement_entry(...), raw_result_entry(...)], at)  # many, one record
    if w.due_checkpoint(time.monotonic()):
        flush = w.checkpoint()               # a segment blob ending in a signed checkpoint
        storage.put(*flush.blob); ledger.append(flush.leaf)
    flush = w.seal(SessionEnded(...))        # the last segment, ending in the signed seal

Every blob it returns ends with a signed record, so storage only ever holds signed
prefixes: after a crash the segments already stored verify, and the session reads as
unsealed. Events appended since the last checkpoint are lost with the process; the
checkpoint interval is the window of loss (``checkpoint_every`` events /
``checkpoint_interval`` seconds).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import cbor2

from proctor.recording.batch import batch_payload
from proctor.recording.events import PRESORTED, Event, SessionEnded, SessionStarted
from proctor.recording.format import (
    FORMAT_VERSION,
    SEGMENT_MAGIC,
    RecordType,
    check_session_id,
    content_record_head,
    dumps,
    encode_content_record,
    encode_record,
    genesis,
    record_hash,
    session_tag,
    signature_input,
    to_micros,
)
from proctor.recording.keys import DataKey, KeyEncryptionKey, SigningKey
from proctor.recording.layout import segment_key
from proctor.recording.leaves import SessionLeaf

_LEN = struct.Struct(">I")
# A segment is closed (by a checkpoint) once it holds this much, whatever the event count and
# time: a session streaming a large result keeps at most this much of it in memory, and each
# storage write stays this size.
SEGMENT_BYTES = 8 * 1024 * 1024
_AAD = struct.Struct(">8sBQ")
_BATCH = int(RecordType.BATCH)
DEK_CONTEXT = b"proctor-recording-v1 dek\x00"
ENCRYPTION_ALG = "A256GCM"


def payload_aad(stag: bytes, rtype: int, seq: int) -> bytes:
    """Binds each ciphertext to its session, type and position: a ciphertext moved
    elsewhere does not decrypt, even before the chain check notices."""
    return _AAD.pack(stag, rtype, seq)


class RecordingClosed(Exception):
    """The session is sealed: nothing more can be appended."""


@dataclass(frozen=True, slots=True)
class Flush:
    """One blob to store, and the ledger leaf that commits to it (store the blob first:
    a leaf naming a blob that never reached storage reads as a missing segment)."""

    blob: tuple[str, bytes]
    leaf: SessionLeaf


class SessionRecordingWriter:
    def __init__(
        self,
        session_id: str,
        started: SessionStarted,
        signer: SigningKey,
        kek: KeyEncryptionKey | None,
        *,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 5.0,
        now: float | None = None,
    ) -> None:
        self.session_id = check_session_id(session_id)
        self._signer = signer
        self._stag = session_tag(session_id)
        self._prev = genesis(session_id)
        self._seq = 0
        self._segment = 0
        # The segment's bytes as parts, joined once when it is closed (a batch record's body
        # can be megabytes: appending it to a bytearray would copy it again).
        self._buf: list[bytes] = [SEGMENT_MAGIC]
        self._size = len(SEGMENT_MAGIC)  # bytes in ``_buf``
        self._pending = 0  # events since the last checkpoint (a batch counts its entries)
        self._every = checkpoint_every
        self._interval = checkpoint_interval
        self._last = time.monotonic() if now is None else now
        self._sealed = False
        self._dek: DataKey | None = None
        enc: dict[str, object] | None = None
        if kek is not None:
            self._dek = DataKey.generate()
            wrapped = kek.wrap(self._dek.key, DEK_CONTEXT + session_id.encode())
            enc = {"alg": ENCRYPTION_ALG, "kek": kek.id, "wrapped": wrapped}
        # The start record carries in clear what a reader needs before decrypting: the
        # session id, the format version, and the wrapped data key (under the chain, so
        # swapping in another wrapped key is tamper like any other).
        body = {
            "sid": session_id,
            "fmt": FORMAT_VERSION,
            "enc": enc,
            "payload": self._seal_payload(RecordType.START, 0, started),
        }
        self._emit(RecordType.START, to_micros(started.at), body)

    @property
    def sealed(self) -> bool:
        return self._sealed

    @property
    def records(self) -> int:
        """Records written so far, checkpoints included (= the next seq)."""
        return self._seq

    @property
    def segment_full(self) -> bool:
        """The open segment holds `SEGMENT_BYTES` or more: close it with a checkpoint."""
        return self._size >= SEGMENT_BYTES

    @property
    def pending(self) -> int:
        """Events buffered since the last checkpoint (a batch counts as its entries)."""
        return self._pending

    def _seal_payload(self, rtype: int, seq: int, event: Event) -> bytes:
        plain = dumps(event.payload())
        if self._dek is None:
            return plain
        return self._dek.encrypt(seq, plain, payload_aad(self._stag, rtype, seq))

    def _emit(self, rtype: int, at: int, body: object) -> bytes:
        raw, digest = encode_record(rtype, self._seq, at, self._prev, self._stag, body)
        self._buf += (_LEN.pack(len(raw)), raw)
        self._size += 4 + len(raw)
        self._prev = digest
        self._seq += 1
        self._pending += 1
        return digest

    def append(self, event: Event) -> None:
        """Record one event (not the start: that is the constructor's)."""
        if self._sealed:
            raise RecordingClosed(f"session {self.session_id} is sealed")
        rtype = event.TYPE
        if rtype == RecordType.START:
            raise ValueError("a session has exactly one start event, given at creation")
        seq = self._seq
        # Inlined _emit: this is the per-statement hot path. PRESORTED payloads list their
        # keys in canonical order already, so the (4x slower) canonical encoder is not
        # needed for them: test_payloads_are_canonical holds them to that.
        plain = cbor2.dumps(event.payload()) if rtype in PRESORTED else dumps(event.payload())
        body = (
            plain
            if self._dek is None
            else self._dek.encrypt(seq, plain, _AAD.pack(self._stag, rtype, seq))
        )
        raw = encode_content_record(rtype, seq, to_micros(event.at), self._prev, self._stag, body)
        self._buf += (_LEN.pack(len(raw)), raw)
        self._size += 4 + len(raw)
        self._prev = record_hash(raw)
        self._seq = seq + 1
        self._pending += 1

    def append_batch(self, entries: Sequence[bytes], at: int, count: int | None = None) -> None:
        """Record several events as one batch record (format 2). ``entries``: encoded by
        ``proctor.recording.batch`` (``statement_entry``, ``raw_result_entry``,
        ``event_entry``), in the order the events happened; ``at``: the first one's time,
        µs since the epoch (the record's own ``at``). With ``count``, ``entries`` are the
        consecutive parts of that many entries (`batch_payload`)."""
        if self._sealed:
            raise RecordingClosed(f"session {self.session_id} is sealed")
        if not entries:
            return
        seq = self._seq
        plain = batch_payload(entries, count)
        body = (
            plain
            if self._dek is None
            else self._dek.encrypt(seq, plain, _AAD.pack(self._stag, _BATCH, seq))
        )
        head = content_record_head(_BATCH, seq, at, self._prev, self._stag, len(body))
        self._buf += (_LEN.pack(len(head) + len(body)), head, body)
        self._size += 4 + len(head) + len(body)
        self._prev = record_hash(head, body)
        self._seq = seq + 1
        self._pending += len(entries) if count is None else count

    def due_checkpoint(self, now: float) -> bool:
        """``now`` from ``time.monotonic()``: wall clock jumps must not delay checkpoints."""
        if self._sealed or not self._pending:
            return False
        return (
            self._pending >= self._every
            or now - self._last >= self._interval
            or self._size >= SEGMENT_BYTES
        )

    def checkpoint(self, at: datetime | None = None, now: float | None = None) -> Flush | None:
        """The current segment, closed by a signed checkpoint; None if nothing is pending."""
        if self._sealed or not self._pending:
            return None
        return self._close_segment(RecordType.CHECKPOINT, at, now)

    def seal(self, end: SessionEnded, at: datetime | None = None) -> Flush:
        """Append the end event and close the recording with the signed seal."""
        self.append(end)
        return self._close_segment(RecordType.SEAL, at or end.at, None)

    def _close_segment(self, rtype: int, at: datetime | None, now: float | None) -> Flush:
        at_us = to_micros(at or datetime.now(UTC))
        seq = self._seq
        body: dict[str, object] = {
            "sid": self.session_id,
            "segment": self._segment,
            "kid": self._signer.id,
        }
        body["sig"] = self._signer.sign(
            signature_input([rtype, seq, at_us, self._prev, self._stag, body])
        )
        digest = self._emit(rtype, at_us, body)
        blob = (segment_key(self.session_id, self._segment), b"".join(self._buf))
        leaf = SessionLeaf(
            self.session_id,
            self._segment,
            seq,
            digest,
            self._signer.id,
            sealed=rtype == RecordType.SEAL,
        )
        self._segment += 1
        self._buf = [SEGMENT_MAGIC]
        self._size = len(SEGMENT_MAGIC)
        self._pending = 0
        self._last = time.monotonic() if now is None else now
        if rtype == RecordType.SEAL:
            self._sealed = True
        return Flush(blob, leaf)
