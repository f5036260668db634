"""The startup phase: packets with a length but no type byte."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from proctor.codecs.pgwire.constants import (
    CANCEL_REQUEST_CODE,
    GSSENC_REQUEST_CODE,
    MAX_STARTUP_PACKET,
    SSL_REQUEST_CODE,
)
from proctor.codecs.pgwire.errors import ProtocolError


@dataclass(frozen=True, slots=True)
class SslRequest:
    pass


@dataclass(frozen=True, slots=True)
class GssEncRequest:
    pass


@dataclass(frozen=True, slots=True)
class CancelRequest:
    pid: int
    secret: int


@dataclass(frozen=True, slots=True)
class StartupMessage:
    major: int
    minor: int
    params: dict[str, str] = field(default_factory=dict)

    @property
    def protocol_options(self) -> list[str]:
        """`_pq_.*` options a newer client may ask for; the gateway supports none."""
        return [k for k in self.params if k.startswith("_pq_.")]


StartupPacket = SslRequest | GssEncRequest | CancelRequest | StartupMessage


def _decode_params(body: bytes) -> dict[str, str]:
    params: dict[str, str] = {}
    parts = body.split(b"\x00")
    # Well-formed: k, v, k, v, ..., "", "" (the final terminator plus split's empty tail).
    if len(parts) < 2 or parts[-1] != b"" or parts[-2] != b"":
        raise ProtocolError("startup packet parameters are not NUL-terminated")
    items = parts[:-2]
    if len(items) % 2:
        raise ProtocolError("startup packet has a parameter name without a value")
    for i in range(0, len(items), 2):
        try:
            key = items[i].decode("utf-8")
            value = items[i + 1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("startup parameters must be UTF-8") from exc
        if not key:
            raise ProtocolError("startup packet has an empty parameter name")
        params[key] = value
    return params


class StartupFramer:
    """Feeds bytes, yields one startup packet at a time.

    ``remaining`` holds bytes received after the packet (a client may pipeline its first
    messages); the adapter hands them to the next framer.
    """

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> StartupPacket | None:
        self._buf += data
        if len(self._buf) < 4:
            return None
        if self._buf[0] == 0x16:
            raise ProtocolError("direct TLS connections are not supported; use sslmode")
        (length,) = struct.unpack_from("!i", self._buf, 0)
        if length < 8 or length > MAX_STARTUP_PACKET:
            raise ProtocolError(f"invalid startup packet length {length}")
        if len(self._buf) < length:
            return None
        packet = bytes(self._buf[4:length])
        del self._buf[:length]
        return self._decode(packet)

    def take_remaining(self) -> bytes:
        rest = bytes(self._buf)
        self._buf.clear()
        return rest

    @staticmethod
    def _decode(packet: bytes) -> StartupPacket:
        (code,) = struct.unpack_from("!i", packet, 0)
        if code == SSL_REQUEST_CODE:
            if len(packet) != 4:
                raise ProtocolError("SSLRequest has a bad length")
            return SslRequest()
        if code == GSSENC_REQUEST_CODE:
            if len(packet) != 4:
                raise ProtocolError("GSSENCRequest has a bad length")
            return GssEncRequest()
        if code == CANCEL_REQUEST_CODE:
            if len(packet) != 12:
                raise ProtocolError("CancelRequest has a bad length")
            pid, secret = struct.unpack_from("!ii", packet, 4)
            return CancelRequest(pid, secret)
        major, minor = code >> 16, code & 0xFFFF
        if major != 3:
            raise ProtocolError(
                f"unsupported frontend protocol {major}.{minor}: server supports 3.0"
            )
        return StartupMessage(major, minor, _decode_params(packet[4:]))
