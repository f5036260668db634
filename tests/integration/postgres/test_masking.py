"""Inline masking on the PostgreSQL wire: the demo policy and profile, real clients, real rows.

Every check compares what a client reads through the gateway with what the same query returns
directly from the server: the sensitive originals must be absent, everything else identical.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import asyncpg
import psycopg
import pytest

from proctor.codecs.pgwire import decode, encode
from tests.integration.conftest import Gateway, ShopDb, eventually, launch_gateway
from tests.integration.postgres.rawclient import RawClient

pytestmark = pytest.mark.integration

DEMO_POLICY = Path(__file__).resolve().parents[3] / "src" / "proctor" / "demo" / "policy.yaml"
SELECTIVE_POLICY = """
version: 1
default: allow
masking:
  - profile: none
    match: {groups: admin}
  - profile: pii
"""


@pytest.fixture(scope="module")
def masked(shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = launch_gateway(tmp_path_factory.mktemp("masked"), shop_db, policy=DEMO_POLICY)
    yield gw
    gw.stop()


def direct(shop: ShopDb, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(shop.admin_dsn()) as conn:
        return conn.execute(sql).fetchall()


def psql(gw: Gateway, sql: str, identity: str = "alice") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-X", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=0"],
        input=sql,
        env=gw.env(identity),
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- psql (text format) --------------------------------------------------------------------------


def test_psql_customers_are_masked_and_other_columns_untouched(
    masked: Gateway, shop_db: ShopDb
) -> None:
    sql = "SELECT * FROM customers ORDER BY id LIMIT 50"
    raw = direct(shop_db, sql)
    res = psql(masked, sql + ";\n")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:-1]]
    assert lines[-1] == "(50 rows)"  # row count unchanged
    assert len(rows) == 50
    col = {name: i for i, name in enumerate(header)}
    for original, shown in zip(raw, rows, strict=True):
        cells = dict(zip(header, shown, strict=True))
        assert cells["id"] == str(original[col["id"]])  # ids are not touched
        assert cells["email"] != original[col["email"]]
        assert re.fullmatch(r"\S\*+@\S+", cells["email"]), cells["email"]  # partial: domain kept
        assert cells["first_name"] == "[NAME]" and cells["last_name"] == "[NAME]"
        if original[col["ssn"]]:
            assert re.fullmatch(r"\*\*\*-\*\*-\d{4}", cells["ssn"]), cells["ssn"]
        if original[col["date_of_birth"]]:
            dob = original[col["date_of_birth"]]
            assert isinstance(dob, date)
            assert cells["date_of_birth"] == f"{dob.year:04d}-01-01"
        assert cells["street"] == "[ADDRESS]"
        assert cells["country"] == original[col["country"]]
    everything = res.stdout
    for original in raw:
        assert str(original[col["email"]]) not in everything
        if original[col["ssn"]]:
            assert str(original[col["ssn"]]) not in everything


def test_psql_payments_show_masked_cards_and_valid_amounts(
    masked: Gateway, shop_db: ShopDb
) -> None:
    sql = "SELECT id, card_number, amount, status FROM payments ORDER BY id LIMIT 100"
    raw = direct(shop_db, sql)
    res = psql(masked, sql + ";\n")
    assert res.returncode == 0, res.stderr
    rows = [line.split("\t") for line in res.stdout.strip().splitlines()[1:-1]]
    assert len(rows) == len(raw)
    for (pid, card, amount, status), shown in zip(raw, rows, strict=True):
        assert shown[0] == str(pid)
        assert card not in res.stdout
        assert shown[1].endswith(str(card)[-4:]) and "*" in shown[1], shown[1]
        assert Decimal(shown[2]) == amount  # numeric column unchanged and valid
        assert shown[3] == status


def test_expressions_are_masked_too(masked: Gateway) -> None:
    res = psql(
        masked,
        "SELECT 'jane@example.com' AS email, 'card 4111 1111 1111 1111' AS note, 42 AS n;\n",
    )
    assert res.returncode == 0, res.stderr
    assert "jane@example.com" not in res.stdout
    assert "4111 1111 1111 1111" not in res.stdout
    assert "j***@example.com\tcard **** **** **** 1111\t42" in res.stdout


# -- binary format -------------------------------------------------------------------------------


def test_psycopg_binary_results_are_masked_with_valid_types(
    masked: Gateway, shop_db: ShopDb
) -> None:
    sql = (
        "SELECT c.id, c.email, c.ssn, c.date_of_birth, c.phone FROM customers c "
        "ORDER BY c.id LIMIT 30"
    )
    raw = direct(shop_db, sql)
    with psycopg.connect(masked.dsn("alice")) as conn:
        cur = conn.cursor(binary=True)
        rows = cur.execute(sql).fetchall()
        assert all(desc.type_code for desc in cur.description)
    assert len(rows) == len(raw)
    for original, shown in zip(raw, rows, strict=True):
        assert shown[0] == original[0] and isinstance(shown[0], int)
        assert shown[1] != original[1] and "@" in shown[1]
        if original[2]:
            assert shown[2] == "***-**-" + original[2][-4:]
        if original[3]:
            assert shown[3] == date(original[3].year, 1, 1)
        if original[4]:
            assert shown[4] != original[4]


def test_psycopg_binary_numeric_card_column_stays_numeric(masked: Gateway) -> None:
    with psycopg.connect(masked.dsn("alice")) as conn:
        cur = conn.cursor(binary=True)
        row = cur.execute(
            "SELECT 4111111111111111::bigint AS card_number, 12.50::numeric AS amount"
        ).fetchone()
    assert row is not None
    # A partial card cannot be written into a bigint: the type-valid replacement is NULL.
    assert row[0] is None
    assert row[1] == Decimal("12.50")


def test_asyncpg_results_are_masked(masked: Gateway, shop_db: ShopDb) -> None:
    sql = "SELECT id, card_number, amount, created_at FROM payments ORDER BY id LIMIT 20"
    raw = direct(shop_db, sql)

    async def fetch() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            host=masked.host,
            port=masked.port,
            user="alice",
            password=masked.tokens["alice"],
            database="shop",
            ssl=False,
        )
        try:
            rows = await conn.fetch(sql)
            # A prepared statement executed again (no Describe the second time).
            stmt = await conn.prepare("SELECT email FROM customers WHERE id = $1")
            again = [await stmt.fetchval(1), await stmt.fetchval(2)]
            assert all(value and "*" in value for value in again), again
            return list(rows)
        finally:
            await conn.close()

    rows = asyncio.run(fetch())
    assert len(rows) == len(raw)
    for original, shown in zip(raw, rows, strict=True):
        assert shown["id"] == original[0]
        assert shown["card_number"] != original[1]
        assert shown["card_number"].endswith(original[1][-4:])
        assert shown["amount"] == original[2]
        assert shown["created_at"] == original[3]


# -- extended protocol without Describe ----------------------------------------------------------


def _parse(name: str, sql: str) -> bytes:
    return encode.message("P", name.encode() + b"\x00" + sql.encode() + b"\x00\x00\x00")


def _bind(portal: str, stmt: str, result_format: int | None = None) -> bytes:
    fmts = b"\x00\x00" if result_format is None else b"\x00\x01" + result_format.to_bytes(2, "big")
    body = portal.encode() + b"\x00" + stmt.encode() + b"\x00" + b"\x00\x00" + b"\x00\x00" + fmts
    return encode.message("B", body)


def _execute(portal: str) -> bytes:
    return encode.message("E", portal.encode() + b"\x00" + b"\x00\x00\x00\x00")


SYNC = encode.message("S")


def test_execute_without_describe_is_masked_and_the_client_sees_no_extra_messages(
    masked: Gateway,
) -> None:
    client = RawClient(masked.host, masked.port)
    try:
        client.login("alice", masked.tokens["alice"])
        client.send(
            _parse("", "SELECT 'jane@example.com'::text AS email")
            + _bind("", "")
            + _execute("")
            + SYNC
        )
        messages = client.until("Z")
        kinds = [m.type_char for m in messages]
        # Exactly what PostgreSQL answers these four messages: no RowDescription we asked for.
        assert kinds == ["1", "2", "D", "C", "Z"], kinds
        cells = decode.data_row(messages[2].body)
        offset, length = cells[0]
        assert messages[2].body[offset : offset + length] == b"j***@example.com"
        # Binary result format, pipelined with a named statement.
        client.send(
            _parse("s1", "SELECT 'jane@example.com'::text AS email, 7::int4 AS n")
            + _bind("p1", "s1", result_format=1)
            + _execute("p1")
            + SYNC
        )
        messages = client.until("Z")
        assert [m.type_char for m in messages] == ["1", "2", "D", "C", "Z"]
        row = messages[2].body
        (o1, l1), (o2, l2) = decode.data_row(row)
        assert row[o1 : o1 + l1] == b"j***@example.com"
        assert row[o2 : o2 + l2] == (7).to_bytes(4, "big")
    finally:
        client.sock.close()


# -- COPY, errors, notices, notifications --------------------------------------------------------


def test_copy_to_stdout_is_masked(masked: Gateway, shop_db: ShopDb) -> None:
    raw = direct(shop_db, "SELECT email FROM customers ORDER BY id LIMIT 20")
    with psycopg.connect(masked.dsn("alice")) as conn, conn.cursor() as cur:
        out = bytearray()
        with cur.copy(
            "COPY (SELECT id, email FROM customers ORDER BY id LIMIT 20) TO STDOUT"
        ) as copy:
            for block in copy:
                out += block
        csv_out = bytearray()
        with cur.copy("COPY (SELECT email FROM customers LIMIT 20) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                csv_out += block
    text = out.decode()
    assert len(text.splitlines()) == 20
    for (email,) in raw:
        assert email not in text
        assert email not in csv_out.decode()
    assert "***@" in text


def test_binary_copy_is_refused_and_the_session_goes_on(masked: Gateway) -> None:
    with psycopg.connect(masked.dsn("alice"), autocommit=True) as conn, conn.cursor() as cur:
        with (
            pytest.raises(psycopg.errors.InternalError_) as info,
            cur.copy("COPY (SELECT email FROM customers LIMIT 5) TO STDOUT (FORMAT binary)") as cp,
        ):
            for _ in cp:
                pass
        assert "could not mask" in str(info.value)
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_unique_violation_detail_is_masked(masked: Gateway, shop_db: ShopDb) -> None:
    (email,) = direct(shop_db, "SELECT email FROM customers ORDER BY id LIMIT 1")[0]
    with psycopg.connect(masked.dsn("admin"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UniqueViolation) as info:
            conn.execute(
                "INSERT INTO customers (first_name, last_name, email) VALUES ('a', 'b', %s)",
                (email,),
            )
        detail = info.value.diag.message_detail or ""
        assert "already exists" in detail
        assert email not in detail and email not in str(info.value)


def test_notices_and_notification_payloads_are_masked(masked: Gateway) -> None:
    notices: list[str] = []
    with psycopg.connect(masked.dsn("admin"), autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute('DROP TABLE IF EXISTS "jane@example.com"')
        conn.execute("LISTEN masked_channel")
        conn.execute("NOTIFY masked_channel, 'call jane@example.com'")
        received = [n.payload for n in conn.notifies(timeout=5, stop_after=1)]
    assert notices and "jane@example.com" not in notices[0], notices
    assert received == ["call j***@example.com"]


# -- profile selection, recording, metrics -------------------------------------------------------


def test_the_policy_chooses_the_profile_per_identity(shop_db: ShopDb, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(SELECTIVE_POLICY)
    gw = launch_gateway(tmp_path, shop_db, policy=policy)
    try:
        sql = "SELECT email FROM customers ORDER BY id LIMIT 1"
        (email,) = direct(shop_db, sql)[0]
        with psycopg.connect(gw.dsn("alice")) as conn:
            assert conn.execute(sql).fetchone() != (email,)
        with psycopg.connect(gw.dsn("admin")) as conn:
            assert conn.execute(sql).fetchone() == (email,)
    finally:
        gw.stop()


def test_recording_keeps_counts_never_values(masked: Gateway, shop_db: ShopDb) -> None:
    sql = "SELECT email, ssn FROM customers ORDER BY id LIMIT 10"
    raw = direct(shop_db, sql)
    with psycopg.connect(masked.dsn("bob")) as conn:
        conn.execute(sql).fetchall()

    def counted() -> list[str]:
        with sqlite3.connect(masked.dir / "state.db") as db:
            return [
                text for (text,) in db.execute("SELECT text FROM statements WHERE kind = 'masking'")
            ]

    wanted = '{"email":{"email":10},"ssn":{"ssn":10}}'
    records = eventually(lambda: [r for r in counted() if r == wanted] or None)
    assert records == [wanted]
    dump = b"".join(p.read_bytes() for p in masked.dir.glob("state.db*"))
    for email, ssn in raw:
        assert email.encode() not in dump
        if ssn:
            assert ssn.encode() not in dump
    status, metrics = masked.http("/metrics")
    assert status == 200
    assert re.search(r'proctor_masked_values_total\{connection="shop",entity="email"\} \d', metrics)


def test_binary_timestamptz_birth_dates_follow_the_session_time_zone(masked: Gateway) -> None:
    with psycopg.connect(masked.dsn("alice"), autocommit=True) as conn:
        conn.execute("SET TimeZone = 'Europe/Berlin'")
        cur = conn.cursor(binary=True)
        row = cur.execute(
            "SELECT '1990-05-17 10:00:00+02'::timestamptz AS date_of_birth, "
            "'1990-05-17 10:00:00+02'::timestamptz AS created_at"
        ).fetchone()
    assert row is not None
    dob, created = row
    assert (dob.year, dob.month, dob.day) == (1990, 1, 1)  # partial: the year only
    assert (created.month, created.day, created.hour) == (5, 17, 10)  # not a DOB: untouched


def test_after_an_error_in_a_pipeline_the_next_results_are_still_masked(masked: Gateway) -> None:
    client = RawClient(masked.host, masked.port)
    try:
        client.login("alice", masked.tokens["alice"])
        client.send(
            _parse("", "SELECT 1/0 AS x")  # fails (at Bind): the server skips to Sync
            + _bind("", "")
            + _execute("")
            + _parse("s2", "SELECT 'never sent' AS email")
            + _bind("p2", "s2")
            + _execute("p2")
            + SYNC
            + _parse("s3", "SELECT 'jane@example.com' AS email")
            + _bind("p3", "s3")
            + _execute("p3")
            + SYNC
        )
        first = client.until("Z")
        kinds = [m.type_char for m in first]
        assert kinds[-2:] == ["E", "Z"] and "D" not in kinds, kinds
        second = client.until("Z")
        assert [m.type_char for m in second] == ["1", "2", "D", "C", "Z"]
        row = second[2].body
        ((offset, length),) = decode.data_row(row)
        assert row[offset : offset + length] == b"j***@example.com"
    finally:
        client.sock.close()
