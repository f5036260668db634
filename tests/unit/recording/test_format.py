"""Format properties: round trip, any byte flip detected, any chunking into segments."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proctor.recording.events import (
    ErrorEvent,
    Event,
    ResultEvent,
    SessionStarted,
    StatementEvent,
    TerminalOutput,
)
from proctor.recording.format import (
    SEGMENT_MAGIC,
    FormatError,
    RecordType,
    decode_record,
    encode_record,
    frame,
    genesis,
    iter_frames,
    session_tag,
    to_micros,
)
from proctor.recording.keys import FileKeyEncryptionKey, PublicKeys, SigningKey
from proctor.recording.reader import read_session
from proctor.recording.session_writer import SessionRecordingWriter
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.verify import Status, verify_session

from .helpers import T0, ended, sample_events, started

SIGNER = SigningKey.generate()
KEYS = PublicKeys([SIGNER.public])

texts = st.text(max_size=40)
opt_texts = st.none() | texts
cells = st.none() | st.binary(max_size=20)
events = st.one_of(
    st.builds(
        StatementEvent,
        at=st.just(T0),
        text=texts,
        kind=texts,
        verdict=st.sampled_from(["allow", "deny", "review"]),
        rule=opt_texts,
        statement=st.none() | st.integers(0, 2**40),
    ),
    st.builds(
        ResultEvent,
        at=st.just(T0),
        columns=st.lists(st.tuples(texts, texts), max_size=4).map(tuple),
        rows=st.lists(st.lists(cells, max_size=4).map(tuple), max_size=5).map(tuple),
        row_count=st.integers(0, 10**9),
        masked=st.dictionaries(texts, st.dictionaries(texts, st.integers(0, 1000), max_size=2)),
        raw=st.none() | st.binary(max_size=50),
        raw_format=opt_texts,
    ),
    st.builds(ErrorEvent, at=st.just(T0), message=texts, code=opt_texts),
    st.builds(TerminalOutput, at=st.just(T0), data=st.binary(max_size=50)),
)


def make_storage(tmp_path_factory: pytest.TempPathFactory) -> LocalBlobStorage:
    return LocalBlobStorage(tmp_path_factory.mktemp("rec"))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(events, max_size=25), st.data(), st.booleans())
def test_round_trip_under_any_chunking(
    tmp_path_factory: pytest.TempPathFactory, evs: list[Event], data: st.DataObject, enc: bool
) -> None:
    storage = make_storage(tmp_path_factory)
    kek = FileKeyEncryptionKey(b"k" * 32) if enc else None
    w = SessionRecordingWriter("s", started(), SIGNER, kek, checkpoint_interval=1e9)
    cuts = data.draw(st.sets(st.integers(0, max(len(evs) - 1, 0))))
    for i, e in enumerate(evs):
        w.append(e)
        if i in cuts:
            flush = w.checkpoint(T0)
            assert flush is not None
            storage.put(*flush.blob)
    storage.put(*w.seal(ended()).blob)
    report = verify_session(storage, "s", KEYS)
    assert report.ok, report.problems
    assert report.segments == len(cuts & set(range(len(evs)))) + 1
    got = [r.event for r in read_session(storage, "s", [kek] if kek else [])]
    assert got[0] == started()
    assert got[1:-1] == [normalised(e) for e in evs]
    assert got[-1] == ended()


def normalised(e: Event) -> Event:
    """What decoding gives back: tuples and plain dicts where the input had lists."""
    if isinstance(e, ResultEvent):
        return ResultEvent(
            e.at,
            tuple(tuple(c) for c in e.columns),  # type: ignore[misc]
            tuple(tuple(r) for r in e.rows),
            e.row_count,
            {c: dict(m) for c, m in e.masked.items()},
            e.raw,
            e.raw_format,
            e.statement,
        )
    return e


@pytest.fixture(scope="module")
def one_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    w = SessionRecordingWriter("s", started(), SIGNER, None, checkpoint_interval=1e9)
    for e in sample_events(4):
        w.append(e)
    first = w.checkpoint(T0)
    assert first is not None
    second = w.seal(ended())
    return first.blob[1], second.blob[1]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_byte_flip_is_detected(
    tmp_path_factory: pytest.TempPathFactory, one_session: tuple[bytes, bytes], data: st.DataObject
) -> None:
    which = data.draw(st.integers(0, 1))
    blob = bytearray(one_session[which])
    pos = data.draw(st.integers(0, len(blob) - 1))
    blob[pos] ^= data.draw(st.integers(1, 255))
    segments = list(one_session)
    segments[which] = bytes(blob)
    storage = make_storage(tmp_path_factory)
    for i, seg in enumerate(segments):
        storage.put(f"sessions/s/{i:06d}.seg", seg)
    report = verify_session(storage, "s", KEYS)
    assert not report.ok
    assert report.status is Status.INVALID
    assert report.first_problem is not None


def test_record_encoding_is_canonical_and_stable() -> None:
    raw, digest = encode_record(
        RecordType.STATEMENT, 1, to_micros(T0), genesis("s"), session_tag("s"), b"x"
    )
    rec = decode_record(raw)
    assert (rec.type, rec.seq, rec.at, rec.body, rec.hash) == (2, 1, to_micros(T0), b"x", digest)
    assert raw[:4] == bytes([0x86, 0x02, 0x01, 0x1B])  # array(6), 2, 1, uint64 follows
    assert encode_record(
        RecordType.STATEMENT, 1, to_micros(T0), genesis("s"), session_tag("s"), b"x"
    ) == (raw, digest)


@pytest.mark.parametrize(
    "blob",
    [b"", b"NOTMAGIC", SEGMENT_MAGIC + b"\x00\x00", SEGMENT_MAGIC + b"\x00\x00\x00\x05abc"],
)
def test_bad_segments(blob: bytes) -> None:
    with pytest.raises(FormatError):
        list(iter_frames(blob))


@pytest.mark.parametrize(
    "fields",
    [
        b"\x80",  # empty array
        b"\xa0",  # map
        b"\xff",  # not CBOR
    ],
)
def test_bad_records(fields: bytes) -> None:
    with pytest.raises(FormatError):
        decode_record(fields)


def test_frames_round_trip() -> None:
    raws = [b"\x01", b"\x02" * 300]
    blob = SEGMENT_MAGIC + b"".join(frame(r) for r in raws)
    assert [f.raw for f in iter_frames(blob)] == raws


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        to_micros(T0.replace(tzinfo=None))


def test_start_only_at_creation() -> None:
    w = SessionRecordingWriter("s", started(), SIGNER, None)
    with pytest.raises(ValueError):
        w.append(started())
    w.seal(ended())
    with pytest.raises(Exception, match="sealed"):
        w.append(StatementEvent(T0, "x", "simple", "allow"))


def test_due_checkpoint_by_count_and_time(tmp_path: Path) -> None:
    w = SessionRecordingWriter(
        "s", started(), SIGNER, None, checkpoint_every=3, checkpoint_interval=10, now=100.0
    )
    assert w.due_checkpoint(100.0) is False  # the start record alone: not yet
    assert w.due_checkpoint(110.0) is True
    w.append(StatementEvent(T0, "x", "simple", "allow"))
    w.append(StatementEvent(T0 + timedelta(seconds=1), "y", "simple", "allow"))
    assert w.due_checkpoint(101.0) is True  # 3 pending
    assert w.checkpoint(T0, now=101.0) is not None
    assert w.due_checkpoint(105.0) is False  # nothing pending
    assert w.checkpoint(T0) is None


def test_session_started_from_model() -> None:
    from proctor.model import SessionStart

    start = SessionStart(
        "s", "alice", frozenset({"a"}), "db", None, "postgres", "1.2.3.4:5", T0, "t", "1.0"
    )
    ev = SessionStarted.from_model(start, "sha256:x")
    assert ev.payload()["groups"] == ["a"] and ev.policy_hash == "sha256:x"


@settings(max_examples=100, deadline=None)
@given(events, st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_fast_encoders_match_canonical_cbor(e: Event, rtype: int, seq: int, at: int) -> None:
    """test_payloads_are_canonical: the writer's shortcuts give canonical bytes."""
    import cbor2

    from proctor.recording.events import PRESORTED
    from proctor.recording.format import dumps, encode_content_record

    for ev in (e, *sample_events(6), ended()):
        if ev.TYPE in PRESORTED:
            assert cbor2.dumps(ev.payload()) == dumps(ev.payload())
    body = dumps(e.payload())
    assert encode_content_record(rtype, seq, at, b"p" * 32, b"t" * 8, body) == dumps(
        [rtype, seq, at, b"p" * 32, b"t" * 8, body]
    )
