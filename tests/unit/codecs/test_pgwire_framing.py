"""Framing in both directions: the split-read matrix, one byte at a time, random chunking."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.codecs.pgwire import BackendScanner, FrontendFramer, Message, ProtocolError, encode

from .vectors import chunks_at, load, message_boundaries, split_points

FRONTEND = ["frontend_simple", "frontend_extended", "frontend_copy_in"]
BACKEND = ["backend_select", "backend_error_notice"]


def frontend_run(chunks: list[bytes]) -> tuple[list[Message], bytes]:
    framer = FrontendFramer(1 << 20)
    messages: list[Message] = []
    forwarded = b""
    for chunk in chunks:
        got, complete = framer.feed(chunk)
        messages += got
        forwarded += complete
        assert complete == b"".join(m.encode() for m in got)
    assert framer.buffered == 0
    return messages, forwarded


def expected_messages(data: bytes) -> list[tuple[int, bytes]]:
    edges = message_boundaries(data)
    return [(data[a], data[a + 5 : b]) for a, b in itertools.pairwise(edges)]


@pytest.mark.parametrize("name", FRONTEND)
def test_frontend_every_split_point_gives_the_same_messages(name: str) -> None:
    data = load(name)
    want = expected_messages(data)
    for cut in split_points(data):
        messages, forwarded = frontend_run(chunks_at(data, [cut]))
        assert [(m.type, m.body) for m in messages] == want, f"split at {cut}"
        assert forwarded == data


@pytest.mark.parametrize("name", FRONTEND)
def test_frontend_one_byte_at_a_time(name: str) -> None:
    data = load(name)
    messages, forwarded = frontend_run([data[i : i + 1] for i in range(len(data))])
    assert [(m.type, m.body) for m in messages] == expected_messages(data)
    assert forwarded == data


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(FRONTEND), st.lists(st.integers(min_value=0, max_value=1 << 18), max_size=12)
)
def test_frontend_random_chunking(name: str, cuts: list[int]) -> None:
    data = load(name)
    messages, forwarded = frontend_run(chunks_at(data, [c % (len(data) + 1) for c in cuts]))
    assert [(m.type, m.body) for m in messages] == expected_messages(data)
    assert forwarded == data


def backend_run(chunks: list[bytes], interest: frozenset[int]) -> tuple[list[Message], bytes]:
    scanner = BackendScanner(interest)
    found: list[Message] = []
    forwarded = b""
    for chunk in chunks:
        out, messages = scanner.feed(chunk)
        for fm in messages:
            # Offsets must point at the message inside the bytes returned with it.
            assert out[fm.start] == fm.type
            assert out[fm.start + 5 : fm.end] == fm.body
            found.append(Message(fm.type, fm.body))
        forwarded += out
    assert scanner.at_boundary
    return found, forwarded


INTERESTS = [
    frozenset(),
    frozenset(b"Z"),
    frozenset(b"ZES"),
    frozenset(b"D"),
    frozenset(range(256)),
]


@pytest.mark.parametrize("name", BACKEND)
@pytest.mark.parametrize("interest", INTERESTS, ids=lambda s: "".join(map(chr, sorted(s)))[:8])
def test_backend_every_split_point_forwards_everything_once(
    name: str, interest: frozenset[int]
) -> None:
    data = load(name)
    want = [(t, b) for t, b in expected_messages(data) if t in interest]
    for cut in split_points(data):
        found, forwarded = backend_run(chunks_at(data, [cut]), interest)
        assert forwarded == data, f"split at {cut}"
        assert [(m.type, m.body) for m in found] == want, f"split at {cut}"


@pytest.mark.parametrize("name", BACKEND)
def test_backend_one_byte_at_a_time(name: str) -> None:
    data = load(name)
    interest = frozenset(b"ZECS")
    found, forwarded = backend_run([data[i : i + 1] for i in range(len(data))], interest)
    assert forwarded == data
    assert [(m.type, m.body) for m in found] == [
        (t, b) for t, b in expected_messages(data) if t in interest
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(BACKEND),
    st.sampled_from(INTERESTS),
    st.lists(st.integers(min_value=0, max_value=1 << 18), max_size=12),
)
def test_backend_random_chunking(name: str, interest: frozenset[int], cuts: list[int]) -> None:
    data = load(name)
    found, forwarded = backend_run(chunks_at(data, [c % (len(data) + 1) for c in cuts]), interest)
    assert forwarded == data
    assert [(m.type, m.body) for m in found] == [
        (t, b) for t, b in expected_messages(data) if t in interest
    ]


def test_backend_uninteresting_large_message_is_forwarded_as_it_arrives() -> None:
    data = load("backend_select")
    scanner = BackendScanner(frozenset(b"Z"))
    half = len(data) // 2  # inside the 100 kB DataRow
    out, _ = scanner.feed(data[:half])
    assert out == data[:half]  # nothing held back while the row is still arriving


def test_backend_returns_input_object_when_nothing_is_held() -> None:
    data = load("backend_error_notice")
    out, _ = BackendScanner(frozenset(b"Z")).feed(data)
    assert out is data  # zero-copy fast path


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"\x01\x00\x00\x00\x04", "invalid frontend message type"),
        (b"Q\x00\x00\x00\x03", "invalid message length"),
        (b"Q\x7f\xff\xff\xff", "exceeds the limit"),
    ],
)
def test_frontend_rejects_bad_headers(raw: bytes, needle: str) -> None:
    with pytest.raises(ProtocolError, match=needle):
        FrontendFramer(1 << 20).feed(raw)


def test_frontend_oversized_message_is_refused_before_its_body_arrives() -> None:
    header = b"d" + (10_000_000).to_bytes(4, "big")
    with pytest.raises(ProtocolError) as info:
        FrontendFramer(1 << 20).feed(header)
    assert info.value.sqlstate == "54000"


def test_backend_rejects_bad_length() -> None:
    with pytest.raises(ProtocolError):
        BackendScanner(frozenset()).feed(b"Z\x00\x00\x00\x02")


def test_backend_bounds_held_messages() -> None:
    scanner = BackendScanner(frozenset(b"D"), max_held=1000)
    with pytest.raises(ProtocolError, match="too large"):
        scanner.feed(b"D" + (5000).to_bytes(4, "big") + b"x" * 10)


def test_message_encode_round_trip() -> None:
    raw = encode.error_response("42501", "denied")
    messages, complete = FrontendFramer(1 << 20).feed(encode.message("Q", b"select\x00"))
    assert complete == messages[0].encode()
    found_out, found = BackendScanner(frozenset(b"E")).feed(raw)
    assert found_out == raw and found[0].type == ord("E")
