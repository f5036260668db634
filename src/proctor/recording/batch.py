"""Batch records (format 2): several events in one record.

A batch record (type 9) has, as payload, the deterministic CBOR of an array of entries,
``[[type, at, payload-map], ...]`` — the same event maps a record of that type would hold
(docs/recording-format.md §5, §6). The gateway's recorder puts all events one session
produced during one recorder round into one batch, so per statement it pays for one
payload encoding instead of a payload, an encryption, a record and a hash per event.

The encoders below build the CBOR by hand for the two events of every statement (the
statement itself and the raw result bytes the client was sent): the same bytes cbor2's
canonical encoder gives (``test_batch.py`` holds them equal under Hypothesis), for a
fraction of its per-call cost. Every other event goes through ``event_entry``, which uses
the canonical encoder.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import cbor2

from proctor.recording.events import EVENT_CLASSES, Event
from proctor.recording.format import FormatError, RecordType, dumps, head

# Events that may appear in a batch: not the start (record 0, a map body of its own), not
# the end (the record before the seal: a verifier sees where a session ended without
# decrypting), and never signed records.
BATCHABLE = frozenset(
    {
        RecordType.STATEMENT,
        RecordType.APPROVAL,
        RecordType.ERROR,
        RecordType.RESULT,
        RecordType.MASKING,
        RecordType.TERMINAL,
    }
)
_BATCHABLE_INTS = frozenset(int(t) for t in BATCHABLE)

_NULL = b"\xf6"
_STATEMENT_ENTRY = b"\x83" + head(0, RecordType.STATEMENT)
_RESULT_ENTRY = b"\x83" + head(0, RecordType.RESULT)
# Statement payload keys in canonical order: kind, rule, stmt, text (4 bytes, bytewise),
# then verdict.
_MAP5_KIND = b"\xa5\x64kind"
_RULE = b"\x64rule"
_STMT = b"\x64stmt"
_TEXT = b"\x64text"
_VERDICT = b"\x67verdict"
# Result payload keys in canonical order: raw, rows, stmt, masked, columns, row_count,
# raw_format; for a raw result rows and columns are empty, row_count 0, masked empty.
_MAP7_RAW = b"\xa7\x63raw"
_RESULT_MIDDLE = b"\x64rows\x80\x64stmt"
_RESULT_TAIL = b"\x66masked\xa0\x67columns\x80\x69row_count\x00\x6araw_format"


_U64 = struct.Struct(">BQ")
_WORDS: dict[str, bytes] = {}  # encoded kinds, verdicts, rule names: a small set, reused
_MAX_WORDS = 1024


def _word(text: str) -> bytes:
    """A text string item, for the few distinct values of a field like ``kind``."""
    item = _WORDS.get(text)
    if item is None:
        data = text.encode()
        item = head(3, len(data)) + data
        if len(_WORDS) < _MAX_WORDS:
            _WORDS[text] = item
    return item


def statement_entry(
    at: int, text: str, kind: str, verdict: str, rule: str | None, statement: int | None
) -> bytes:
    """The entry of ``StatementEvent(at, text, kind, verdict, rule, statement)``."""
    data = text.encode()
    return b"".join(
        (
            _STATEMENT_ENTRY,
            _U64.pack(0x1B, at) if at > 0xFFFFFFFF else head(0, at),
            _MAP5_KIND,
            _word(kind),
            _RULE,
            _NULL if rule is None else _word(rule),
            _STMT,
            _NULL if statement is None else head(0, statement),
            _TEXT,
            head(3, len(data)),
            data,
            _VERDICT,
            _word(verdict),
        )
    )


def raw_result_entry(at: int, raw: bytes, raw_format: str, statement: int | None = None) -> bytes:
    """The entry of ``ResultEvent(at, (), raw=raw, raw_format=raw_format,
    statement=statement)``: bytes the client was sent, recorded as they were."""
    return b"".join(raw_result_entry_parts(at, (raw,), len(raw), raw_format, statement))


def raw_result_entry_parts(
    at: int,
    chunks: Sequence[bytes],
    size: int,
    raw_format: str,
    statement: int | None = None,
) -> list[bytes]:
    """`raw_result_entry` of ``b"".join(chunks)`` (``size`` bytes) as consecutive parts, the
    chunks among them uncopied: a result's megabytes are copied once, into the batch."""
    return [
        _RESULT_ENTRY,
        _U64.pack(0x1B, at) if at > 0xFFFFFFFF else head(0, at),
        _MAP7_RAW,
        head(2, size),
        *chunks,
        _RESULT_MIDDLE,
        _NULL if statement is None else head(0, statement),
        _RESULT_TAIL,
        _word(raw_format),
    ]


def event_entry(at: int, event: Event) -> bytes:
    """The entry of any batchable event (canonical encoder: correct for every payload)."""
    if event.TYPE not in BATCHABLE:
        raise ValueError(f"a {event.TYPE.name.lower()} event cannot be batched")
    return dumps([int(event.TYPE), at, event.payload()])


def batch_payload(entries: Sequence[bytes], count: int | None = None) -> bytes:
    """The batch's plaintext payload: the array of its (encoded) entries. With ``count``,
    ``entries`` are the consecutive parts of that many entries (`raw_result_entry_parts`)."""
    return b"".join((head(4, len(entries) if count is None else count), *entries))


def decode_batch(plain: bytes) -> list[tuple[int, int, dict[str, Any]]]:
    """A batch payload's entries as (type, at, payload map); FormatError if it is not one."""
    try:
        entries = cbor2.loads(plain)
    except Exception as exc:  # cbor2 raises several types for garbage; all mean the same
        raise FormatError(f"batch payload is not CBOR: {exc}") from None
    if not isinstance(entries, list) or not entries:
        raise FormatError("a batch payload is a non-empty array of entries")
    out: list[tuple[int, int, dict[str, Any]]] = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, list) and len(entry) == 3):
            raise FormatError(f"batch entry {i} is not [type, at, payload]")
        rtype, at, payload = entry
        if not (isinstance(rtype, int) and rtype in _BATCHABLE_INTS and rtype in EVENT_CLASSES):
            raise FormatError(f"batch entry {i}: type {rtype!r} cannot be in a batch")
        if not (isinstance(at, int) and not isinstance(at, bool) and at >= 0):
            raise FormatError(f"batch entry {i}: at must be an unsigned integer")
        if not isinstance(payload, dict):
            raise FormatError(f"batch entry {i}: payload is not a map")
        out.append((rtype, at, payload))
    return out
