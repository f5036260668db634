"""Reading recorded PostgreSQL results back: the backend stream as the client saw it.

The gateway records what it sent to the client as raw chunks (``ResultEvent`` with
``raw_format = "pgwire-backend"``): cheap to record (no decoding on the hot path), exact
(masked cells as sent, in text or binary format), and complete (row descriptions, rows,
command tags, errors). Chunks are cut wherever reads ended; concatenated in order they are
the stream. This decoder turns them back into results for replay and export.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from proctor.codecs.pgwire import decode
from proctor.codecs.pgwire.errors import ProtocolError

RAW_FORMAT = "pgwire-backend"
_HDR = struct.Struct("!BI")


@dataclass(slots=True)
class ResultBlock:
    """One result as the client received it."""

    columns: list[tuple[str, int, int]] = field(default_factory=list)  # name, type OID, fmt
    rows: list[list[bytes | None]] = field(default_factory=list)
    row_count: int = 0
    tag: str | None = None  # CommandComplete tag; None for an error or a cut stream
    error: str | None = None  # SQLSTATE and message of an ErrorResponse
    notice: str | None = None  # a NoticeResponse's message (the block holds nothing else)


class BackendStreamDecoder:
    """Feed raw chunks in order; get complete results as they close."""

    def __init__(self, keep_rows: int = 1000, encoding: str = "utf-8") -> None:
        self._buf = bytearray()
        self._keep = keep_rows
        self._encoding = encoding
        self._current: ResultBlock | None = None

    def feed(self, chunk: bytes) -> list[ResultBlock]:
        self._buf += chunk
        out: list[ResultBlock] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 5:
            mtype, length = _HDR.unpack_from(buf, pos)
            end = pos + 1 + length
            if length < 4:
                raise ProtocolError("recorded stream: invalid message length")
            if end > len(buf):
                break
            self._message(mtype, bytes(buf[pos + 5 : end]), out)
            pos = end
        del buf[:pos]
        return out

    def _message(self, mtype: int, body: bytes, out: list[ResultBlock]) -> None:
        if mtype == ord("T"):
            self._current = ResultBlock(
                [(f.name, f.type_oid, f.format) for f in decode.row_description(body)]
            )
        elif mtype == ord("D"):
            block = self._current or ResultBlock()
            self._current = block
            block.row_count += 1
            if len(block.rows) < self._keep:
                block.rows.append(
                    [None if n < 0 else body[o : o + n] for o, n in decode.data_row(body)]
                )
        elif mtype == ord("C"):
            block = self._current or ResultBlock()
            block.tag = decode.command_tag(body)
            out.append(block)
            self._current = None
        elif mtype == ord("N"):
            out.append(ResultBlock(notice=decode.fields(body).get("M", "")))
        elif mtype == ord("E"):
            fields = decode.fields(body)
            block = self._current or ResultBlock()
            block.error = f"{fields.get('C', '')} {fields.get('M', '')}".strip()
            out.append(block)
            self._current = None
