"""Decoders for the message bodies the gateway needs to read. Pure functions over bytes."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import ClassVar, Final

from proctor.codecs.pgwire.accel import WALK
from proctor.codecs.pgwire.errors import ProtocolError

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")
# The compiled cell walk (walk.py), when built: masking reads the cells of every row a hit
# falls in.
_ROW_CELLS: Callable[[bytes, int, int], list[tuple[int, int]] | None] | None = (
    WALK.row_cells if WALK is not None else None
)


def _cstring(body: bytes, pos: int) -> tuple[bytes, int]:
    if pos < len(body) and body[pos] == 0:  # the empty name: unnamed statements and portals
        return b"", pos + 1
    nul = body.find(b"\x00", pos)
    if nul < 0:
        raise ProtocolError("string field is not NUL-terminated")
    return body[pos:nul], nul + 1


# Integer reads by byte: compiled, they are native operations (a ``struct`` call is not);
# the caller has checked that the bytes are there.
def _i16(body: bytes, pos: int) -> int:
    value = (body[pos] << 8) | body[pos + 1]
    return value - 0x10000 if value & 0x8000 else value


def _i32(body: bytes, pos: int) -> int:
    value = (body[pos] << 24) | (body[pos + 1] << 16) | (body[pos + 2] << 8) | body[pos + 3]
    return value - 0x100000000 if value & 0x80000000 else value


def _text(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ProtocolError(f"text is not valid {encoding}") from exc


class _Decoded:
    """Base of the decoded messages: equal, hashed and shown by their fields.

    Plain classes, not dataclasses: compiled, a dataclass keeps the ``__init__`` the
    dataclasses module generates (interpreted, ~0.5 µs a call), and these are decoded per
    message. Treat them as immutable (``Final`` fields: the type checker holds to it)."""

    __slots__ = ()
    _FIELDS: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self._FIELDS])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Decoded)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._FIELDS)
        return f"{type(self).__name__}({inner})"


class Parse(_Decoded):
    __slots__ = ("name", "param_types", "query")
    _FIELDS = ("name", "query", "param_types")

    def __init__(self, name: str, query: str, param_types: tuple[int, ...]) -> None:
        self.name: Final = name
        self.query: Final = query
        self.param_types: Final = param_types


class Bind(_Decoded):
    __slots__ = ("portal", "result_formats", "statement")
    _FIELDS = ("portal", "statement", "result_formats")

    def __init__(self, portal: str, statement: str, result_formats: tuple[int, ...] = ()) -> None:
        self.portal: Final = portal
        self.statement: Final = statement
        # Result column format codes as sent: () all text, (f,) every column f, else per
        # column.
        self.result_formats: Final = result_formats


class FieldDescription(_Decoded):
    """One column of a RowDescription."""

    __slots__ = ("attnum", "format", "name", "table_oid", "type_modifier", "type_oid", "type_size")
    _FIELDS = ("name", "table_oid", "attnum", "type_oid", "type_size", "type_modifier", "format")

    def __init__(
        self,
        name: str,
        table_oid: int,
        attnum: int,
        type_oid: int,
        type_size: int,
        type_modifier: int,
        format: int,
    ) -> None:
        self.name: Final = name
        self.table_oid: Final = table_oid  # 0 when not a plain column of a table
        self.attnum: Final = attnum
        self.type_oid: Final = type_oid
        self.type_size: Final = type_size
        self.type_modifier: Final = type_modifier
        # 0 text, 1 binary (0 in answer to a Describe of a statement: not known yet)
        self.format: Final = format


class Execute(_Decoded):
    __slots__ = ("max_rows", "portal")
    _FIELDS = ("portal", "max_rows")

    def __init__(self, portal: str, max_rows: int) -> None:
        self.portal: Final = portal
        self.max_rows: Final = max_rows


class Target(_Decoded):
    """Describe / Close: 'S' (prepared statement) or 'P' (portal) and its name."""

    __slots__ = ("kind", "name")
    _FIELDS = ("kind", "name")

    def __init__(self, kind: str, name: str) -> None:
        self.kind: Final = kind
        self.name: Final = name


def query(body: bytes, encoding: str = "utf-8") -> str:
    raw, pos = _cstring(body, 0)
    if pos != len(body):
        raise ProtocolError("trailing bytes after Query string")
    return _text(raw, encoding)


def parse(body: bytes, encoding: str = "utf-8") -> Parse:
    name, pos = _cstring(body, 0)
    sql, pos = _cstring(body, pos)
    if len(body) - pos < 2:
        raise ProtocolError("Parse message truncated")
    (count,) = _I16.unpack_from(body, pos)
    pos += 2
    if count < 0 or len(body) - pos != 4 * count:
        raise ProtocolError("Parse parameter type count does not match message length")
    types = struct.unpack_from(f"!{count}I", body, pos) if count else ()
    return Parse(_text(name, encoding), _text(sql, encoding), tuple(types))


def bind(body: bytes, encoding: str = "utf-8") -> Bind:
    portal, pos = _cstring(body, 0)
    stmt, _ = _cstring(body, pos)
    return Bind(_text(portal, encoding), _text(stmt, encoding))


def bind_full(body: bytes, encoding: str = "utf-8") -> Bind:
    """Bind with its result format codes (walks past the parameter values)."""
    portal, stmt, formats = bind_raw(body)
    return Bind(_text(portal, encoding), _text(stmt, encoding), formats)


def bind_raw(body: bytes) -> tuple[bytes, bytes, tuple[int, ...]]:
    """(portal, statement, result formats) of a Bind, names as sent: for code that only
    matches names (result masking follows every Bind; decoding them would be wasted)."""
    portal, pos = _cstring(body, 0)
    stmt, pos = _cstring(body, pos)
    size = len(body)
    if size - pos < 2:
        raise ProtocolError("Bind message truncated")
    nfmt = _i16(body, pos)
    pos += 2 + 2 * nfmt
    if nfmt < 0 or size - pos < 2:
        raise ProtocolError("Bind message truncated")
    nparams = _i16(body, pos)
    pos += 2
    for _ in range(nparams):
        if size - pos < 4:
            raise ProtocolError("Bind message truncated")
        length = _i32(body, pos)
        pos += 4 + (length if length > 0 else 0)
    if size - pos < 2:
        raise ProtocolError("Bind message truncated")
    nres = _i16(body, pos)
    pos += 2
    if nparams < 0 or nres < 0 or pos + 2 * nres != size:
        raise ProtocolError("Bind message has a bad length")
    if nres == 0:
        return portal, stmt, ()
    if nres == 1:  # the usual alternative: one code for every column
        formats: tuple[int, ...] = (_i16(body, pos),)
    else:
        formats = tuple([_i16(body, pos + 2 * k) for k in range(nres)])
    for f in formats:
        if f != 0 and f != 1:
            raise ProtocolError("Bind result format code must be 0 or 1")
    return portal, stmt, formats


_FIELD = struct.Struct("!IhIhih")


def row_description(body: bytes, encoding: str = "utf-8") -> list[FieldDescription]:
    try:
        (count,) = _I16.unpack_from(body, 0)
        pos = 2
        out: list[FieldDescription] = []
        for _ in range(count):
            name, pos = _cstring(body, pos)
            table_oid, attnum, type_oid, size, modifier, fmt = _FIELD.unpack_from(body, pos)
            pos += _FIELD.size
            out.append(
                FieldDescription(
                    name.decode(encoding, "replace"),
                    table_oid,
                    attnum,
                    type_oid,
                    size,
                    modifier,
                    fmt,
                )
            )
    except struct.error as exc:
        raise ProtocolError("RowDescription truncated") from exc
    if pos != len(body):
        raise ProtocolError("RowDescription has trailing bytes")
    return out


def data_row(body: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each cell of a DataRow body; length -1 is NULL."""
    return _cells(body, 0, len(body))


def data_row_at(buf: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """`data_row` of the DataRow message ``buf[start:end]`` (type byte and length
    included), without copying it: (offset in ``buf``, length) of each cell."""
    return _cells(buf, start + 5, end)


def _cells(buf: bytes, pos: int, end: int) -> list[tuple[int, int]]:
    """The cells of a DataRow body that starts at ``pos`` and ends at ``end`` in ``buf``."""
    if _ROW_CELLS is not None and type(buf) is bytes:
        found = _ROW_CELLS(buf, pos, end)
        if found is not None:
            return found
        # Malformed: the interpreted walk below raises the precise error.
    try:
        (count,) = _I16.unpack_from(buf, pos)
        pos += 2
        cells: list[tuple[int, int]] = []
        unpack = _I32.unpack_from
        for _ in range(count):
            (length,) = unpack(buf, pos)
            pos += 4
            cells.append((pos, length))
            if length > 0:
                pos += length
            elif length < -1:
                raise ProtocolError("DataRow cell has a negative length")
    except struct.error as exc:
        raise ProtocolError("DataRow truncated") from exc
    if pos != end:
        raise ProtocolError("DataRow length does not match its cells")
    return cells


def raw_fields(body: bytes) -> list[tuple[int, bytes]]:
    """ErrorResponse / NoticeResponse fields as (code, raw value) in order."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(body) and body[pos] != 0:
        code = body[pos]
        raw, pos = _cstring(body, pos + 1)
        out.append((code, raw))
    return out


def notification(body: bytes) -> tuple[int, bytes, bytes]:
    """NotificationResponse: (pid, channel, payload), the strings raw."""
    if len(body) < 4:
        raise ProtocolError("NotificationResponse truncated")
    (pid,) = _I32.unpack_from(body, 0)
    channel, pos = _cstring(body, 4)
    payload, _ = _cstring(body, pos)
    return pid, channel, payload


def execute(body: bytes, encoding: str = "utf-8") -> Execute:
    portal, max_rows = execute_raw(body)
    return Execute(_text(portal, encoding), max_rows)


def execute_raw(body: bytes) -> tuple[bytes, int]:
    """(portal name as sent, max rows) of an Execute."""
    portal, pos = _cstring(body, 0)
    if len(body) - pos != 4:
        raise ProtocolError("Execute message has a bad length")
    return portal, _i32(body, pos)


def target(body: bytes, encoding: str = "utf-8") -> Target:
    kind, name = target_raw(body)
    return Target(kind, _text(name, encoding))


def target_raw(body: bytes) -> tuple[str, bytes]:
    """('S' or 'P', name as sent) of a Describe or Close."""
    if not body or body[0] not in (ord("S"), ord("P")):
        raise ProtocolError("Describe/Close must name 'S' or 'P'")
    name, pos = _cstring(body, 1)
    if pos != len(body):
        raise ProtocolError("trailing bytes after Describe/Close name")
    return "S" if body[0] == 0x53 else "P", name


def statement_name(body: bytes) -> bytes:
    """The statement name of a Parse, as sent (the SQL text is not decoded)."""
    return _cstring(body, 0)[0]


def function_call_oid(body: bytes) -> int:
    if len(body) < 4:
        raise ProtocolError("FunctionCall message truncated")
    (oid,) = struct.unpack_from("!I", body, 0)
    return int(oid)


def password(body: bytes) -> str:
    raw, pos = _cstring(body, 0)
    if pos != len(body):
        raise ProtocolError("trailing bytes after password")
    return _text(raw, "utf-8")


def fields(body: bytes) -> dict[str, str]:
    """ErrorResponse / NoticeResponse fields: {'S': 'ERROR', 'C': '42501', 'M': ...}."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(body) and body[pos] != 0:
        code = chr(body[pos])
        raw, pos = _cstring(body, pos + 1)
        out[code] = raw.decode("utf-8", "replace")
    return out


def ready_status(body: bytes) -> int:
    if len(body) != 1:
        raise ProtocolError("ReadyForQuery has a bad length")
    return body[0]


def command_tag(body: bytes) -> str:
    raw, _ = _cstring(body, 0)
    return raw.decode("ascii", "replace")


def authentication(body: bytes) -> tuple[int, bytes]:
    if len(body) < 4:
        raise ProtocolError("Authentication message truncated")
    (code,) = _I32.unpack_from(body, 0)
    return code, body[4:]


def backend_key(body: bytes) -> tuple[int, int]:
    if len(body) != 8:
        # Protocol 3.2 allows longer keys; this gateway speaks 3.0 upstream.
        raise ProtocolError("BackendKeyData has a bad length")
    pid, secret = struct.unpack("!ii", body)
    return pid, secret


def parameter_status(body: bytes) -> tuple[str, str]:
    name, pos = _cstring(body, 0)
    value, _ = _cstring(body, pos)
    return name.decode("utf-8", "replace"), value.decode("utf-8", "replace")


def sasl_mechanisms(payload: bytes) -> list[str]:
    out = []
    pos = 0
    while pos < len(payload) and payload[pos] != 0:
        raw, pos = _cstring(payload, pos)
        out.append(raw.decode("ascii", "replace"))
    return out
