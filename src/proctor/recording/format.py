"""The recording format, version 2: records, framing, hashing (docs/recording-format.md).

A session is a chain of records. Each record is a deterministic-CBOR array
``[type, seq, at, prev, stag, body]``; ``prev`` is the hash of the record before it (for
seq 0, the session's genesis value), so altering, dropping, reordering or splicing any
record breaks every hash after it. Records are stored in segments: an 8-byte magic, then
frames of ``u32 big-endian length || record``. Every segment a writer produces ends with a
signed record (checkpoint or seal), so whatever reached storage is signed.

Version 2 adds one record type, the batch (9): several events in one record, so the
gateway pays for one encryption, one record and one hash per batch instead of per event.
Version 1 recordings (no batches) still read and verify; the framing is unchanged.

Hashes cover the record bytes exactly as stored, so a verifier never re-encodes anything
and needs no CBOR canonicalisation of its own to check the chain.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

import cbor2

FORMAT_VERSION = 2  # what the writer writes (the start record's "fmt")
FORMAT_VERSIONS = frozenset({1, 2})  # what readers and the verifier accept
BATCH_FORMAT = 2  # the first version with batch records
SEGMENT_MAGIC = b"PRCTSEG\x01"  # last byte: framing version (1 in format versions 1 and 2)
MAX_RECORD = 64 * 1024 * 1024  # a larger length prefix is corruption, not a record
_LEN = struct.Struct(">I")

_GENESIS_DOMAIN = b"proctor-recording-v1 genesis\x00"
_EVENT_DOMAIN = b"proctor-recording-v1 event\x00"
_SIGNATURE_DOMAIN = b"proctor-recording-v1 signature\x00"
_EVENT_HASHER = hashlib.sha256(_EVENT_DOMAIN)  # copied per record: saves re-hashing the domain

# Session ids become storage keys: keep them to one safe path segment.
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class RecordType(IntEnum):
    START = 1
    STATEMENT = 2
    APPROVAL = 3
    ERROR = 4
    RESULT = 5
    MASKING = 6
    TERMINAL = 7
    END = 8
    BATCH = 9  # format 2: several events of types 2-7 in one record (batch.py)
    CHECKPOINT = 64
    SEAL = 65


SIGNED_TYPES = frozenset({RecordType.CHECKPOINT, RecordType.SEAL})
CONTENT_TYPES = frozenset(t for t in RecordType if t not in SIGNED_TYPES)


class FormatError(ValueError):
    """Bytes that are not a well-formed record or segment."""


def check_session_id(session_id: str) -> str:
    if not _SESSION_ID.fullmatch(session_id):
        raise ValueError(f"invalid session id {session_id!r}: use [A-Za-z0-9_-], max 128")
    return session_id


def genesis(session_id: str) -> bytes:
    """The ``prev`` of record 0: binds the chain to the session id, so records of one
    session can never continue another's chain."""
    return hashlib.sha256(_GENESIS_DOMAIN + session_id.encode()).digest()


def session_tag(session_id: str) -> bytes:
    """8 bytes in every record naming its session, so a verifier can say "this record
    belongs to another session" instead of only "hash mismatch"."""
    return genesis(session_id)[:8]


def record_hash(record: bytes, *more: bytes) -> bytes:
    """The hash of a record given whole or as consecutive parts (no join needed)."""
    h = _EVENT_HASHER.copy()
    h.update(record)
    for part in more:
        h.update(part)
    return h.digest()


def signature_input(fields: list[Any]) -> bytes:
    """What a checkpoint or seal signs: the record's fields with ``sig`` removed from the
    body, canonically encoded, after a domain string (a signature made for anything else
    can never be replayed as one of ours)."""
    return _SIGNATURE_DOMAIN + dumps(fields)


def dumps(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def to_micros(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("recording timestamps must be timezone-aware (UTC)")
    return (at - _EPOCH) // _US


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True, slots=True)
class Record:
    type: int
    seq: int
    at: int  # microseconds since the Unix epoch, UTC
    prev: bytes
    stag: bytes
    body: Any  # bytes for content records except START; a map for START and signed ones
    raw: bytes  # the exact stored bytes the hash covers
    hash: bytes


def encode_record(
    rtype: int, seq: int, at: int, prev: bytes, stag: bytes, body: Any
) -> tuple[bytes, bytes]:
    """The record's bytes and hash."""
    raw = dumps([rtype, seq, at, prev, stag, body])
    return raw, record_hash(raw)


_SMALL_HEADS = tuple(tuple(bytes((major << 5 | n,)) for n in range(24)) for major in range(8))
_HEAD1 = tuple(bytes((major << 5 | 24,)) for major in range(8))
_HEAD2 = tuple(bytes((major << 5 | 25,)) for major in range(8))
_HEAD4 = tuple(bytes((major << 5 | 26,)) for major in range(8))
_HEAD8 = tuple(bytes((major << 5 | 27,)) for major in range(8))


def head(major: int, n: int) -> bytes:
    """A CBOR item head in its shortest form (RFC 8949 §4.2.1): major type ``major``
    (0 uint, 2 bstr, 3 tstr, 4 array, 5 map) with argument ``n`` (value or length)."""
    if n < 24:
        return _SMALL_HEADS[major][n]
    if n < 0x100:
        return _HEAD1[major] + n.to_bytes(1, "big")
    if n < 0x10000:
        return _HEAD2[major] + n.to_bytes(2, "big")
    if n < 0x100000000:
        return _HEAD4[major] + n.to_bytes(4, "big")
    return _HEAD8[major] + n.to_bytes(8, "big")


_ARRAY6 = b"\x86"
_BSTR32 = b"\x58\x20"
_BSTR8 = b"\x48"


def encode_content_record(
    rtype: int, seq: int, at: int, prev: bytes, stag: bytes, body: bytes
) -> bytes:
    """``dumps([rtype, seq, at, prev, stag, body])`` for a byte-string body, built by hand:
    the same bytes (a test holds them equal) for a third of cbor2's per-call cost, on the
    per-event hot path."""
    return content_record_head(rtype, seq, at, prev, stag, len(body)) + body


def content_record_head(
    rtype: int, seq: int, at: int, prev: bytes, stag: bytes, body_size: int
) -> bytes:
    """`encode_content_record`'s bytes up to the body: a large body (a batch of result
    bytes) is then written after it as it is, not copied into one record first."""
    return b"".join(
        (
            _ARRAY6,
            head(0, rtype),
            head(0, seq),
            head(0, at),
            _BSTR32,
            prev,
            _BSTR8,
            stag,
            head(2, body_size),
        )
    )


def frame(raw: bytes) -> bytes:
    return _LEN.pack(len(raw)) + raw


def decode_record(raw: bytes) -> Record:
    try:
        fields = cbor2.loads(raw)
    except Exception as exc:  # cbor2 raises several types for garbage; all mean the same
        raise FormatError(f"not CBOR: {exc}") from None
    if not (isinstance(fields, list) and len(fields) == 6):
        raise FormatError("a record is an array of 6 fields")
    rtype, seq, at, prev, stag, body = fields
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (rtype, seq, at)):
        raise FormatError("type, seq and at must be integers")
    if not (isinstance(prev, bytes) and len(prev) == 32):
        raise FormatError("prev must be 32 bytes")
    if not (isinstance(stag, bytes) and len(stag) == 8):
        raise FormatError("stag must be 8 bytes")
    if rtype not in RecordType.__members__.values():
        raise FormatError(f"unknown record type {rtype}")
    if rtype in SIGNED_TYPES or rtype == RecordType.START:
        if not isinstance(body, dict):
            raise FormatError(f"record type {rtype} needs a map body")
    elif not isinstance(body, bytes):
        raise FormatError(f"record type {rtype} needs a byte-string body")
    return Record(rtype, seq, at, prev, stag, body, raw, record_hash(raw))


@dataclass(frozen=True, slots=True)
class Frame:
    offset: int  # where the length prefix starts in the segment
    raw: bytes


class Truncated(FormatError):
    def __init__(self, offset: int, need: int, have: int) -> None:
        super().__init__(f"truncated at byte {offset}: frame needs {need} bytes, {have} left")
        self.offset = offset


def iter_frames(segment: bytes) -> Iterator[Frame]:
    """The frames of a segment; ``Truncated`` / ``FormatError`` at the first bad byte."""
    if segment[: len(SEGMENT_MAGIC)] != SEGMENT_MAGIC:
        raise FormatError("not a version 1 segment (bad magic)")
    pos = len(SEGMENT_MAGIC)
    end = len(segment)
    while pos < end:
        if end - pos < 4:
            raise Truncated(pos, 4, end - pos)
        (length,) = _LEN.unpack_from(segment, pos)
        if length == 0 or length > MAX_RECORD:
            raise FormatError(f"implausible record length {length} at byte {pos}")
        if end - pos - 4 < length:
            raise Truncated(pos, length + 4, end - pos)
        yield Frame(pos, segment[pos + 4 : pos + 4 + length])
        pos += 4 + length
