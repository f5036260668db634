"""Format 2: batch records (several events in one record), and the recorder that writes them.

Also: recordings of format 1 (no batches), written before format 2 existed, still verify and
read (tests/vectors/recording/v1, made by the format-1 gateway recorder)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.model import SessionEnd, SessionStart, StatementRecord
from proctor.recording import session_writer
from proctor.recording.batch import (
    batch_payload,
    decode_batch,
    event_entry,
    raw_result_entry,
    raw_result_entry_parts,
    statement_entry,
)
from proctor.recording.events import (
    ApprovalEvent,
    ErrorEvent,
    Event,
    MaskingEvent,
    ResultEvent,
    SessionEnded,
    SessionStarted,
    StatementEvent,
    TerminalOutput,
)
from proctor.recording.format import (
    FORMAT_VERSION,
    FormatError,
    RecordType,
    decode_record,
    dumps,
    from_micros,
    iter_frames,
    to_micros,
)
from proctor.recording.keys import FileKeyEncryptionKey, PublicKeys, SigningKey
from proctor.recording.keystore import RecordingKeys
from proctor.recording.pgstream import RAW_FORMAT
from proctor.recording.reader import RecordingCorrupt, read_session
from proctor.recording.recorder import SignedRecorder
from proctor.recording.session_writer import SessionRecordingWriter
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.verify import Reason, Status, verify_all, verify_session

from .helpers import T0, ended, started

SIGNER = SigningKey.generate()
KEYS = PublicKeys([SIGNER.public])
V1 = Path(__file__).parents[2] / "vectors" / "recording" / "v1"
AT = to_micros(T0)

texts = st.text(max_size=40)
uints = st.integers(0, 2**64 - 1)


@settings(max_examples=300, deadline=None)
@given(uints, texts, texts, texts, st.none() | texts, st.none() | uints)
def test_statement_entry_is_canonical_cbor(
    at: int, text: str, kind: str, verdict: str, rule: str | None, stmt: int | None
) -> None:
    event = StatementEvent(T0, text, kind, verdict, rule, stmt)
    assert statement_entry(at, text, kind, verdict, rule, stmt) == dumps([2, at, event.payload()])


@settings(max_examples=300, deadline=None)
@given(uints, st.binary(max_size=300), texts, st.none() | uints)
def test_raw_result_entry_is_canonical_cbor(
    at: int, raw: bytes, raw_format: str, stmt: int | None
) -> None:
    event = ResultEvent(T0, (), raw=raw, raw_format=raw_format, statement=stmt)
    assert raw_result_entry(at, raw, raw_format, stmt) == dumps([5, at, event.payload()])


def test_start_and_end_are_never_batched() -> None:
    with pytest.raises(ValueError, match="cannot be batched"):
        event_entry(AT, started())
    with pytest.raises(ValueError, match="cannot be batched"):
        event_entry(AT, ended())


@pytest.mark.parametrize(
    ("plain", "message"),
    [
        (b"\xff", "not CBOR"),
        (dumps({"a": 1}), "non-empty array"),
        (dumps([]), "non-empty array"),
        (dumps([[2, AT]]), "not \\[type, at, payload\\]"),
        (dumps([[1, AT, {}]]), "type 1 cannot be in a batch"),
        (dumps([[8, AT, {}]]), "type 8 cannot be in a batch"),
        (dumps([[9, AT, {}]]), "type 9 cannot be in a batch"),
        (dumps([[64, AT, {}]]), "type 64 cannot be in a batch"),
        (dumps([[2, -1, {}]]), "at must be an unsigned integer"),
        (dumps([[2, AT, b"x"]]), "payload is not a map"),
    ],
)
def test_malformed_batches(plain: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode_batch(plain)


def batched_events() -> list[Event]:
    s = timedelta(seconds=1)
    return [
        StatementEvent(T0 + s, "SELECT 1", "query", "allow", "read", 1),
        ResultEvent(T0 + 2 * s, (), raw=b"T\x00\x00\x00\x04", raw_format=RAW_FORMAT),
        ApprovalEvent(T0 + 3 * s, "approved", None, "request r1", 2),
        ErrorEvent(T0 + 4 * s, "ERROR 42501", "42501", 3),
        MaskingEvent(T0 + 5 * s, {"email": {"email": 2}}, 4),
        TerminalOutput(T0 + 6 * s, b"$ ls\r\n", "o"),
    ]


def entries_of(events: Sequence[Event]) -> list[bytes]:
    return [event_entry(to_micros(e.at), e) for e in events]


@pytest.mark.parametrize("encrypt", [False, True])
def test_batches_round_trip_and_verify(tmp_path: Path, encrypt: bool) -> None:
    storage = LocalBlobStorage(tmp_path)
    kek = FileKeyEncryptionKey(b"k" * 32) if encrypt else None
    w = SessionRecordingWriter("s", started(), SIGNER, kek, checkpoint_interval=1e9)
    events = batched_events()
    w.append_batch(entries_of(events[:4]), to_micros(events[0].at))
    w.append(events[4])  # single-event records and batches mix freely
    flush = w.checkpoint(T0)
    assert flush is not None
    storage.put(*flush.blob)
    w.append_batch(entries_of(events[5:]), to_micros(events[5].at))
    w.append_batch([], AT)  # nothing: no record
    storage.put(*w.seal(ended()).blob)

    report = verify_session(storage, "s", KEYS)
    assert report.ok and report.status is Status.SEALED, report.problems
    # start, batch, masking, checkpoint | batch, end, seal
    assert report.records == 7
    read = list(read_session(storage, "s", [kek] if kek else []))
    assert [r.event for r in read] == [started(), *events, ended()]
    assert [(r.seq, r.index) for r in read] == [
        (0, None),
        (1, 0),
        (1, 1),
        (1, 2),
        (1, 3),
        (2, None),
        (4, 0),
        (5, None),
    ]
    assert [r.at for r in read[1:5]] == [e.at for e in events[:4]]  # each event's own time
    records = [decode_record(f.raw) for f in iter_frames(flush.blob[1])]
    assert records[1].type == RecordType.BATCH and records[1].at == to_micros(events[0].at)
    assert records[0].body["fmt"] == FORMAT_VERSION == 2


def test_a_batch_counts_its_events_towards_the_checkpoint() -> None:
    w = SessionRecordingWriter("s", started(), SIGNER, None, checkpoint_every=5, now=0.0)
    assert w.pending == 1  # the start
    w.append_batch(entries_of(batched_events()[:4]), AT)
    assert w.pending == 5 and w.records == 2
    assert w.due_checkpoint(0.0)


def test_any_byte_flip_in_a_batch_is_detected(tmp_path: Path) -> None:
    w = SessionRecordingWriter("s", started(), SIGNER, None, checkpoint_interval=1e9)
    w.append_batch(entries_of(batched_events()), AT)
    blob = w.seal(ended()).blob[1]
    frames = list(iter_frames(blob))
    batch = frames[1]
    for pos in range(batch.offset, batch.offset + 4 + len(batch.raw)):
        damaged = bytearray(blob)
        damaged[pos] ^= 0x01
        storage = LocalBlobStorage(tmp_path / str(pos))
        storage.put("sessions/s/000000.seg", bytes(damaged))
        report = verify_session(storage, "s", KEYS)
        assert not report.ok and report.status is Status.INVALID, pos


def test_a_batch_in_a_format_1_recording_is_malformed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_writer, "FORMAT_VERSION", 1)
    storage = LocalBlobStorage(tmp_path)
    w = SessionRecordingWriter("s", started(), SIGNER, None, checkpoint_interval=1e9)
    w.append_batch(entries_of(batched_events()[:1]), AT)
    storage.put(*w.seal(ended()).blob)
    report = verify_session(storage, "s", KEYS)
    problem = report.first_problem
    assert problem is not None and problem.reason is Reason.MALFORMED
    assert problem.event == 1 and "batch record in a format 1 recording" in problem.message
    with pytest.raises(RecordingCorrupt, match="batch in a format 1 session"):
        list(read_session(storage, "s"))


def test_an_unknown_format_version_is_malformed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_writer, "FORMAT_VERSION", 3)
    storage = LocalBlobStorage(tmp_path)
    w = SessionRecordingWriter("s", started(), SIGNER, None, checkpoint_interval=1e9)
    storage.put(*w.seal(ended()).blob)
    problem = verify_session(storage, "s", KEYS).first_problem
    assert problem is not None and problem.reason is Reason.MALFORMED
    assert problem.event == 0 and "unknown format version 3" in problem.message
    with pytest.raises(RecordingCorrupt, match="another format"):
        list(read_session(storage, "s"))


def test_batch_payload_is_an_array_of_entries() -> None:
    entries = entries_of(batched_events()[:2])
    assert cbor2.loads(batch_payload(entries)) == [cbor2.loads(e) for e in entries]


# -- format 1 recordings still verify and read ------------------------------------------------


def test_format_1_recordings_still_verify_and_read(tmp_path: Path) -> None:
    shutil.copytree(V1, tmp_path / "v1")
    storage = LocalBlobStorage(tmp_path / "v1" / "recordings")
    keys = PublicKeys.from_pems([(V1 / "public.pem").read_bytes()])
    audit = verify_all(storage, keys)
    assert audit.ok, [s.describe() for s in audit.sessions]
    assert [s.status for s in audit.sessions] == [Status.SEALED]
    first = next(iter_frames(storage.get("sessions/v1-session/000000.seg")))
    assert decode_record(first.raw).body["fmt"] == 1
    kek = FileKeyEncryptionKey.load(V1 / "kek.key")
    read = list(read_session(storage, "v1-session", [kek]))
    assert [type(r.event).__name__ for r in read] == [
        "SessionStarted",
        "StatementEvent",
        "ResultEvent",
        "StatementEvent",
        "ErrorEvent",
        "MaskingEvent",
        "ApprovalEvent",
        "StatementEvent",
        "ResultEvent",
        "SessionEnded",
    ]
    assert all(r.index is None for r in read)
    stmt = read[1].event
    assert isinstance(stmt, StatementEvent) and stmt.text == "SELECT id FROM t"


# -- the gateway's recorder -------------------------------------------------------------------

ROWS = b"D\x00\x00\x00\x0b\x00\x01\x00\x00\x00\x011"


def _start(sid: str) -> SessionStart:
    return SessionStart(
        id=sid,
        subject="alice",
        groups=frozenset({"eng"}),
        connection="shop",
        database="shop",
        protocol="postgres",
        client_addr="127.0.0.1:5000",
        started_at=T0,
        token_id="tok_1",
        gateway_version="0.1.0",
    )


def _statement(sid: str, seq: int, kind: str = "query", text: str = "SELECT 1") -> StatementRecord:
    return StatementRecord(
        session_id=sid,
        seq=seq,
        at=T0 + timedelta(seconds=seq),
        text=text,
        kind=kind,
        verdict="error" if kind == "error" else "allow",
        error="ERROR 42501" if kind == "error" else None,
        rule=None if kind == "error" else "read",
    )


def _end(sid: str) -> SessionEnd:
    return SessionEnd(
        id=sid,
        ended_at=T0 + timedelta(hours=1),
        reason="client-closed",
        statements=3,
        bytes_from_client=10,
        bytes_to_client=20,
    )


@pytest.mark.parametrize("every", [1000, 3])
def test_the_recorder_batches_each_sessions_events_of_a_round(tmp_path: Path, every: int) -> None:
    storage = LocalBlobStorage(tmp_path / "rec")
    kek = FileKeyEncryptionKey(b"k" * 32)
    keys = RecordingKeys(SIGNER, KEYS, kek)
    rec = SignedRecorder(storage, keys, flush_interval=3600, checkpoint_every=every)
    a, b = rec.open(_start("a")), rec.open(_start("b"))
    a.statement(_statement("a", 1))
    a.output(ROWS[:5])
    b.statement(_statement("b", 1, text="SELECT 2"))
    a.output(ROWS[5:])  # consecutive output: one result event
    a.statement(_statement("a", 2, kind="error", text=""))
    a.statement(_statement("a", 3, kind="masking", text='{"email": {"email": 1}}'))
    b.output(ROWS)
    a.end(_end("a"))
    rec.close()  # the final round: session b gets a checkpoint (unsealed: still open)

    audit = verify_all(storage, KEYS)
    by_id = {s.session_id: s for s in audit.sessions}
    assert by_id["a"].status is Status.SEALED and by_id["b"].status is Status.UNSEALED
    assert audit.ok is False and all(s.intact for s in audit.sessions)
    read = list(read_session(storage, "a", [kek]))
    kinds = [type(r.event).__name__ for r in read]
    assert kinds == [
        "SessionStarted",
        "StatementEvent",
        "ResultEvent",
        "ErrorEvent",
        "MaskingEvent",
        "SessionEnded",
    ]
    result = read[2].event
    assert isinstance(result, ResultEvent)
    assert result.raw == ROWS and result.raw_format == RAW_FORMAT
    error = read[3].event
    assert isinstance(error, ErrorEvent) and error.code == "42501" and error.statement == 2
    assert read[1].at == T0 + timedelta(seconds=1)
    if every == 1000:
        # One batch for the round: start, batch, end, seal.
        assert by_id["a"].records == 4 and {r.seq for r in read[1:5]} == {1}
    else:
        # A checkpoint as soon as `every` events are recorded (the start counts): start,
        # batch of 3, checkpoint | batch of 1, end, seal.
        assert by_id["a"].checkpoints == 2 and by_id["a"].records == 6
    assert [type(r.event).__name__ for r in read_session(storage, "b", [kek])] == [
        "SessionStarted",
        "StatementEvent",
        "ResultEvent",
    ]


def test_output_times_are_recorded(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path / "rec")
    rec = SignedRecorder(storage, RecordingKeys(SIGNER, KEYS, None), flush_interval=3600)
    handle = rec.open(_start("a"))
    before = datetime.now(UTC)
    handle.output(ROWS)
    after = datetime.now(UTC)
    handle.end(_end("a"))
    rec.close()
    result = [r for r in read_session(storage, "a") if isinstance(r.event, ResultEvent)]
    assert len(result) == 1
    assert before - timedelta(milliseconds=1) <= result[0].at <= after
    assert from_micros(to_micros(result[0].at)) == result[0].at


def test_ended_sessions_record_the_end_last(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path / "rec")
    rec = SignedRecorder(storage, RecordingKeys(SIGNER, KEYS, None), flush_interval=3600)
    handle = rec.open(_start("a"))
    handle.statement(_statement("a", 1))
    handle.output(ROWS)
    handle.end(_end("a"))
    rec.close()
    read = list(read_session(storage, "a"))
    assert isinstance(read[-1].event, SessionEnded)
    assert isinstance(read[0].event, SessionStarted)


def test_export_names_an_events_place_in_its_batch() -> None:
    from proctor.cli.recordings_support import event_json
    from proctor.recording.reader import RecordedEvent

    event = StatementEvent(T0, "SELECT 1", "query", "allow", "read", 1)
    assert event_json(RecordedEvent(4, T0, event, 2))["index"] == 2
    single = event_json(RecordedEvent(4, T0, event))
    assert "index" not in single and single["seq"] == 4
    assert list(single)[:3] == ["seq", "at", "type"]


@given(
    chunks=st.lists(st.binary(max_size=300), max_size=5), statement=st.none() | st.integers(0, 9)
)
def test_a_result_given_in_chunks_encodes_as_the_joined_result(
    chunks: list[bytes], statement: int | None
) -> None:
    raw = b"".join(chunks)
    parts = raw_result_entry_parts(AT, chunks, len(raw), RAW_FORMAT, statement)
    assert b"".join(parts) == raw_result_entry(AT, raw, RAW_FORMAT, statement)


def test_a_batch_given_as_parts_is_the_same_record_as_one_given_whole() -> None:
    # The recorder hands a result's chunks over uncopied (parts + count): the segment must
    # hold exactly the bytes of the same batch given as whole entries.
    chunks = [b"D" * 70_000, b"T" * 5, b"Z" * 1_000]
    whole = [
        statement_entry(AT, "select 1", "query", "allowed", None, 1),
        raw_result_entry(AT, b"".join(chunks), RAW_FORMAT),
    ]
    parts = [whole[0], *raw_result_entry_parts(AT, chunks, 71_005, RAW_FORMAT)]
    segments = []
    for entries, count in ((whole, None), (parts, 2)):
        w = SessionRecordingWriter("s", started(), SIGNER, None, checkpoint_interval=1e9)
        w.append_batch(entries, AT, count)
        assert w.pending == 3  # the start record and the two entries
        segments.append(w.seal(ended()).blob[1])
    assert segments[0] == segments[1]


def test_a_large_result_is_cut_into_segments_of_bounded_size(tmp_path: Path) -> None:
    # 20 MiB of output in one round: the recorder must not hold (or write) it as one
    # segment; every segment stays near SEGMENT_BYTES and the whole output reads back.
    from proctor.recording import recorder as recorder_module
    from proctor.recording.layout import segment_index, session_prefix
    from proctor.recording.session_writer import SEGMENT_BYTES

    storage = LocalBlobStorage(tmp_path / "rec")
    rec = SignedRecorder(storage, RecordingKeys(SIGNER, KEYS, None), flush_interval=3600)
    handle = rec.open(_start("big"))
    handle.statement(_statement("big", 1))
    chunk = bytes(range(256)) * 256  # 64 KiB
    for _ in range(320):
        handle.output(chunk)
    handle.end(_end("big"))
    rec.close()
    keys = [k for k in storage.list(session_prefix("big")) if segment_index(k) is not None]
    sizes = [len(storage.get(k)) for k in keys]
    assert len(sizes) >= 3
    limit = SEGMENT_BYTES + 2 * recorder_module.BATCH_BYTES
    assert max(sizes) <= limit, sizes
    assert verify_session(storage, "big", KEYS).status is Status.SEALED
    output = b"".join(
        r.event.raw or b"" for r in read_session(storage, "big") if isinstance(r.event, ResultEvent)
    )
    assert output == chunk * 320
