"""Encoders for the messages the gateway itself sends."""

from __future__ import annotations

import struct
from collections.abc import Mapping

from proctor.codecs.pgwire.constants import (
    CANCEL_REQUEST_CODE,
    PROTOCOL_V3,
    SSL_REQUEST_CODE,
)

_HDR = struct.Struct("!BI")


def message(mtype: int | str, body: bytes = b"") -> bytes:
    t = ord(mtype) if isinstance(mtype, str) else mtype
    return _HDR.pack(t, len(body) + 4) + body


_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")


def data_row(cells: list[bytes | None]) -> bytes:
    parts = [_I16.pack(len(cells))]
    for cell in cells:
        if cell is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            parts.append(_I32.pack(len(cell)))
            parts.append(cell)
    return message("D", b"".join(parts))


def raw_fields(mtype: int, fields: list[tuple[int, bytes]]) -> bytes:
    """ErrorResponse / NoticeResponse from (code, raw value) pairs (NULs removed)."""
    body = b"".join(
        bytes((code,)) + value.replace(b"\x00", b"") + b"\x00" for code, value in fields
    )
    return message(mtype, body + b"\x00")


def notification(pid: int, channel: bytes, payload: bytes) -> bytes:
    return message(
        "A", _I32.pack(pid) + channel + b"\x00" + payload.replace(b"\x00", b"") + b"\x00"
    )


def _cstr(value: str) -> bytes:
    # A NUL inside a field would end it early on the client and let text smuggle new fields.
    return value.replace("\x00", "").encode("utf-8") + b"\x00"


def _fields(
    severity: str,
    sqlstate: str,
    text: str,
    detail: str | None,
    hint: str | None,
) -> bytes:
    parts = [b"S" + _cstr(severity), b"V" + _cstr(severity), b"C" + _cstr(sqlstate)]
    parts.append(b"M" + _cstr(text))
    if detail:
        parts.append(b"D" + _cstr(detail))
    if hint:
        parts.append(b"H" + _cstr(hint))
    return b"".join(parts) + b"\x00"


def error_response(
    sqlstate: str,
    text: str,
    *,
    severity: str = "ERROR",
    detail: str | None = None,
    hint: str | None = None,
) -> bytes:
    return message("E", _fields(severity, sqlstate, text, detail, hint))


def notice_response(
    text: str,
    *,
    severity: str = "NOTICE",
    sqlstate: str = "00000",
    detail: str | None = None,
    hint: str | None = None,
) -> bytes:
    return message("N", _fields(severity, sqlstate, text, detail, hint))


def authentication(code: int, payload: bytes = b"") -> bytes:
    return message("R", struct.pack("!i", code) + payload)


def parameter_status(name: str, value: str) -> bytes:
    return message("S", _cstr(name) + _cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return message("K", struct.pack("!ii", pid, secret))


def ready_for_query(status: int) -> bytes:
    return message("Z", bytes((status,)))


def negotiate_protocol_version(newest_minor: int, unsupported: list[str]) -> bytes:
    body = struct.pack("!ii", newest_minor, len(unsupported))
    body += b"".join(_cstr(o) for o in unsupported)
    return message("v", body)


def startup_message(params: Mapping[str, str]) -> bytes:
    body = struct.pack("!i", PROTOCOL_V3)
    body += b"".join(_cstr(k) + _cstr(v) for k, v in params.items()) + b"\x00"
    return struct.pack("!i", len(body) + 4) + body


def ssl_request() -> bytes:
    return struct.pack("!ii", 8, SSL_REQUEST_CODE)


def cancel_request(pid: int, secret: int) -> bytes:
    return struct.pack("!iiii", 16, CANCEL_REQUEST_CODE, pid, secret)


def password_message(password: str) -> bytes:
    return message("p", _cstr(password))


def sasl_initial_response(mechanism: str, data: bytes) -> bytes:
    return message("p", _cstr(mechanism) + struct.pack("!i", len(data)) + data)


def sasl_response(data: bytes) -> bytes:
    return message("p", data)


def terminate() -> bytes:
    return message("X")
