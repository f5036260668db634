"""Result cell values: type categories, and binary <-> text for built-in types. Sans-IO.

Theory of operation
-------------------
Masking works on the *text* form of a cell (docs/masking.md, "Type safety"). For each result
column the adapter knows the type OID, typmod and format code from RowDescription, and calls:

``category(type_oid) -> Category``
    How the masking engine treats the column (once per RowDescription): the *value* of a
    ``proctor.masking.TypeCategory`` member. Codecs sit below masking (DESIGN.md §2) and may not
    import it; the engine compares members by identity, so convert:
    ``TypeCategory(category(oid))``.

``binary_to_text(type_oid, data, encoding, timezone="UTC") -> str | None``
    The text PostgreSQL itself would print for a binary-format (format 1) cell, with
    DateStyle ISO, IntervalStyle postgres, extra_float_digits >= 1 and bytea_output hex.
    None: the type is not supported (treat the cell as unconvertible).

``text_to_binary(type_oid, text, encoding, timezone="UTC") -> bytes | None``
    The inverse, to write a masked value back into a binary-format cell. None: the value cannot
    be represented in that type, or the type is not supported (send NULL instead).

``data`` may be ``bytes`` or a ``memoryview`` slice of the received buffer (no copy needed).
``encoding`` is a *Python* codec name: pass ``encodings.python_codec(client_encoding)``.
``timezone`` is the session's TimeZone (the server reports it in ParameterStatus); it matters
only to timestamptz, and only IANA names (and UTC) are known. A binary cell converted to text,
masked and converted back never depends on DateStyle/IntervalStyle, so these need not match the
session's.

Errors: ``binary_to_text`` raises only ``ValueError`` (malformed bytes, a value out of range,
bytes invalid in ``encoding``, an unknown time zone); ``text_to_binary`` never raises for any
``text``, only ``ValueError`` for an unknown time zone. Messages never quote the value (DESIGN.md
§5): exceptions from the layers below are replaced, not chained.

Supported for binary -> text: bool, int2/4/8, oid, float4/8, numeric, text, varchar, bpchar,
name, "char", xml, json, jsonb, bytea, uuid, date, time, timetz, timestamp, timestamptz,
interval, inet, cidr, and arrays (any dimensions, any lower bounds, NULLs) of those. For
text -> binary: bool, int2/4/8, oid, float4/8, numeric, the text types, json, jsonb, bytea
(hex), date, timestamp and timestamptz (``YYYY-MM-DD`` = midnight, or a full ISO timestamp).
"""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Callable
from typing import Literal

from proctor.codecs.pgwire import values_array as _arr
from proctor.codecs.pgwire import values_numbers as _num
from proctor.codecs.pgwire import values_time as _time

# Built-in type OIDs (PostgreSQL's pg_type.dat; fixed across versions).
BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 18, 19, 20, 21, 23, 25, 26
JSON, XML, JSONB = 114, 142, 3802
FLOAT4, FLOAT8, MONEY, NUMERIC = 700, 701, 790, 1700
INET, CIDR, UUID = 869, 650, 2950
BPCHAR, VARCHAR = 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ = 1082, 1083, 1114, 1184, 1186, 1266

# array type OID -> element type OID
ARRAY_ELEMENT: dict[int, int] = {
    1000: BOOL, 1001: BYTEA, 1002: CHAR, 1003: NAME, 1016: INT8, 1005: INT2, 1007: INT4,
    1009: TEXT, 1028: OID, 199: JSON, 143: XML, 3807: JSONB, 1021: FLOAT4, 1022: FLOAT8,
    1231: NUMERIC, 1041: INET, 651: CIDR, 2951: UUID, 1014: BPCHAR, 1015: VARCHAR,
    1182: DATE, 1183: TIME, 1115: TIMESTAMP, 1185: TIMESTAMPTZ, 1187: INTERVAL, 1270: TIMETZ,
}  # fmt: skip

# The values of proctor.masking.TypeCategory (a unit test keeps the two in step).
Category = Literal["text", "numeric", "date", "binary", "bool", "opaque", "json", "unknown"]
_TEXT: Category = "text"
_NUMERIC: Category = "numeric"
_DATE: Category = "date"
_BINARY: Category = "binary"
_BOOL: Category = "bool"
_OPAQUE: Category = "opaque"
_JSON: Category = "json"
_UNKNOWN: Category = "unknown"
# OPAQUE: types that cannot hold personal text. The engine never scans them (a column rule can
# only make them NULL); as DATE/NUMERIC, date or digit strategies would write into them.
# oid and its reg* aliases are system identifiers: a same-length digit replacement could even
# exceed the oid range.
_OPAQUE_TYPES = (
    OID, UUID, TIME, TIMETZ, INTERVAL,
    27, 28, 29, 5069, 3220, 5038, 2970,  # tid, xid, cid, xid8, pg_lsn, pg_snapshot, txid_snapshot
    1560, 1562,  # bit, varbit
    600, 601, 602, 603, 604, 628, 718,  # point, lseg, path, box, polygon, line, circle
    24, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096, 4191,  # reg* OID aliases
    2278,  # void
)  # fmt: skip
_CATEGORY: dict[int, Category] = {
    **dict.fromkeys((TEXT, VARCHAR, BPCHAR, NAME, CHAR, XML), _TEXT),
    **dict.fromkeys((INT2, INT4, INT8, NUMERIC, FLOAT4, FLOAT8), _NUMERIC),
    **dict.fromkeys((DATE, TIMESTAMP, TIMESTAMPTZ), _DATE),
    BYTEA: _BINARY,
    JSON: _JSON,
    JSONB: _JSON,
    **dict.fromkeys(_OPAQUE_TYPES, _OPAQUE),
    BOOL: _BOOL,
    # money prints with locale currency symbols and separators ("$1,234.56"): a digit strategy
    # would not produce valid money text, so it is UNKNOWN (NULL when anything is found).
    MONEY: _UNKNOWN,
}


def category(type_oid: int) -> Category:
    """The masking category of a column type; UNKNOWN for arrays, inet/cidr, enums, domains,
    composites, extension types (citext has no fixed OID) and OIDs we do not know."""
    return _CATEGORY.get(type_oid, _UNKNOWN)


# -- binary -> text -------------------------------------------------------------------------------

# A cell: bytes, or a memoryview slice of a received buffer.
Buf = bytes | bytearray | memoryview
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")

Decoder = Callable[[Buf, str], str]


def _text(data: Buf, encoding: str) -> str:
    return str(data, encoding)


def _jsonb(data: Buf, encoding: str) -> str:
    if data[:1] != b"\x01":
        raise ValueError("unsupported jsonb version")
    return str(data[1:], encoding)


def _char(data: Buf, encoding: str) -> str:
    if len(data) > 1:
        raise ValueError("malformed char value")
    if not data or data[0] == 0:
        return ""
    b = data[0]
    return f"\\{b:03o}" if b >= 0x80 else chr(b)


def _bool(data: Buf, encoding: str) -> str:
    if data == b"\x01":
        return "t"
    if data == b"\x00":
        return "f"
    raise ValueError("malformed bool value")


def _struct_int(s: struct.Struct) -> Decoder:
    unpack = s.unpack

    def dec(data: Buf, encoding: str) -> str:
        return str(unpack(data)[0])

    return dec


def _uuid(data: Buf, encoding: str) -> str:
    return str(uuid.UUID(bytes=bytes(data)))


def _bytea(data: Buf, encoding: str) -> str:
    return "\\x" + data.hex()


# Types whose binary form is their text form's bytes.
BINARY_IS_TEXT = frozenset({TEXT, VARCHAR, BPCHAR, NAME, XML, JSON})

_DECODERS: dict[int, Decoder] = {
    **dict.fromkeys(BINARY_IS_TEXT, _text),
    JSONB: _jsonb,
    CHAR: _char,
    BOOL: _bool,
    INT2: _struct_int(_I16),
    INT4: _struct_int(_I32),
    INT8: _struct_int(_I64),
    OID: _struct_int(_U32),
    FLOAT4: lambda d, e: _num.float4_out(d),
    FLOAT8: lambda d, e: _num.float8_out(d),
    NUMERIC: lambda d, e: _num.numeric_out(d),
    BYTEA: _bytea,
    UUID: _uuid,
    DATE: lambda d, e: _time.date_out(d),
    TIME: lambda d, e: _time.time_out(d),
    TIMETZ: lambda d, e: _time.timetz_out(d),
    TIMESTAMP: lambda d, e: _time.timestamp_out(d),
    INTERVAL: lambda d, e: _time.interval_out(d),
    INET: lambda d, e: _arr.inet_out(d, False),
    CIDR: lambda d, e: _arr.inet_out(d, True),
}


def binary_to_text(type_oid: int, data: Buf, encoding: str, timezone: str = "UTC") -> str | None:
    """PostgreSQL's text form of a binary-format cell; None if the type is not supported.

    Raises ``ValueError`` (and nothing else) on malformed input; the message never quotes it.
    """
    try:
        dec = _DECODERS.get(type_oid)
        if dec is not None:
            return dec(data, encoding)
        if type_oid == TIMESTAMPTZ:
            return _time.timestamptz_out(data, timezone)
        elem = ARRAY_ELEMENT.get(type_oid)
        if elem is None:
            return None
        return _arr.array_out(data, encoding, _element_decoder(timezone), elem)
    except UnicodeError:
        raise ValueError(f"invalid byte sequence for encoding {encoding}") from None
    except ValueError as exc:
        raise ValueError(f"type {type_oid}: {_safe(exc)}") from None
    except Exception as exc:  # struct.error, IndexError, OverflowError...: never the value
        raise ValueError(
            f"malformed binary value of type {type_oid} ({type(exc).__name__})"
        ) from None


def _safe(exc: ValueError) -> str:
    """Our own messages are fixed strings; anything else (int(), uuid) may quote the value."""
    msg = str(exc)
    return msg if msg in _OWN_MESSAGES else "malformed value"


_OWN_MESSAGES = frozenset(
    {
        "malformed numeric value",
        "date out of range",
        "timestamp out of range",
        "time out of range",
        "unknown time zone",
        "array element type does not match the column type",
        "malformed array header",
        "malformed array dimension",
        "malformed array element",
        "trailing bytes after array",
        "malformed inet value",
        "unsupported jsonb version",
        "malformed char value",
        "malformed bool value",
    }
)


def _element_decoder(timezone: str) -> Callable[[int], Decoder | None]:
    def lookup(elem: int) -> Decoder | None:
        if elem == TIMESTAMPTZ:
            return lambda d, e: _time.timestamptz_out(d, timezone)
        return _DECODERS.get(elem)

    return lookup


# -- text -> binary -------------------------------------------------------------------------------

_INT_TEXT = re.compile(r"\s*([+-]?[0-9]+)\s*", re.ASCII)
_INT_RANGE = {
    INT2: (_I16, -(2**15), 2**15 - 1),
    INT4: (_I32, -(2**31), 2**31 - 1),
    INT8: (_I64, -(2**63), 2**63 - 1),
    OID: (_U32, 0, 2**32 - 1),
}
_BOOL_TEXT = {
    **dict.fromkeys(("t", "true", "y", "yes", "on", "1"), b"\x01"),
    **dict.fromkeys(("f", "false", "n", "no", "off", "0"), b"\x00"),
}
_OCTAL_CHAR = re.compile(r"\\([0-3][0-7]{2})", re.ASCII)


def _int_in(type_oid: int, text: str) -> bytes | None:
    m = _INT_TEXT.fullmatch(text)
    if m is None or len(m[1]) > 25:
        return None
    s, lo, hi = _INT_RANGE[type_oid]
    v = int(m[1])
    return s.pack(v) if lo <= v <= hi else None


def _char_in(text: str, encoding: str) -> bytes | None:
    m = _OCTAL_CHAR.fullmatch(text)
    if m is not None:
        return bytes([int(m[1], 8)])
    raw = text.encode(encoding)
    if not raw:
        return b"\x00"  # charsend: the empty "char" is one NUL byte
    return raw if len(raw) == 1 and raw[0] < 0x80 else None


def text_to_binary(type_oid: int, text: str, encoding: str, timezone: str = "UTC") -> bytes | None:
    """The binary form of ``text`` for a column of ``type_oid``; None when it cannot be
    represented there (or the type is not supported): the caller sends NULL."""
    if type_oid in (TEXT, VARCHAR, BPCHAR, NAME, XML, JSON, JSONB, CHAR):
        try:
            if type_oid == CHAR:
                return _char_in(text, encoding)
            raw = text.encode(encoding)
        except UnicodeError:
            return None  # not representable in the client encoding
        return b"\x01" + raw if type_oid == JSONB else raw
    if type_oid in _INT_RANGE:
        return _int_in(type_oid, text)
    if type_oid == NUMERIC:
        return _num.numeric_in(text)
    if type_oid == FLOAT8:
        return _num.float8_in(text)
    if type_oid == FLOAT4:
        return _num.float4_in(text)
    if type_oid == DATE:
        return _time.date_in(text)
    if type_oid == TIMESTAMP:
        return _time.timestamp_in(text)
    if type_oid == TIMESTAMPTZ:
        return _time.timestamptz_in(text, timezone)
    if type_oid == BOOL:
        return _BOOL_TEXT.get(text.strip().lower())
    if type_oid == BYTEA:
        if not text.startswith("\\x"):
            return None
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            return None
    return None


__all__ = ["ARRAY_ELEMENT", "Category", "binary_to_text", "category", "text_to_binary"]
