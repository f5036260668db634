"""Binary <-> text of result cells (values.py): known encodings, round trips, malformed input.

The real-server comparison lives in tests/integration/postgres/test_pgwire_values_real.py.
"""

from __future__ import annotations

import math
import struct
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.codecs.pgwire import values as v
from proctor.masking.entities import TypeCategory


def b2t(oid: int, data: bytes | memoryview, encoding: str = "utf-8", tz: str = "UTC") -> str | None:
    return v.binary_to_text(oid, data, encoding, tz)


def t2b(oid: int, text: str, encoding: str = "utf-8", tz: str = "UTC") -> bytes | None:
    return v.text_to_binary(oid, text, encoding, tz)


def numeric(ndigits: int, weight: int, sign: int, dscale: int, *digits: int) -> bytes:
    return struct.pack(f">hhHH{len(digits)}h", ndigits, weight, sign, dscale, *digits)


def array(elem: int, dims: list[tuple[int, int]], items: list[bytes | None]) -> bytes:
    out = struct.pack(">iiI", len(dims), int(None in items), elem)
    out += b"".join(struct.pack(">ii", n, lb) for n, lb in dims)
    for item in items:
        out += struct.pack(">i", -1) if item is None else struct.pack(">i", len(item)) + item
    return out


# -- categories -----------------------------------------------------------------------------------


def test_categories_are_type_category_values() -> None:
    assert set(v.Category.__args__) == {c.value for c in TypeCategory}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("oid", "expected"),
    [
        (25, "text"), (1043, "text"), (1042, "text"), (19, "text"), (18, "text"), (142, "text"),
        (21, "numeric"), (23, "numeric"), (20, "numeric"), (1700, "numeric"), (700, "numeric"),
        (701, "numeric"), (26, "opaque"),
        (1082, "date"), (1114, "date"), (1184, "date"),
        (17, "binary"), (16, "bool"), (114, "json"), (3802, "json"),
        (2950, "opaque"), (1083, "opaque"), (1266, "opaque"), (1186, "opaque"),
        (3220, "opaque"), (2205, "opaque"), (600, "opaque"), (1560, "opaque"),
        (790, "unknown"), (869, "unknown"), (650, "unknown"), (1009, "unknown"),
        (1007, "unknown"), (123456, "unknown"), (0, "unknown"),
    ],
)  # fmt: skip
def test_category(oid: int, expected: str) -> None:
    assert v.category(oid) == expected
    assert TypeCategory(v.category(oid)) is TypeCategory(expected)


# -- scalars: binary -> text ----------------------------------------------------------------------

SCALARS: list[tuple[int, bytes, str]] = [
    (16, b"\x01", "t"),
    (16, b"\x00", "f"),
    (21, struct.pack(">h", -32768), "-32768"),
    (23, struct.pack(">i", 2147483647), "2147483647"),
    (20, struct.pack(">q", -(2**63)), "-9223372036854775808"),
    (26, struct.pack(">I", 4294967295), "4294967295"),
    (25, "é ü".encode(), "é ü"),
    (1043, b"", ""),
    (1042, b"ab   ", "ab   "),
    (19, b"pg_catalog", "pg_catalog"),
    (18, b"a", "a"),
    (18, b"\x00", ""),
    (18, b"\xff", "\\377"),
    (114, b'{"a": 1}', '{"a": 1}'),
    (3802, b'\x01{"a": 1}', '{"a": 1}'),
    (17, b"\x00\xff\x10", "\\x00ff10"),
    (17, b"", "\\x"),
    (2950, bytes(range(16)), "00010203-0405-0607-0809-0a0b0c0d0e0f"),
    (700, struct.pack(">f", 0.1), "0.1"),
    (700, struct.pack(">f", 1e6), "1e+06"),
    (700, struct.pack(">f", 123456.0), "123456"),
    (700, struct.pack(">f", -1.5e-5), "-1.5e-05"),
    (700, struct.pack(">f", math.nan), "NaN"),
    (700, struct.pack(">f", -math.inf), "-Infinity"),
    (701, struct.pack(">d", 0.1), "0.1"),
    (701, struct.pack(">d", 1e15), "1e+15"),
    (701, struct.pack(">d", 1e14), "100000000000000"),
    (701, struct.pack(">d", 0.0001), "0.0001"),
    (701, struct.pack(">d", 0.00001), "1e-05"),
    (701, struct.pack(">d", -0.0), "-0"),
    (701, struct.pack(">d", 5e-324), "5e-324"),
    (701, struct.pack(">d", 1.7976931348623157e308), "1.7976931348623157e+308"),
    (701, struct.pack(">d", math.inf), "Infinity"),
    # Python's repr says 4.668695302140438e+16: exactly on the rounding bound, which
    # PostgreSQL's Ryu does not accept.
    (701, bytes.fromhex("4364bbb12a4f8e9c"), "4.6686953021404384e+16"),
    (700, bytes.fromhex("15ae43fd"), "7.038531e-26"),  # float4 must not round twice
    (1700, numeric(0, 0, 0, 0), "0"),
    (1700, numeric(0, 0, 0, 2), "0.00"),
    (1700, numeric(2, 0, 0x4000, 4, 123, 4500), "-123.4500"),
    (1700, numeric(1, 1, 0, 0, 1), "10000"),
    (1700, numeric(1, -1, 0, 4, 1), "0.0001"),
    (1700, numeric(1, -2, 0, 5, 1000), "0.00001"),
    (1700, numeric(1, 2, 0, 0, 15), "1500000000"),
    (1700, numeric(3, 0, 0, 9, 1, 2345, 6789), "1.234567890"),
    (1700, numeric(0, 0, 0xC000, 0), "NaN"),
    (1700, numeric(0, 0, 0xD000, 32), "Infinity"),
    (1700, numeric(0, 0, 0xF000, 32), "-Infinity"),
    (1082, struct.pack(">i", 0), "2000-01-01"),
    (1082, struct.pack(">i", -1), "1999-12-31"),
    (1082, struct.pack(">i", -10957), "1970-01-01"),
    (1082, struct.pack(">i", -730119), "0001-01-01"),
    (1082, struct.pack(">i", -730120), "0001-12-31 BC"),
    (1082, struct.pack(">i", -2451545), "4714-11-24 BC"),
    (1082, struct.pack(">i", 2147483647), "infinity"),
    (1082, struct.pack(">i", -2147483648), "-infinity"),
    (1114, struct.pack(">q", 0), "2000-01-01 00:00:00"),
    (1114, struct.pack(">q", -1), "1999-12-31 23:59:59.999999"),
    (1114, struct.pack(">q", 1_500_000), "2000-01-01 00:00:01.5"),
    (1114, struct.pack(">q", 2**63 - 1), "infinity"),
    (1114, struct.pack(">q", -(2**63)), "-infinity"),
    (1184, struct.pack(">q", 0), "2000-01-01 00:00:00+00"),
    (1184, struct.pack(">q", -730120 * 86400 * 10**6), "0001-12-31 00:00:00+00 BC"),
    (1083, struct.pack(">q", 45_296_789_000), "12:34:56.789"),
    (1083, struct.pack(">q", 86_400_000_000), "24:00:00"),
    (1266, struct.pack(">qi", 45_296_000_000, -7200), "12:34:56+02"),
    (1266, struct.pack(">qi", 0, 19800), "00:00:00-05:30"),
    (1266, struct.pack(">qi", 0, -3723), "00:00:00+01:02:03"),
    (1186, struct.pack(">qii", 0, 0, 0), "00:00:00"),
    (1186, struct.pack(">qii", 0, 0, 14), "1 year 2 mons"),
    (1186, struct.pack(">qii", 0, 0, -14), "-1 years -2 mons"),
    (1186, struct.pack(">qii", 0, 1, 0), "1 day"),
    (1186, struct.pack(">qii", -14_706_500_000, 0, 0), "-04:05:06.5"),
    (1186, struct.pack(">qii", 3_600_000_000, -1, 1), "1 mon -1 days +01:00:00"),
    (1186, struct.pack(">qii", -10_800_000_000, 2, 11), "11 mons 2 days -03:00:00"),
    (869, bytes([2, 32, 0, 4, 1, 2, 3, 4]), "1.2.3.4"),
    (869, bytes([2, 8, 0, 4, 10, 0, 0, 1]), "10.0.0.1/8"),
    (650, bytes([2, 32, 1, 4, 1, 2, 3, 4]), "1.2.3.4/32"),
    (869, bytes([3, 128, 0, 16]) + bytes(15) + b"\x01", "::1"),
    (869, bytes([3, 128, 0, 16]) + bytes(16), "::"),
    (869, bytes([3, 64, 0, 16]) + b"\xfe\x80" + bytes(13) + b"\x01", "fe80::1/64"),
    (869, bytes([3, 128, 0, 16]) + bytes(10) + b"\xff\xff\x01\x02\x03\x04", "::ffff:1.2.3.4"),
    (869, bytes([3, 128, 0, 16]) + bytes(12) + b"\x01\x02\x03\x04", "::1.2.3.4"),
    (869, bytes([3, 128, 0, 16]) + b"\x00\x01\x00\x00\x00\x00\x00\x02" + bytes(8), "1:0:0:2::"),
    (650, bytes([3, 32, 1, 16]) + b"\x20\x01\x0d\xb8" + bytes(12), "2001:db8::/32"),
]


@pytest.mark.parametrize(("oid", "data", "text"), SCALARS)
def test_binary_to_text(oid: int, data: bytes, text: str) -> None:
    assert b2t(oid, data) == text
    assert b2t(oid, memoryview(data)) == text  # a slice of a received buffer works too


WRITABLE = {16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 700, 701, 1042, 1043, 1082, 1114, 1184}
WRITABLE |= {1700, 3802}


@pytest.mark.parametrize(("oid", "data", "text"), [s for s in SCALARS if s[0] in WRITABLE])
def test_text_to_binary_inverts(oid: int, data: bytes, text: str) -> None:
    assert t2b(oid, text) == data


def test_timestamptz_in_a_session_time_zone() -> None:
    summer = struct.pack(">q", (24 * 3600 + 3600) * 10**6 * 182)  # 2000-07-01 ~ noon UTC
    text = b2t(1184, summer, tz="Europe/Berlin")
    assert text is not None and text.endswith("+02")
    assert t2b(1184, text, tz="Europe/Berlin") == summer
    assert b2t(1184, struct.pack(">q", 0), tz="America/St_Johns") == "1999-12-31 20:30:00-03:30"
    # Before standard time: local mean time, with seconds.
    old = struct.pack(">q", -100 * 365 * 86400 * 10**6)
    assert b2t(1184, old, tz="Europe/Amsterdam") == "1900-01-25 00:19:32+00:19:32"
    with pytest.raises(ValueError, match="time zone"):
        b2t(1184, old, tz="Not/AZone")


# -- text -> binary -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oid", "text", "data"),
    [
        (21, " 42 ", struct.pack(">h", 42)),
        (23, "+7", struct.pack(">i", 7)),
        (1700, "1.5e3", numeric(1, 0, 0, 0, 1500)),
        (1700, "12.3e-2", numeric(1, -1, 0, 3, 1230)),
        (1700, "-0.000", numeric(0, 0, 0, 3)),
        (1700, "inf", numeric(0, 0, 0xD000, 32)),
        (1700, "nan", numeric(0, 0, 0xC000, 0)),
        (701, "1e308", struct.pack(">d", 1e308)),
        (701, "-Infinity", struct.pack(">d", -math.inf)),
        (700, "3.4028235e38", struct.pack(">f", 3.4028235e38)),
        (1082, "1990-05-17", struct.pack(">i", -3516)),
        (1082, "0044-03-15 BC", struct.pack(">i", -746117)),
        (1082, " infinity ", struct.pack(">i", 2**31 - 1)),
        (1114, "1990-05-17", struct.pack(">q", -3516 * 86400 * 10**6)),
        (1114, "2000-01-01T00:00:01.25", struct.pack(">q", 1_250_000)),
        (1114, "2000-01-01 00:00:00+05", struct.pack(">q", 0)),  # timestamp ignores a zone
        (1184, "2000-01-01 00:00:00+05:30", struct.pack(">q", -19_800_000_000)),
        (1184, "2000-01-01 00:00:00Z", struct.pack(">q", 0)),
        (1184, "1990-05-17", struct.pack(">q", -3516 * 86400 * 10**6)),
        (16, "yes", b"\x01"),
        (17, "\\xDEAD", b"\xde\xad"),
        (3802, "[1]", b"\x01[1]"),
        (18, "", b"\x00"),
    ],
)
def test_text_to_binary(oid: int, text: str, data: bytes) -> None:
    assert t2b(oid, text) == data


@pytest.mark.parametrize(
    ("oid", "text"),
    [
        (21, "32768"), (21, "-32769"), (23, "2147483648"), (20, "9223372036854775808"),
        (26, "-1"), (23, "1.0"), (23, "١٢"), (23, "1_000"), (23, ""), (23, "abc"),
        (1700, "1_000"), (1700, "."), (1700, "-NaN"), (1700, "1e99999999"), (1700, "12abc"),
        (1700, "1e-20000"),
        (701, "1e400"), (701, "1e-400"), (701, "0x10"), (701, "1_0"), (700, "1e39"),
        (700, "1e-50"),
        (1082, "2023-02-29"), (1082, "0000-01-01"), (1082, "2000-13-01"), (1082, "17/05/1990"),
        (1082, "1990-05-17 12:00:00"), (1082, "5874898-01-01"), (1082, "4714-11-23 BC"),
        (1114, "2000-01-01 24:00:01"), (1114, "294277-01-01"), (1184, "2000-01-01 00:00:00+16"),
        (16, "maybe"), (17, "abc"), (17, "\\xabc"), (18, "ab"), (18, "é"),
        (25, "€"),  # not in latin-1 (encoding below)
        (869, "1.2.3.4"), (2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), (1007, "{1}"),
    ],
)  # fmt: skip
def test_text_to_binary_refuses(oid: int, text: str) -> None:
    assert t2b(oid, text, "latin-1") is None


def test_encodings() -> None:
    assert b2t(25, "café".encode("latin-1"), "latin-1") == "café"
    assert t2b(25, "café", "latin-1") == b"caf\xe9"
    assert b2t(25, "привет".encode("cp1251"), "cp1251") == "привет"
    assert b2t(1009, array(25, [(1, 1)], [b"\xe9 x"]), "latin-1") == '{"é x"}'
    with pytest.raises(ValueError, match="invalid byte sequence") as err:
        b2t(25, b"secret \xff", "utf-8")
    assert "secret" not in str(err.value) and err.value.__cause__ is None


# -- arrays ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oid", "data", "text"),
    [
        (1009, array(25, [], []), "{}"),
        (1009, array(25, [(0, 1)], []), "{}"),
        (1009, array(25, [(2, 1)], [b"a", b"b"]), "{a,b}"),
        (
            1009,
            array(25, [(9, 1)], [b"a b", b"c,d", b"", None, b"null", b"NULL", b'x"y', b"b\\s",
                                 b"{x}"]),
            '{"a b","c,d","",NULL,"null","NULL","x\\"y","b\\\\s","{x}"}',
        ),
        (1009, array(25, [(3, 1)], [b"tab\tx", b"nl\n", b"\xc3\xa9"]), '{"tab\tx","nl\n",é}'),
        (1007, array(23, [(2, 1), (2, 1)], [struct.pack(">i", i) for i in range(4)]),
         "{{0,1},{2,3}}"),
        (1007, array(23, [(1, 1), (1, 1), (1, 1)], [struct.pack(">i", 5)]), "{{{5}}}"),
        (1009, array(25, [(2, 0)], [b"x", b"y"]), "[0:1]={x,y}"),
        (1009, array(25, [(2, 2), (2, -1)], [b"a", b"b", b"c", b"d"]),
         "[2:3][-1:0]={{a,b},{c,d}}"),
        (1000, array(16, [(3, 1)], [b"\x01", b"\x00", None]), "{t,f,NULL}"),
        (1231, array(1700, [(2, 1)], [numeric(1, 0, 0, 2, 1), numeric(0, 0, 0xC000, 0)]),
         "{1.00,NaN}"),
        (1182, array(1082, [(2, 1)], [struct.pack(">i", 0), struct.pack(">i", -730120)]),
         '{2000-01-01,"0001-12-31 BC"}'),
        (1185, array(1184, [(1, 1)], [struct.pack(">q", 0)]), '{"2000-01-01 00:00:00+00"}'),
        (3807, array(3802, [(1, 1)], [b'\x01{"a": 1}']), '{"{\\"a\\": 1}"}'),
        (1041, array(869, [(1, 1)], [bytes([2, 32, 0, 4, 1, 2, 3, 4])]), "{1.2.3.4}"),
        (2951, array(2950, [(1, 1)], [bytes(16)]), "{00000000-0000-0000-0000-000000000000}"),
        (1001, array(17, [(1, 1)], [b"\x01"]), '{"\\\\x01"}'),
    ],
)  # fmt: skip
def test_arrays(oid: int, data: bytes, text: str) -> None:
    assert b2t(oid, data) == text


def test_array_of_unsupported_element_is_unsupported() -> None:
    assert b2t(1007, array(23, [(1, 1)], [b"\x00\x00\x00\x01"])) == "{1}"
    assert b2t(791, array(790, [(1, 1)], [bytes(8)])) is None  # _money: not in the table
    assert b2t(790, bytes(8)) is None
    assert b2t(123456, b"x") is None


# -- malformed input: ValueError, never anything else, never the value ---------------------------

MALFORMED: list[tuple[int, bytes]] = [
    (16, b"\x02"), (16, b""), (21, b"\x00"), (23, b"\x00\x00\x00"), (20, b"\x00" * 9),
    (26, b"\x00"), (700, b"\x00"), (701, b"\x00" * 4), (2950, b"\x00" * 15), (3802, b"\x02{}"),
    (18, b"ab"), (1082, b"\x00"), (1082, struct.pack(">i", -2451546)),
    (1114, struct.pack(">q", 9223371331200000000)), (1083, struct.pack(">q", -1)),
    (1266, struct.pack(">qi", 0, 90000)), (1186, b"\x00" * 15),
    (1700, numeric(1, 0, 0, 0)), (1700, numeric(1, 0, 0, 0, 10000)),
    (1700, numeric(1, 0, 0x1234, 0, 1)), (1700, numeric(-1, 0, 0, 0)),
    (1700, numeric(0, 0, 0xC000, 0, 1)), (1700, b"\x00"),
    (869, bytes([2, 33, 0, 4, 1, 2, 3, 4])), (869, bytes([4, 32, 0, 4, 1, 2, 3, 4])),
    (869, bytes([2, 32, 0, 4, 1, 2, 3])), (650, bytes([3, 128, 1, 16]) + bytes(15)),
    (1007, array(25, [(1, 1)], [b"a"])),  # element type is not int4
    (1007, array(23, [(2, 1)], [struct.pack(">i", 1)])),  # too few elements
    (1007, array(23, [(1, 1)], [struct.pack(">i", 1)]) + b"x"),
    (1007, array(23, [(1, 1)], [b"\x00\x00"])),
    (1007, struct.pack(">iiI", 7, 0, 23)), (1007, struct.pack(">iiIii", 1, 0, 23, -1, 1)),
    (1007, struct.pack(">iiI", 1, 0, 23) + struct.pack(">ii", 1, 1) + struct.pack(">i", -2)),
    (1007, b"\x00"),
]  # fmt: skip


@pytest.mark.parametrize(("oid", "data"), MALFORMED)
def test_malformed_raises_value_error(oid: int, data: bytes) -> None:
    with pytest.raises(ValueError) as err:
        b2t(oid, data)
    assert type(err.value) is ValueError
    assert err.value.__cause__ is None and err.value.__suppress_context__  # never chained


SUPPORTED = sorted(
    {16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 142, 650, 700, 701, 869, 1042, 1043}
    | {1082, 1083, 1114, 1184, 1186, 1266, 1700, 2950, 3802}
    | set(v.ARRAY_ELEMENT)
)


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(SUPPORTED), st.binary(max_size=40))
def test_fuzz_only_value_error(oid: int, data: bytes) -> None:
    try:
        out = b2t(oid, data)
    except ValueError as exc:
        assert type(exc) is ValueError
        assert exc.__suppress_context__ or exc.__context__ is None
    else:
        assert out is None or isinstance(out, str)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(WRITABLE | {1184})), st.text(max_size=30))
def test_text_to_binary_never_raises(oid: int, text: str) -> None:
    out = t2b(oid, text)
    assert out is None or isinstance(out, bytes)


# -- round trips ----------------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(st.floats(allow_nan=False))
def test_float8_round_trip(x: float) -> None:
    data = struct.pack(">d", x)
    text = b2t(701, data)
    assert text is not None and float(text) == x
    assert t2b(701, text) == data


@settings(max_examples=1000, deadline=None)
@given(st.floats(width=32, allow_nan=False))
def test_float4_round_trip(x: float) -> None:
    data = struct.pack(">f", x)
    text = b2t(700, data)
    assert text is not None
    assert t2b(700, text) == data


@settings(max_examples=1000, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_numeric_round_trip(d: Decimal) -> None:
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    if abs(exponent) > 1000 or d.adjusted() > 1000:
        return
    text = f"{d:f}"
    data = t2b(1700, text)
    assert data is not None
    back = b2t(1700, data)
    assert back is not None and Decimal(back) == d
    assert t2b(1700, back) == data


@settings(max_examples=1000, deadline=None)
@given(st.integers(-2451545, 2147483494 - 2451545 - 1))
def test_date_round_trip(days: int) -> None:
    data = struct.pack(">i", days)
    text = b2t(1082, data)
    assert text is not None and t2b(1082, text) == data


@settings(max_examples=1000, deadline=None)
@given(st.integers(-211813488000000000, 9223371331200000000 - 1), st.booleans())
def test_timestamp_round_trip(usecs: int, tz: bool) -> None:
    oid = 1184 if tz else 1114
    data = struct.pack(">q", usecs)
    text = b2t(oid, data)
    assert text is not None and t2b(oid, text) == data


@given(st.integers(-(2**63), 2**63 - 1))
def test_int8_round_trip(i: int) -> None:
    assert t2b(20, b2t(20, struct.pack(">q", i)) or "") == struct.pack(">q", i)


# PostgreSQL text never holds NUL (and the unescaping below uses it as a placeholder).
_PG_TEXT = st.characters(codec="utf-8", exclude_characters="\x00")


@given(st.text(alphabet=_PG_TEXT, max_size=8), st.sampled_from([25, 1009]))
def test_text_and_array_quoting_agree_with_parse(s: str, oid: int) -> None:
    if oid == 25:
        assert b2t(25, s.encode()) == s
        return
    out = b2t(1009, array(25, [(1, 1)], [s.encode()]))
    assert out is not None and out.startswith("{") and out.endswith("}")
    inner = out[1:-1]
    if inner.startswith('"'):
        assert inner.endswith('"')
        body = inner[1:-1]
        assert body.replace('\\"', "").replace("\\\\", "").count('"') == 0
        assert body.replace("\\\\", "\0").replace('\\"', '"').replace("\0", "\\") == s
    else:
        assert inner == s and s and s.upper() != "NULL"


def test_uuid_matches_python() -> None:
    u = uuid.uuid4()
    assert b2t(2950, u.bytes) == str(u)
