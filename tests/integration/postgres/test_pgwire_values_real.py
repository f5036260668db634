"""values.py against a real PostgreSQL: every sample fetched in text and in binary format.

For each value, ``binary_to_text(binary) == text`` (what PostgreSQL prints) and, for the types
that can be written back, ``text_to_binary(text) == binary`` (what PostgreSQL sends).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

import psycopg
import pytest

from proctor.codecs.pgwire import values
from proctor.demo.pgcluster import PgCluster

pytestmark = pytest.mark.integration

WRITABLE = {
    "text", "varchar", "bpchar", "name", "\"char\"", "xml", "json", "jsonb", "int2", "int4",
    "int8", "oid", "float4", "float8", "numeric", "date", "timestamp", "timestamptz", "bool",
    "bytea",
}  # fmt: skip

SAMPLES: dict[str, list[str]] = {
    "text": ["", "hello", "a b,c", "jane@example.com", "é ü ß", "ünï\tcode\n", "NULL"],
    "varchar": ["x", "longer value"],
    "bpchar": ["ab"],
    "char(5)": ["ab"],
    "name": ["pg_catalog", "x"],
    '"char"': ["a", "", "\\201", "\\377"],
    "xml": ["<a>b</a>"],
    "json": ['{"a": [1, 2.50, "x"]}', "null", '"s"'],
    "jsonb": ['{"b": 1, "a": [1, 2.50, "x"]}', "null", '"é"'],
    "bool": ["t", "f"],
    "int2": ["0", "-32768", "32767", "42"],
    "int4": ["0", "-2147483648", "2147483647", "-7"],
    "int8": ["0", "-9223372036854775808", "9223372036854775807", "4111111111111111"],
    "oid": ["0", "4294967295", "12345"],
    "float4": [
        "0",
        "-0",
        "1",
        "-1.5",
        "0.1",
        "1e6",
        "123456",
        "999999",
        "1e-4",
        "1.5e-5",
        "3.4028235e38",
        "1.4e-45",
        "1.17549435e-38",
        "NaN",
        "Infinity",
        "-Infinity",
        "16777216",
        "7.038531e-26",
    ],
    "float8": [
        "0",
        "-0",
        "1",
        "0.1",
        "1e15",
        "1e14",
        "123456789012345",
        "1234567890123456",
        "1e-4",
        "1e-5",
        "1.7976931348623157e308",
        "5e-324",
        "2.2250738585072014e-308",
        "NaN",
        "Infinity",
        "-Infinity",
        "3.141592653589793",
        "-2.5e-300",
        "9007199254740993",
    ],
    "numeric": [
        "0",
        "0.00",
        "-0.0",
        "1",
        "-1",
        "10000",
        "100000000",
        "0.0001",
        "0.00001",
        "-123.4500",
        "12345678901234567890.12345678901234567890",
        "1e-20",
        "1.5e30",
        "NaN",
        "Infinity",
        "-Infinity",
        "9999.9999",
        "0.1",
        "-0.000000001",
        "1e100",
    ],
    "numeric(10,3)": ["1.5", "-2", "0"],
    "money": ["12.34"],
    "bytea": ["\\x", "\\x00ff10", "abc"],
    "uuid": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"],
    "date": [
        "2000-01-01",
        "1999-12-31",
        "1970-01-01",
        "2024-02-29",
        "0001-01-01",
        "0001-12-31 BC",
        "0044-03-15 BC",
        "4713-01-01 BC",
        "4714-11-24 BC",
        "9999-12-31",
        "10000-01-01",
        "5874897-12-31",
        "infinity",
        "-infinity",
        "1900-02-28",
    ],
    "time": ["00:00:00", "12:34:56.789", "23:59:59.999999", "24:00:00", "00:00:00.1"],
    "timetz": ["12:34:56+02", "12:34:56.5-05:30", "00:00:00+00", "01:02:03+13:45:12"],
    "timestamp": [
        "2000-01-01 00:00:00",
        "1999-12-31 23:59:59.999999",
        "2024-02-29 12:00:00.5",
        "0044-03-15 12:00:00 BC",
        "4714-11-24 00:00:00 BC",
        "294276-12-31 23:59:59.999999",
        "infinity",
        "-infinity",
        "1900-01-01 00:00:00.000001",
    ],
    "timestamptz": [
        "2000-01-01 00:00:00+00",
        "1999-12-31 23:59:59.999999+00",
        "2024-07-01 12:00:00+02",
        "1900-01-01 00:00:00+00",
        "1850-06-01 12:00:00+00",
        "0044-03-15 12:00:00+00 BC",
        "2100-03-28 01:30:00+00",
        "infinity",
        "-infinity",
    ],
    "interval": [
        "0",
        "1 year",
        "2 years 3 mons",
        "-1 year -2 mons",
        "1 day",
        "-3 days",
        "04:05:06",
        "-04:05:06.5",
        "1 year -1 mons 2 days -03:00:00",
        "1 mon -1 day +01:00:00",
        "-1 year +2 days",
        "100 hours",
        "0.000001 seconds",
        "-0.5 seconds",
        "178000000 years",
    ],
    "inet": [
        "1.2.3.4",
        "10.0.0.1/8",
        "0.0.0.0/0",
        "::1",
        "::",
        "fe80::1/64",
        "2001:db8::1",
        "2001:db8:0:0:1:0:0:1",
        "1:0:0:2:0:0:0:3",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "1:2:3:4:5:6:7:8",
        "0:0:1::",
        "1::",
        "1:0:1:0:1:0:1:0",
    ],
    "cidr": ["10.0.0.0/8", "1.2.3.4/32", "2001:db8::/32", "::/0", "::ffff:0.0.0.0/96"],
    "text[]": [
        "{}",
        "{a,b}",
        '{"a b","c,d","",NULL,"null","NULL","x\\"y","back\\\\slash"}',
        '{"{x}"," lead","trail ","tab\tx"}',
        "{{a,b},{c,d}}",
        "[0:1]={x,y}",
        "[2:3][-1:0]={{a,b},{c,d}}",
        "{{{a}}}",
        '{"é"}',
    ],
    "varchar[]": ["{a,NULL}"],
    "bpchar[]": ["{a,bb}"],
    "name[]": ["{a,b}"],
    "int2[]": ["{1,-2,NULL}"],
    "int4[]": ["{1,2,3}", "{{1,2},{3,4}}", "{NULL}"],
    "int8[]": ["{9223372036854775807}"],
    "numeric[]": ["{1.50,-0.001,NaN}"],
    "float4[]": ["{1.5,NaN,-Infinity}"],
    "float8[]": ["{0.1,1e300}"],
    "date[]": ['{2000-01-01,infinity,"0044-03-15 BC"}'],
    "timestamp[]": ['{"2000-01-01 00:00:00",NULL}'],
    "timestamptz[]": ['{"2000-01-01 00:00:00+00"}'],
    "json[]": ['{"{\\"a\\": 1}","[]"}'],
    "jsonb[]": ['{"{\\"a\\": 1}",null}'],
    "inet[]": ["{1.2.3.4,::1/64}"],
    "cidr[]": ["{10.0.0.0/8}"],
    "uuid[]": ["{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"],
    "bool[]": ["{t,f,NULL}"],
    "bytea[]": ["{\\\\x00ff}"],
    "interval[]": ['{"1 day",-00:00:01}'],
    "time[]": ["{12:00:00}"],
    "timetz[]": ['{"12:00:00+01"}'],
    "oid[]": ["{1,2}"],
    '"char"[]': ["{a,b}"],
    "xml[]": ["{<a/>}"],
}


def _random_samples() -> dict[str, list[str]]:
    rnd = random.Random(20240601)
    f8 = [repr(struct.unpack(">d", rnd.randbytes(8))[0]) for _ in range(1500)]
    f4 = [repr(struct.unpack(">f", rnd.randbytes(4))[0]) for _ in range(1500)]
    f4 += [repr(float(rnd.randint(-(10**9), 10**9)) / 10 ** rnd.randint(0, 12)) for _ in range(500)]
    f8 += [repr(rnd.uniform(-1e20, 1e20)) for _ in range(300)]

    def num() -> str:
        whole = str(rnd.randint(0, 10 ** rnd.randint(0, 40)))
        frac = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(0, 30)))
        return rnd.choice(["", "-"]) + whole + ("." + frac if frac else "")

    days = [rnd.randint(-2451545, 2147483494 - 2451545 - 1) for _ in range(500)]
    days += [rnd.randint(-800_000, 40_000) for _ in range(500)]
    usecs = [rnd.randint(-211813488000000000, 9223371331200000000 - 1) for _ in range(500)]
    usecs += [rnd.randint(-70 * 10**15, 5 * 10**15) for _ in range(500)]
    return {
        "float8": [x for x in f8 if x != "nan"],
        "float4": [x for x in f4 if x != "nan"],
        "numeric": [num() for _ in range(1000)],
        "date": [f"'2000-01-01'::date + {d}" for d in days],
        "timestamp": [f"'2000-01-01'::timestamp + interval '{u} microseconds'" for u in usecs],
    }


@pytest.fixture(scope="module")
def conn(pg_cluster: PgCluster) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as c:
        c.execute("set timezone = 'UTC'")
        yield c


def fetch(
    conn: psycopg.Connection[tuple[object, ...]], query: str, encoding: str = "utf-8"
) -> list[tuple[int, bytes | None, bytes | None]]:
    """(type OID, text bytes, binary bytes) of column 0 of every row."""
    out: list[list[bytes | None]] = []
    oid = 0
    for fmt in (0, 1):
        res = conn.pgconn.exec_params(query.encode(encoding), [], result_format=fmt)
        assert res.status == psycopg.pq.ExecStatus.TUPLES_OK, res.error_message
        oid = res.ftype(0)
        out.append([res.get_value(r, 0) for r in range(res.ntuples)])
    return [(oid, t, b) for t, b in zip(out[0], out[1], strict=True)]


def quote(lit: str) -> str:
    return "'" + lit.replace("'", "''") + "'"


def check(
    conn: psycopg.Connection[tuple[object, ...]],
    typ: str,
    literals: list[str],
    encoding: str = "utf-8",
    timezone: str = "UTC",
    raw_sql: bool = False,
) -> int:
    parts = [f"({i}, ({lit if raw_sql else quote(lit)})::{typ})" for i, lit in enumerate(literals)]
    query = f"select v from (values {', '.join(parts)}) s(n, v) order by n"
    base = typ.split("(")[0]
    writable = base in WRITABLE
    checked = 0
    for (oid, text, binary), lit in zip(fetch(conn, query, encoding), literals, strict=True):
        assert text is not None and binary is not None
        expected = text.decode(encoding)
        got = values.binary_to_text(oid, binary, encoding, timezone)
        if base == "money":
            assert got is None
            continue
        assert got == expected, (typ, lit, binary)
        if writable:
            assert values.text_to_binary(oid, expected, encoding, timezone) == binary, (typ, lit)
        checked += 1
    return checked


@pytest.mark.parametrize("typ", list(SAMPLES))
def test_samples(conn: psycopg.Connection[tuple[object, ...]], typ: str) -> None:
    check(conn, typ, SAMPLES[typ])


@pytest.mark.parametrize("typ", ["float8", "float4", "numeric"])
def test_random_numbers(conn: psycopg.Connection[tuple[object, ...]], typ: str) -> None:
    assert check(conn, typ, _random_samples()[typ]) >= 1000


@pytest.mark.parametrize("typ", ["date", "timestamp"])
def test_random_datetimes(conn: psycopg.Connection[tuple[object, ...]], typ: str) -> None:
    assert check(conn, typ, _random_samples()[typ], raw_sql=True) == 1000


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/St_Johns", "Asia/Kolkata", "Europe/Amsterdam", "UTC"]
)
def test_timestamptz_in_session_time_zones(
    conn: psycopg.Connection[tuple[object, ...]], zone: str
) -> None:
    conn.execute(f"set timezone = '{zone}'")
    try:
        rnd = random.Random(zone)
        usecs = [rnd.randint(-4 * 10**15, 3 * 10**15) for _ in range(300)]
        lits = [
            f"'2000-01-01 00:00:00+00'::timestamptz + interval '{u} microseconds'" for u in usecs
        ]
        lits += [quote(x) for x in SAMPLES["timestamptz"]]
        lits += [quote("2024-03-31 02:30:00"), quote("2024-10-27 02:30:00")]  # DST gap and fold
        assert check(conn, "timestamptz", lits, timezone=zone, raw_sql=True) == len(lits)
    finally:
        conn.execute("set timezone = 'UTC'")


@pytest.mark.parametrize(
    ("pg_encoding", "codec", "sample"),
    [
        ("LATIN1", "latin-1", "café ÿ"),
        ("WIN1251", "cp1251", "привет"),
        ("EUC_JP", "euc-jp", "日本"),
    ],
)
def test_client_encodings(
    conn: psycopg.Connection[tuple[object, ...]], pg_encoding: str, codec: str, sample: str
) -> None:
    conn.execute(f"set client_encoding = '{pg_encoding}'")
    try:
        for typ in ("text", "varchar", "json", "jsonb", "text[]"):
            lit = {"json": f'"{sample}"', "jsonb": f'"{sample}"', "text[]": f'{{"{sample}",x}}'}
            assert check(conn, typ, [lit.get(typ, sample)], encoding=codec) == 1
    finally:
        conn.execute("set client_encoding = 'UTF8'")


def test_category_oids_are_postgres_builtins(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    rows = conn.execute("select oid::int, typname, typelem::int from pg_type").fetchall()
    by_oid = {oid: (name, elem) for oid, name, elem in rows}
    for arr, elem in values.ARRAY_ELEMENT.items():
        assert by_oid[arr][1] == elem, by_oid[arr]
    for oid in values._CATEGORY:
        assert oid in by_oid, oid


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe"])
def test_timestamptz_text_without_offset_is_session_local(
    conn: psycopg.Connection[tuple[object, ...]], zone: str
) -> None:
    """A masked ``YYYY-MM-DD`` (or local timestamp) means midnight in the session's zone."""
    local = [
        "1990-05-17", "2024-03-31 02:30:00", "2024-10-27 02:30:00", "2024-10-27 01:59:59.5",
        "1850-01-01", "0044-03-15 BC", "12000-07-01 12:00:00", "2024-04-07 01:45:00",
    ]  # fmt: skip
    conn.execute(f"set timezone = '{zone}'")
    try:
        query = " union all ".join(f"select {quote(x)}::timestamptz" for x in local)
        for (oid, _, binary), text in zip(fetch(conn, query), local, strict=True):
            assert values.text_to_binary(oid, text, "utf-8", zone) == binary, text
    finally:
        conn.execute("set timezone = 'UTC'")
