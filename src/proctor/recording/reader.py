"""Reading a recording back: decrypt and decode events, for replay and export.

The reader checks the hash chain as it goes (cheap, and a replay of a tampered recording
must not look authentic) but not signatures: run ``verify_session`` for a verdict. It
needs the key-encryption key; the verifier does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import cbor2

from proctor.recording import layout
from proctor.recording.batch import decode_batch
from proctor.recording.events import EVENT_CLASSES, Event
from proctor.recording.format import (
    BATCH_FORMAT,
    CONTENT_TYPES,
    FORMAT_VERSIONS,
    FormatError,
    RecordType,
    decode_record,
    from_micros,
    genesis,
    iter_frames,
)
from proctor.recording.keys import DataKey, KeyEncryptionKey, RecordingKeyError
from proctor.recording.session_writer import DEK_CONTEXT, ENCRYPTION_ALG, payload_aad
from proctor.recording.storage.base import BlobStorage


class RecordingCorrupt(Exception):
    """The recording cannot be read as stored; ``verify_session`` says precisely why."""


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    seq: int  # the record's seq
    at: datetime
    event: Event
    index: int | None = None  # its position in a batch record (format 2); None otherwise


def read_session(
    storage: BlobStorage, session_id: str, keks: Iterable[KeyEncryptionKey] = ()
) -> Iterator[RecordedEvent]:
    """The session's events in order (checkpoints and seal skipped). ``keks``: every KEK
    that may have wrapped the data key (more than one across a KEK rotation)."""
    by_id = {k.id: k for k in keks}
    prev = genesis(session_id)
    seq = 0
    dek: DataKey | None = None
    encrypted = False
    fmt = 0
    keys = [k for k in storage.list(layout.session_prefix(session_id))]
    segments = sorted(i for k in keys if (i := layout.segment_index(k)) is not None)
    if segments != list(range(len(segments))):
        raise RecordingCorrupt(f"session {session_id}: segments missing")
    for index in segments:
        blob = storage.get(layout.segment_key(session_id, index))
        try:
            for fr in iter_frames(blob):
                rec = decode_record(fr.raw)
                if rec.seq != seq or rec.prev != prev:
                    raise RecordingCorrupt(f"session {session_id}: chain broken at record {seq}")
                prev, seq = rec.hash, seq + 1
                if rec.type not in CONTENT_TYPES:
                    continue
                if rec.type == RecordType.START:
                    body = rec.body
                    fmt = body.get("fmt")
                    if fmt not in FORMAT_VERSIONS or body.get("sid") != session_id:
                        raise RecordingCorrupt("start record of another format or session")
                    enc = body.get("enc")
                    if enc is not None:
                        encrypted = True
                        dek = _open_data_key(session_id, enc, by_id)
                    ciphertext = body.get("payload")
                else:
                    ciphertext = rec.body
                if not isinstance(ciphertext, bytes):
                    raise RecordingCorrupt(f"record {rec.seq}: no payload")
                plain = ciphertext
                if encrypted:
                    assert dek is not None
                    plain = dek.decrypt(
                        rec.seq, ciphertext, payload_aad(rec.stag, rec.type, rec.seq)
                    )
                if rec.type == RecordType.BATCH:
                    if fmt < BATCH_FORMAT:
                        raise RecordingCorrupt(
                            f"record {rec.seq}: a batch in a format {fmt} session"
                        )
                    for index, (etype, at_us, entry) in enumerate(decode_batch(plain)):
                        at = from_micros(at_us)
                        event = EVENT_CLASSES[etype].from_payload(at, entry)
                        yield RecordedEvent(rec.seq, at, event, index)
                    continue
                payload = cbor2.loads(plain)
                if not isinstance(payload, dict):
                    raise RecordingCorrupt(f"record {rec.seq}: payload is not a map")
                at = from_micros(rec.at)
                yield RecordedEvent(rec.seq, at, EVENT_CLASSES[rec.type].from_payload(at, payload))
        except FormatError as exc:
            raise RecordingCorrupt(f"session {session_id}, segment {index}: {exc}") from None


def _open_data_key(session_id: str, enc: object, keks: dict[str, KeyEncryptionKey]) -> DataKey:
    if not isinstance(enc, dict) or enc.get("alg") != ENCRYPTION_ALG:
        raise RecordingCorrupt("unsupported payload encryption")
    kek = keks.get(str(enc.get("kek")))
    if kek is None:
        raise RecordingKeyError(
            f"session {session_id} is encrypted under key-encryption key {enc.get('kek')}, "
            "which was not given"
        )
    wrapped = enc.get("wrapped")
    if not isinstance(wrapped, bytes):
        raise RecordingCorrupt("start record without a wrapped data key")
    return DataKey(kek.unwrap(wrapped, DEK_CONTEXT + session_id.encode()))
