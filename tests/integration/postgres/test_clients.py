"""Real clients through the gateway: psycopg 3, asyncpg and psql against real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import threading
import time

import asyncpg
import psycopg
import pytest
from psycopg import sql

from tests.integration.conftest import Gateway, ShopDb
from tests.integration.postgres.rawclient import RawClient, function_call

pytestmark = pytest.mark.integration


def test_simple_query_over_verified_tls(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        assert conn.info.pgconn.ssl_in_use
        assert conn.execute("select count(*) from customers").fetchone() == (2000,)
        # The client sees the gateway's identity handling, never the upstream role.
        assert conn.info.user == "alice"


def test_extended_protocol_text_and_binary(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        row = conn.execute(
            "select %s::int + 1, %s::text, %s::numeric(12,2), %s::bytea",
            (41, "é", "12.50", b"\x00\xff"),
        ).fetchone()
        assert row == (42, "é", pytest.approx(12.5), b"\x00\xff")
        with conn.cursor(binary=True) as cur:
            cur.execute("select id, email, created_at from customers order by id limit 5")
            rows = cur.fetchall()
        assert [r[0] for r in rows] == [1, 2, 3, 4, 5]


def test_prepared_statements_reused(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice"), prepare_threshold=0) as conn:
        for i in range(20):
            assert conn.execute("select %s::int * 2", (i,)).fetchone() == (i * 2,)


def test_pipeline_mode(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn, conn.pipeline():
        cursors = [conn.execute("select %s::int", (i,)) for i in range(50)]
    assert [c.fetchone()[0] for c in cursors] == list(range(50))  # type: ignore[index]


def test_pipeline_error_aborts_until_sync(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero), conn.pipeline():
            conn.execute("select 1")
            conn.execute("select 1/0")
            conn.execute("select 2")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.rollback()
        assert conn.execute("select 'alive'").fetchone() == ("alive",)


def test_transactions_and_status(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        conn.execute("create temp table t (x int)")
        conn.commit()
        with conn.transaction():
            conn.execute("insert into t values (1)")
        try:
            with conn.transaction():
                conn.execute("insert into t values (2)")
                raise RuntimeError("rollback")
        except RuntimeError:
            pass
        assert conn.execute("select array_agg(x) from t").fetchone() == ([1],)
        conn.execute("select 1")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("select * from nope")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.rollback()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_copy_in_and_out_large(gateway: Gateway) -> None:
    rows = [(i, "x" * (i % 300), f"user{i}@example.com") for i in range(50_000)]
    with psycopg.connect(gateway.dsn("alice")) as conn:
        conn.execute("create temp table c (id int, pad text, email text)")
        with conn.cursor().copy("copy c from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        assert conn.execute("select count(*), sum(id) from c").fetchone() == (
            50_000,
            sum(r[0] for r in rows),
        )
        out: list[tuple[str, ...]] = []
        with conn.cursor().copy("copy (select * from c order by id) to stdout") as copy:
            for row in copy.rows():
                out.append(row)
        assert len(out) == 50_000 and out[123] == ("123", rows[123][1], rows[123][2])
        with (
            pytest.raises(psycopg.errors.QueryCanceled),
            conn.cursor().copy("copy c from stdin") as copy,
        ):
            copy.write_row((1, "a", "b"))
            raise psycopg.errors.QueryCanceled("client abort")  # sends CopyFail
        conn.rollback()
        assert conn.execute("select 1").fetchone() == (1,)


def test_large_row_and_large_result_stream(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        big = conn.execute("select repeat('z', 20 * 1024 * 1024)").fetchone()[0]  # type: ignore[index]
        assert len(big) == 20 * 1024 * 1024
        total = 0
        with conn.cursor(name="stream") as cur:  # server-side cursor
            cur.itersize = 5000
            cur.execute("select g, repeat('r', 200) from generate_series(1, 200000) g")
            for row in cur:
                total += row[0]
        assert total == sum(range(1, 200001))


def test_listen_notify_and_notices(gateway: Gateway) -> None:
    with (
        psycopg.connect(gateway.dsn("alice"), autocommit=True) as listener,
        psycopg.connect(gateway.dsn("bob"), autocommit=True) as sender,
    ):
        notices: list[str] = []
        listener.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        listener.execute("listen proctor_test")
        sender.execute("notify proctor_test, 'hello'")
        listener.execute("notify proctor_test, 'self'")
        gen = listener.notifies(timeout=5, stop_after=2)
        got = [(n.payload, n.pid) for n in gen]
        assert [payload for payload, _ in got] == ["hello", "self"]
        # A client recognises its own notifications by the pid it was given.
        assert got[1][1] == listener.info.backend_pid
        assert got[0][1] == sender.info.backend_pid
        listener.execute("do $$ begin raise notice 'note %', 42; end $$")
        assert notices == ["note 42"]


def test_parameter_status_reaches_client(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        assert (
            conn.info.parameter_status(
                "server_version",
            )
            is not None
        )
        conn.execute("set application_name = 'proctor-test'")
        assert conn.info.parameter_status("application_name") == "proctor-test"
        conn.execute("set client_encoding = 'LATIN1'")
        assert conn.execute("select 'é'").fetchone() == ("é",)


def test_cancel_routes_to_the_right_backend(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("select pg_sleep(20)")
        assert time.monotonic() - started < 10
        conn.rollback()
        assert conn.execute("select 1").fetchone() == (1,)


def test_backend_key_is_issued_by_the_gateway(gateway: Gateway, shop_db: ShopDb) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        real_pid = conn.execute("select pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        assert conn.info.backend_pid != real_pid
        # Issued pids never collide with real ones (Linux pid_max <= 2^22).
        assert conn.info.backend_pid >= 1 << 24


def test_server_fatal_is_the_last_word(gateway: Gateway) -> None:
    with (
        psycopg.connect(gateway.dsn("admin"), autocommit=True) as conn,
        pytest.raises(psycopg.errors.AdminShutdown),
    ):
        conn.execute("select pg_terminate_backend(pg_backend_pid())")
    res = subprocess.run(
        ["psql", "-X", "-c", "select pg_terminate_backend(pg_backend_pid())"],
        env=gateway.env("alice"),
        capture_output=True,
        text=True,
    )
    assert "terminating connection due to administrator command" in res.stderr
    assert "closed the connection" not in res.stderr


def test_many_concurrent_sessions(gateway: Gateway) -> None:
    async def one(i: int) -> int:
        conn = await asyncpg.connect(gateway.url("alice"))
        try:
            return int(await conn.fetchval("select $1::int", i))
        finally:
            await conn.close()

    async def main() -> list[int]:
        return list(await asyncio.gather(*(one(i) for i in range(40))))

    assert asyncio.run(main()) == list(range(40))


def test_asyncpg_prepared_cursor_copy_and_types(gateway: Gateway) -> None:
    async def main() -> None:
        conn = await asyncpg.connect(gateway.url("alice"))
        try:
            stmt = await conn.prepare(
                "select id, email, date_of_birth from customers where id <= $1 order by id"
            )
            rows = await stmt.fetch(10)
            assert [r["id"] for r in rows] == list(range(1, 11))
            async with conn.transaction():
                # Portal suspension: Execute with a row limit, then PortalSuspended, again.
                cursor = await conn.cursor("select g from generate_series(1, 1000) g")
                got = await cursor.fetch(300)
                got += await cursor.fetch(300)
                assert [r[0] for r in got] == list(range(1, 601))
                seen = [
                    r[0]
                    async for r in conn.cursor(
                        "select g from generate_series(1, 5000) g", prefetch=100
                    )
                ]
                assert len(seen) == 5000
            await conn.execute("create temp table a (id int, note text)")
            await conn.copy_records_to_table("a", records=[(i, f"n{i}") for i in range(10_000)])
            assert await conn.fetchval("select count(*) from a") == 10_000
            with pytest.raises(asyncio.TimeoutError):
                await conn.execute("select pg_sleep(10)", timeout=0.5)  # cancels via the gateway
            assert await conn.fetchval("select 'ok'") == "ok"
        finally:
            await conn.close()

    asyncio.run(main())


def test_function_call_message(gateway: Gateway) -> None:
    # The legacy FunctionCall message ('F'), still used by large-object APIs.
    with psycopg.connect(gateway.dsn("alice")) as conn:
        oid = conn.execute("select 'int4abs'::regproc::oid::int").fetchone()[0]  # type: ignore[index]
    client = RawClient(gateway.host, gateway.port)
    try:
        client.login("alice", gateway.tokens["alice"])
        client.send(function_call(oid, [struct.pack("!i", -5)]))
        reply = client.until("Z")
        values = [m for m in reply if m.type_char == "V"]
        assert len(values) == 1
        assert struct.unpack("!ii", values[0].body) == (4, 5)
        assert reply[-1].body == b"I"
    finally:
        client.close()


def test_psql_copy_and_multiple_commands(gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "customers.csv"
    env = gateway.env("alice")
    subprocess.run(
        [
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f"\\copy (select id, email from customers order by id) to '{out}' csv",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    assert len(out.read_text().splitlines()) == 2000
    script = (
        "create temp table p (id int, email text);\n"
        f"\\copy p from '{out}' csv\n"
        "select count(*) from p;\n"
    )
    res = subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
        input=script,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert res.stdout.strip().splitlines()[-1] == "2000"


def test_psql_ctrl_c_cancels(gateway: Gateway) -> None:
    proc = subprocess.Popen(
        ["psql", "-X", "-c", "select pg_sleep(30)"],
        env=gateway.env("alice"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert "canceling statement due to user request" in err


def test_psql_repeated_queries_like_watch(gateway: Gateway) -> None:
    script = (
        "select count(*) from orders \\watch 0.1 5\n"
        if False
        else "".join("select count(*) from orders;\n" for _ in range(20))
    )
    res = subprocess.run(
        ["psql", "-X", "-A", "-t"],
        input=script,
        env=gateway.env("alice"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert res.stdout.split() == ["3000"] * 20


def test_other_database_on_same_server(gateway: Gateway, shop_db: ShopDb) -> None:
    with psycopg.connect(shop_db.admin_dsn("postgres"), autocommit=True) as admin:
        admin.execute("drop database if exists other")
        admin.execute("create database other")
        admin.execute(sql.SQL("grant connect on database other to proctor_app"))
    with psycopg.connect(gateway.dsn("alice", dbname="shop/other")) as conn:
        assert conn.execute("select current_database()").fetchone() == ("other",)


def test_plain_tcp_allowed_from_loopback(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice", sslmode="disable")) as conn:
        assert not conn.info.pgconn.ssl_in_use
        assert conn.execute("select 1").fetchone() == (1,)


def test_env_is_clean_of_upstream_secrets(gateway: Gateway, shop_db: ShopDb) -> None:
    # The upstream password must not appear in anything the gateway wrote.
    log = gateway.log()
    assert shop_db.app_password not in log
    for token in gateway.tokens.values():
        assert token not in log
    assert os.environ.get("PGPASSWORD") != shop_db.app_password
