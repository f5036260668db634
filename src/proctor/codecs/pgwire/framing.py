"""Message framing for both directions (see the package docstring for why they differ)."""

from __future__ import annotations

import struct

from proctor.codecs.pgwire.accel import WALK
from proctor.codecs.pgwire.constants import FRONTEND_TYPES
from proctor.codecs.pgwire.errors import ProtocolError

_HEADER = struct.Struct("!BI")
_unpack_header = _HEADER.unpack_from


def _py_run_ends(data: bytes, pos: int, mtype: int, ends: list[int]) -> int:
    """``walk.run_ends`` with ``struct``: faster than that loop when neither is compiled."""
    append = ends.append
    end = len(data)
    while end - pos >= 5:
        mtype2, length = _unpack_header(data, pos)
        stop = pos + 1 + length
        if mtype2 != mtype or stop > end or length < 4:
            break
        append(stop)
        pos = stop
    return pos


_run_ends = WALK.run_ends if WALK is not None else _py_run_ends
_skip_plain = WALK.skip_plain if WALK is not None else None


# Plain classes, not dataclasses: compiled, a dataclass keeps the ``__init__`` the
# dataclasses module generates (interpreted, ~0.5 µs a call), and these are built for every
# message on the hot path. Treat them as immutable all the same.
class Message:
    """One protocol message: its type byte and its body (without type and length)."""

    __slots__ = ("body", "type")

    def __init__(self, type: int, body: bytes) -> None:
        self.type = type
        self.body = body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.type == other.type and self.body == other.body

    __hash__ = None  # type: ignore[assignment]  # equal by value, and not immutable

    def __repr__(self) -> str:
        return f"Message(type={self.type!r}, body={self.body!r})"

    def encode(self) -> bytes:
        return _HEADER.pack(self.type, len(self.body) + 4) + self.body

    @property
    def type_char(self) -> str:
        return chr(self.type)


class FrontendFramer:
    """Client → gateway: yields complete, validated messages.

    ``feed`` returns the messages completed by ``data`` and the exact bytes they occupy on the
    wire, so an adapter that lets all of them through forwards one slice with one write.
    A partial message stays buffered until the rest arrives; a declared length beyond
    ``max_message_size`` is refused before any of its body is buffered. While a message is
    incomplete, reads only append (``_need`` says how many bytes complete it), so a client
    trickling a large CopyData byte by byte costs linear, not quadratic, time.
    """

    __slots__ = ("_buf", "_max", "_need")

    def __init__(self, max_message_size: int) -> None:
        self._buf = bytearray()
        self._max = max_message_size
        self._need = 0

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> tuple[list[Message], bytes]:
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return [], b""
            view: bytes = bytes(self._buf)
            self._buf.clear()
        else:
            view = data
        messages: list[Message] = []
        pos = 0
        end = len(view)
        limit = self._max
        need = 0
        while end - pos >= 5:
            # Byte reads, not struct: compiled, they are native operations.
            mtype = view[pos]
            length = (
                (view[pos + 1] << 24) | (view[pos + 2] << 16) | (view[pos + 3] << 8) | view[pos + 4]
            )
            if mtype not in FRONTEND_TYPES:
                raise ProtocolError(f"invalid frontend message type {mtype:#04x}")
            if length < 4:
                raise ProtocolError(f"invalid message length {length}")
            if length > limit:
                raise ProtocolError(
                    f"message of {length} bytes exceeds the limit of {limit} bytes", "54000"
                )
            stop = pos + 1 + length
            if stop > end:
                need = 1 + length
                break
            messages.append(Message(mtype, view[pos + 5 : stop]))
            pos = stop
        if pos < end:
            self._buf += view[pos:]
            self._need = need or 5
        return messages, (view if pos == end else view[:pos]) if pos else b""


class FramedMessage:
    """A complete message found by the backend scanner, with its offsets in the output.

    ``is_run``: a run of back-to-back messages of a ``runs`` type (the body is empty);
    `row_ends` gives the end offset of each. They are walked again only when asked for: a
    result with nothing to mask in it (no hit, no column masked on every row) never needs
    them, and a list of a million offsets cost ~10% of the gateway's time on such results.
    ``ends`` holds them once computed (or as given)."""

    __slots__ = ("body", "end", "ends", "is_run", "start", "type")

    def __init__(
        self,
        type: int,
        body: bytes,
        start: int,
        end: int,
        ends: list[int] | None = None,
        is_run: bool = False,
    ) -> None:
        self.type = type
        self.body = body
        self.start = start
        self.end = end
        self.ends = ends
        self.is_run = is_run or ends is not None

    def row_ends(self, data: bytes) -> list[int]:
        """The end offset of each message of this run in ``data`` (the buffer its offsets
        refer to: the bytes `BackendScanner.feed` returned with it)."""
        ends = self.ends
        if ends is None:
            ends = []
            walk = _run_ends if type(data) is bytes else _py_run_ends
            if walk(data, self.start, self.type, ends) != self.end:
                raise ProtocolError("a run of messages changed under its offsets")
            self.ends = ends
        return ends

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FramedMessage):
            return NotImplemented
        # Not ``ends``: a run's are computed when asked for, from the same bytes.
        return (self.type, self.body, self.start, self.end, self.is_run) == (
            other.type,
            other.body,
            other.start,
            other.end,
            other.is_run,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"FramedMessage(type={self.type!r}, body={self.body!r}, start={self.start!r},"
            f" end={self.end!r}, ends={self.ends!r}, is_run={self.is_run!r})"
        )


class BackendScanner:
    """Server → gateway: walks message boundaries across reads without copying bodies.

    ``feed`` returns the bytes that may be forwarded now and the complete messages, among
    them, whose type is in ``interesting`` (with their offsets, so the adapter can splice a
    replacement in). Uninteresting messages are skipped by length and forwarded as they
    arrive, even when split across reads: a 1 GB DataRow streams with constant memory. An
    interesting message split across reads is held back until complete (they are small;
    ``max_held`` bounds them). When nothing is held, the returned bytes are ``data`` itself.

    Messages of a ``runs`` type (DataRow, when results are masked) are complete too, but
    consecutive ones come back as one ``FramedMessage`` per run (``is_run``, no body): a
    result of a million rows costs a header read per row, not an object and a copy.
    """

    __slots__ = ("_held", "_interesting", "_max_held", "_run_tables", "_runs", "_skip", "_table")

    def __init__(
        self,
        interesting: frozenset[int],
        max_held: int = 1 << 26,
        runs: frozenset[int] = frozenset(),
    ) -> None:
        self._held = b""
        self._skip = 0
        self._max_held = max_held
        self.set_interest(interesting, runs)

    def set_interest(self, interesting: frozenset[int], runs: frozenset[int] = frozenset()) -> None:
        self._interesting = interesting | runs
        self._runs = runs
        # For the compiled walk: a byte per type, non-zero for those that stop it.
        self._table = bytes(1 if t in self._interesting else 0 for t in range(256))
        # The same walk over a run: every type but the run's stops it.
        self._run_tables = {r: bytes(0 if t == r else 1 for t in range(256)) for r in runs}

    @property
    def at_boundary(self) -> bool:
        """True when no message is partly received."""
        return not self._held and not self._skip

    def feed(self, data: bytes) -> tuple[bytes, list[FramedMessage]]:
        if self._held:
            data = self._held + data
            self._held = b""
        out: list[FramedMessage] = []
        end = len(data)
        pos = 0
        if self._skip:
            pos = min(self._skip, end)
            self._skip -= pos
        interesting = self._interesting
        runs = self._runs
        forward_to = end
        # The compiled loops take ``bytes`` only (not bytearray or memoryview).
        skip_plain = _skip_plain if type(data) is bytes else None
        table = self._table
        while pos < end:
            if skip_plain is not None:
                pos = skip_plain(data, pos, table)
                if pos == end:
                    break
            if end - pos < 5:
                self._held = data[pos:]
                forward_to = pos
                break
            mtype = data[pos]
            length = (
                (data[pos + 1] << 24) | (data[pos + 2] << 16) | (data[pos + 3] << 8) | data[pos + 4]
            )
            if length < 4:
                raise ProtocolError(f"invalid backend message length {length}")
            stop = pos + 1 + length
            if mtype in interesting:
                if stop > end:
                    if length > self._max_held:
                        raise ProtocolError(f"backend message of {length} bytes is too large")
                    self._held = data[pos:]
                    forward_to = pos
                    break
                if mtype in runs:
                    last = out[-1] if out else None
                    if last is None or not last.is_run or last.end != pos or last.type != mtype:
                        last = FramedMessage(mtype, b"", pos, stop, None, True)
                        out.append(last)
                    # The rest of the run, in a tighter loop (compiled when built): a row
                    # costs a header read; a partial or other message ends it.
                    if skip_plain is not None:
                        pos = skip_plain(data, stop, self._run_tables[mtype])
                    else:
                        pos = _py_run_ends(data, stop, mtype, [])
                    last.end = pos
                    continue
                else:
                    out.append(FramedMessage(mtype, data[pos + 5 : stop], pos, stop))
            elif stop > end:
                self._skip = stop - end
                break
            pos = stop
        if forward_to == end:
            return data, out
        return data[:forward_to], out
