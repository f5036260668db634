"""A minimal wire-level client for tests that must send exact bytes (bad input, FunctionCall)."""

from __future__ import annotations

import socket
import struct

from proctor.codecs.pgwire import BackendScanner, Message, decode, encode

ALL = frozenset(range(256))


class RawClient:
    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._scanner = BackendScanner(ALL)
        self._pending: list[Message] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_message(self) -> Message | None:
        while not self._pending:
            data = self.sock.recv(65536)
            if not data:
                return None
            _, found = self._scanner.feed(data)
            self._pending += [Message(m.type, m.body) for m in found]
        return self._pending.pop(0)

    def until(self, mtype: str) -> list[Message]:
        out: list[Message] = []
        while True:
            msg = self.recv_message()
            if msg is None:
                raise ConnectionError(f"closed before {mtype!r}; got {[m.type_char for m in out]}")
            out.append(msg)
            if msg.type_char == mtype:
                return out

    def login(self, user: str, token: str, database: str = "shop") -> list[Message]:
        self.send(encode.startup_message({"user": user, "database": database}))
        auth = self.recv_message()
        assert auth is not None and auth.type_char == "R", auth
        assert decode.authentication(auth.body)[0] == 3
        self.send(encode.password_message(token))
        return self.until("Z")

    def read_all(self) -> bytes:
        chunks = []
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


def function_call(oid: int, args: list[bytes], result_format: int = 1) -> bytes:
    body = struct.pack("!I", oid) + struct.pack("!hh", 1, 1) + struct.pack("!h", len(args))
    for arg in args:
        body += struct.pack("!i", len(arg)) + arg
    body += struct.pack("!h", result_format)
    return encode.message("F", body)


def errors(messages: list[Message]) -> list[dict[str, str]]:
    return [decode.fields(m.body) for m in messages if m.type_char == "E"]
