"""Regenerates the .hex wire fixtures in this folder (run from the repo root).

Each fixture is a message sequence as a real client or server sends it; the hex files are
what the tests read, so the fixtures stay stable even if the encoders change.
"""

from __future__ import annotations

import struct
from pathlib import Path

from proctor.codecs.pgwire import encode

HERE = Path(__file__).parent


def msg(t: str, body: bytes) -> bytes:
    return encode.message(t, body)


def cstr(s: str) -> bytes:
    return s.encode() + b"\x00"


def write(name: str, comment: str, data: bytes) -> None:
    lines = [f"# {comment}"]
    for i in range(0, len(data), 32):
        lines.append(data[i : i + 32].hex())
    (HERE / f"{name}.hex").write_text("\n".join(lines) + "\n")


def main() -> None:
    write(
        "frontend_simple",
        "Query, Query with UTF-8 text, Terminate",
        msg("Q", cstr("select 1")) + msg("Q", cstr("select 'é', 'ü' as \"naïve\"")) + msg("X", b""),
    )
    parse = msg("P", cstr("s1") + cstr("select $1::int") + struct.pack("!hI", 1, 23))
    bind = msg(
        "B",
        cstr("")
        + cstr("s1")
        + struct.pack("!hh", 1, 1)
        + struct.pack("!h", 1)
        + struct.pack("!i", 4)
        + struct.pack("!i", 42)
        + struct.pack("!hh", 1, 1),
    )
    write(
        "frontend_extended",
        "pipelined extended protocol: Parse, Bind, Describe, Execute, Sync, Close, Sync, Flush",
        parse
        + bind
        + msg("D", b"P" + cstr(""))
        + msg("E", cstr("") + struct.pack("!i", 0))
        + msg("S", b"")
        + msg("C", b"S" + cstr("s1"))
        + msg("S", b"")
        + msg("H", b""),
    )
    write(
        "frontend_copy_in",
        "COPY FROM STDIN: Query, CopyData x3 (one 70000 bytes), CopyDone",
        msg("Q", cstr("copy t from stdin"))
        + msg("d", b"1\tone\n")
        + msg("d", b"x" * 70000)
        + msg("d", b"2\ttwo\n")
        + msg("c", b""),
    )
    rowdesc = msg(
        "T",
        struct.pack("!h", 1) + cstr("n") + struct.pack("!IhIhih", 0, 0, 23, 4, -1, 0),
    )
    rows = b"".join(
        msg("D", struct.pack("!h", 1) + struct.pack("!i", len(str(i))) + str(i).encode())
        for i in range(50)
    )
    big = msg("D", struct.pack("!h", 1) + struct.pack("!i", 100_000) + b"y" * 100_000)
    write(
        "backend_select",
        "RowDescription, 50 DataRows, one 100 kB DataRow, CommandComplete, ReadyForQuery",
        rowdesc + rows + big + msg("C", cstr("SELECT 51")) + msg("Z", b"I"),
    )
    write(
        "backend_error_notice",
        "NoticeResponse, ParameterStatus, ErrorResponse, ReadyForQuery(E)",
        encode.notice_response("hello")
        + encode.parameter_status("client_encoding", "LATIN1")
        + encode.error_response("42P01", 'relation "nope" does not exist')
        + msg("Z", b"E"),
    )


if __name__ == "__main__":
    main()
