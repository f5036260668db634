"""Names as sent: the raw decoders result masking uses agree with the decoding ones and
refuse the same malformed bodies."""

from __future__ import annotations

import struct

import pytest

from proctor.codecs.pgwire import ProtocolError, decode


def bind_body(portal: bytes, stmt: bytes, params: list[bytes | None], formats: list[int]) -> bytes:
    body = portal + b"\x00" + stmt + b"\x00" + struct.pack("!h", 0)
    body += struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    return body + struct.pack("!h", len(formats)) + b"".join(struct.pack("!h", f) for f in formats)


def test_raw_and_decoded_agree() -> None:
    body = bind_body("pörtal".encode(), b"s1", [b"42", None, b""], [1, 0])
    assert decode.bind_raw(body) == ("pörtal".encode(), b"s1", (1, 0))
    full = decode.bind_full(body)
    assert (full.portal, full.statement, full.result_formats) == ("pörtal", "s1", (1, 0))
    assert decode.target_raw(b"Sname\x00") == ("S", b"name")
    assert decode.target_raw(b"P\x00") == ("P", b"")
    assert decode.execute_raw(b"p\x00" + struct.pack("!i", 10)) == (b"p", 10)
    assert decode.statement_name(b"s7\x00SELECT 1\x00\x00\x00") == b"s7"


@pytest.mark.parametrize(
    "call",
    [
        lambda: decode.bind_raw(b"p\x00s\x00\x00"),  # truncated
        lambda: decode.bind_raw(bind_body(b"p", b"s", [], [2])),  # bad format code
        lambda: decode.bind_raw(bind_body(b"p", b"s", [b"1"], []) + b"x"),  # trailing byte
        lambda: decode.target_raw(b"Xname\x00"),
        lambda: decode.target_raw(b"Sname"),
        lambda: decode.target_raw(b"Sname\x00junk"),
        lambda: decode.execute_raw(b"p\x00\x00"),
        lambda: decode.statement_name(b"no terminator"),
    ],
)
def test_malformed_bodies_are_protocol_errors(call: object) -> None:
    with pytest.raises(ProtocolError):
        call()  # type: ignore[operator]
