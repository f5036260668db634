"""Startup-phase packets and the message body decoders."""

from __future__ import annotations

import struct

import pytest

from proctor.codecs.pgwire import (
    CancelRequest,
    GssEncRequest,
    ProtocolError,
    SslRequest,
    StartupFramer,
    StartupMessage,
    decode,
    encode,
)


def feed_all(data: bytes, step: int | None = None) -> list[object]:
    framer = StartupFramer()
    out: list[object] = []
    chunks = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    for chunk in chunks:
        packet = framer.feed(chunk)
        while packet is not None:
            out.append(packet)
            packet = framer.feed(b"")
    return out


def test_startup_sequence_split_everywhere() -> None:
    data = (
        encode.ssl_request()
        + struct.pack("!ii", 8, 80877104)
        + encode.startup_message({"user": "alice", "database": "shop/other", "options": "-c x=1"})
    )
    want = [
        SslRequest(),
        GssEncRequest(),
        StartupMessage(3, 0, {"user": "alice", "database": "shop/other", "options": "-c x=1"}),
    ]
    assert feed_all(data) == want
    assert feed_all(data, step=1) == want
    for cut in range(len(data) + 1):
        framer = StartupFramer()
        got: list[object] = []
        for chunk in (data[:cut], data[cut:]):
            packet = framer.feed(chunk)
            while packet is not None:
                got.append(packet)
                packet = framer.feed(b"")
        assert got == want, cut


def test_cancel_request() -> None:
    assert feed_all(encode.cancel_request(123, -7)) == [CancelRequest(123, -7)]


def test_remaining_bytes_after_startup_are_kept() -> None:
    framer = StartupFramer()
    packet = framer.feed(encode.startup_message({"user": "a"}) + b"p\x00\x00")
    assert isinstance(packet, StartupMessage)
    assert framer.take_remaining() == b"p\x00\x00"


def test_newer_minor_version_and_protocol_options_are_reported() -> None:
    body = struct.pack("!i", (3 << 16) | 2) + b"user\x00a\x00_pq_.x\x00y\x00\x00"
    packet = StartupFramer().feed(struct.pack("!i", len(body) + 4) + body)
    assert isinstance(packet, StartupMessage)
    assert (packet.major, packet.minor, packet.protocol_options) == (3, 2, ["_pq_.x"])


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (struct.pack("!i", 4) + b"\x00" * 4, "invalid startup packet length"),
        (struct.pack("!i", 1_000_000), "invalid startup packet length"),
        (struct.pack("!i", -5), "invalid startup packet length"),
        (struct.pack("!ii", 8, 2 << 16), "unsupported frontend protocol 2.0"),
        (struct.pack("!iii", 12, 80877103, 0), "SSLRequest has a bad length"),
        (struct.pack("!iii", 12, 80877102, 1), "CancelRequest has a bad length"),
        (b"\x16\x03\x01\x02\x00", "direct TLS"),
    ],
)
def test_malformed_startup_packets(data: bytes, needle: str) -> None:
    with pytest.raises(ProtocolError, match=needle):
        StartupFramer().feed(data)


@pytest.mark.parametrize(
    "params_raw",
    [
        b"user\x00alice",  # not terminated
        b"user\x00alice\x00\x00extra",  # bytes after the terminator
        b"user\x00\x00",  # name without value
        b"\x00alice\x00\x00",  # empty name
        b"user\x00\xff\xfe\x00\x00",  # not UTF-8
    ],
)
def test_malformed_startup_parameters(params_raw: bytes) -> None:
    body = struct.pack("!i", 196608) + params_raw
    with pytest.raises(ProtocolError):
        StartupFramer().feed(struct.pack("!i", len(body) + 4) + body)


def test_decoders() -> None:
    assert decode.query(b"select 1\x00") == "select 1"
    p = decode.parse(b"s1\x00select $1\x00" + struct.pack("!hI", 1, 23))
    assert (p.name, p.query, p.param_types) == ("s1", "select $1", (23,))
    assert decode.execute(b"\x00" + struct.pack("!i", 5)).max_rows == 5
    assert decode.target(b"Sname\x00").name == "name"
    assert decode.function_call_oid(struct.pack("!I", 1598) + b"\x00" * 6) == 1598
    assert decode.password(b"prt_x\x00") == "prt_x"
    assert decode.ready_status(b"T") == ord("T")
    assert decode.command_tag(b"SELECT 3\x00") == "SELECT 3"
    assert decode.backend_key(struct.pack("!ii", 1, -2)) == (1, -2)
    assert decode.parameter_status(b"a\x00b\x00") == ("a", "b")
    assert decode.sasl_mechanisms(b"SCRAM-SHA-256-PLUS\x00SCRAM-SHA-256\x00\x00") == [
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-256",
    ]
    assert decode.query("sélect\x00".encode("latin-1"), "latin-1") == "sélect"


@pytest.mark.parametrize(
    ("func", "body"),
    [
        (decode.query, b"no terminator"),
        (decode.query, b"a\x00b"),
        (decode.parse, b"s\x00q\x00\x00"),
        (decode.parse, b"s\x00q\x00" + struct.pack("!h", 3) + b"\x00" * 4),
        (decode.execute, b"\x00\x00"),
        (decode.target, b"Xname\x00"),
        (decode.ready_status, b"II"),
        (decode.backend_key, b"\x00" * 12),
        (decode.authentication, b"\x00"),
        (decode.query, b"\xff\xfe\x00"),
    ],
)
def test_decoders_reject_malformed_bodies(func: object, body: bytes) -> None:
    with pytest.raises(ProtocolError):
        func(body)  # type: ignore[operator]


def test_error_fields_round_trip_and_nul_cannot_smuggle_fields() -> None:
    raw = encode.error_response("42501", "denied\x00Mfake", detail="why", hint="how")
    fields = decode.fields(raw[5:])
    assert fields == {
        "S": "ERROR",
        "V": "ERROR",
        "C": "42501",
        "M": "deniedMfake",
        "D": "why",
        "H": "how",
    }
