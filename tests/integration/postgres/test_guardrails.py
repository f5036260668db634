"""Guardrails on the wire: the demo policy enforced through the gateway, against real clients."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from proctor.codecs.pgwire import encode
from tests.integration.conftest import Gateway, ShopDb, eventually, launch_gateway
from tests.integration.postgres.rawclient import RawClient, errors, function_call

pytestmark = pytest.mark.integration

DEMO_POLICY = Path(__file__).resolve().parents[3] / "src" / "proctor" / "demo" / "policy.yaml"


@pytest.fixture(scope="module")
def guarded(shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # Held statements expire after a second here: these tests are about refusals (approval
    # flows are in test_approvals.py).
    approvals = {
        "workflows": {"shop-writes": {"approvers": {"groups": ["approver"]}, "expires": "1s"}},
        "poll_interval": "0.2s",
    }
    gw = launch_gateway(
        tmp_path_factory.mktemp("guarded"), shop_db, policy=DEMO_POLICY, approvals=approvals
    )
    yield gw
    gw.stop()


def denied(conn: psycopg.Connection, sql: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
        conn.execute(sql)
    conn.rollback()
    return str(info.value)


def table_exists(shop: ShopDb, name: str) -> bool:
    with psycopg.connect(shop.admin_dsn()) as admin:
        row = admin.execute("select to_regclass(%s) is not null", (name,)).fetchone()
    return bool(row and row[0])


def test_psql_drop_table_is_blocked_and_the_session_lives_on(
    guarded: Gateway, shop_db: ShopDb
) -> None:
    script = "drop table customers;\nselect count(*) from customers;\n"
    res = subprocess.run(
        ["psql", "-X", "-A", "-t"],
        input=script,
        env=guarded.env("alice"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 'denied by policy rule "no-schema-changes"' in res.stderr
    assert "The statement was not run." in res.stderr
    assert res.stdout.strip() == "2000"  # the next statement in the same session ran
    assert table_exists(shop_db, "customers")


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ('/* x */ DrOp TABLE "public"."orders" -- y', "no-schema-changes"),
        ("truncate payments", "no-schema-changes"),
        ("alter table orders add column x int", "no-schema-changes"),
        ("delete from customers", "no-unfiltered-writes"),
        (
            "with d as (delete from orders returning id) select count(*) from d",
            "no-unfiltered-writes",
        ),
        ("explain analyze delete from orders", "no-unfiltered-writes"),
        ("prepare wipe as delete from orders", "no-unfiltered-writes"),
        ("do $$ begin execute 'drop table orders'; end $$", "refuse-unclassified"),
        ("copy orders to program 'cat > /tmp/x'", "no-server-side-copy"),
        ("set role postgres", "no-identity-switch"),
        ("select pg_read_file('/etc/passwd')", "no-server-escape"),
        ("select 1; drop table orders", "no-schema-changes"),
        (
            "merge into orders o using customers c on o.customer_id = c.id "
            "when matched then delete",
            "no-merge",
        ),
    ],
)
def test_evasions_are_denied_with_the_rule_named(guarded: Gateway, sql: str, rule: str) -> None:
    with psycopg.connect(guarded.dsn("alice")) as conn:
        message = denied(conn, sql)
        assert f'policy rule "{rule}"' in message, message
        assert conn.execute("select 1").fetchone() == (1,)


def test_filtered_write_needs_approval(guarded: Gateway, shop_db: ShopDb) -> None:
    notices: list[str] = []
    with psycopg.connect(guarded.dsn("alice")) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        message = denied(conn, "update customers set city = 'X' where id = 1")
    assert notices[0].startswith('approval required by rule "writes-need-approval"')
    assert "expired before enough reviewers approved it" in message
    with psycopg.connect(shop_db.admin_dsn()) as admin:
        assert admin.execute("select city from customers where id = 1").fetchone() != ("X",)


def test_denial_inside_a_transaction_block_fails_the_block(guarded: Gateway) -> None:
    with psycopg.connect(guarded.dsn("alice")) as conn:
        conn.execute("select 1")  # opens the transaction
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("drop table orders")
        # Exactly as for a real permission error: the block is aborted until rollback.
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.rollback()
        assert conn.execute("select 2").fetchone() == (2,)


def test_batch_is_refused_whole(guarded: Gateway) -> None:
    with psycopg.connect(guarded.dsn("alice"), autocommit=True) as conn:
        conn.execute("set application_name = 'before'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("set application_name = 'during'; drop table orders")
        assert conn.execute("show application_name").fetchone() == ("before",)


def test_extended_protocol_denial_at_parse_and_pipeline(guarded: Gateway) -> None:
    with psycopg.connect(guarded.dsn("alice")) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from orders where %s", (True,), prepare=True)
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.pipeline():
            conn.execute("select %s::int", (1,))
            conn.execute("truncate orders")
            conn.execute("select %s::int", (2,))
        conn.rollback()
        assert conn.execute("select %s::int", (3,)).fetchone() == (3,)


def test_function_call_message_is_refused(guarded: Gateway) -> None:
    client = RawClient(guarded.host, guarded.port)
    try:
        client.login("alice", guarded.tokens["alice"])
        client.send(function_call(1397, [b"\x00\x00\x00\x05"]))  # int4abs, as a raw FunctionCall
        reply = client.until("Z")
        assert [e["C"] for e in errors(reply)] == ["42501"]
        client.send(encode.message("Q", b"select 1\x00"))
        assert client.until("Z")[-1].body == b"I"
    finally:
        client.close()


def test_admin_may_change_the_schema(guarded: Gateway, shop_db: ShopDb) -> None:
    with psycopg.connect(guarded.dsn("admin"), autocommit=True) as conn:
        conn.execute("create table scratch_admin (id int)")
        conn.execute("drop table scratch_admin")
    assert not table_exists(shop_db, "scratch_admin")


def test_decisions_are_recorded_and_counted(guarded: Gateway) -> None:
    with psycopg.connect(guarded.dsn("bob")) as conn:
        denied(conn, "drop table payments")

    def find() -> object:
        with guarded.store() as store:
            for row in store.list_sessions(subject="bob"):
                for s in store.get_statements(row.start.id):
                    if s.verdict == "deny" and "payments" in s.text:
                        return s
        return None

    record = eventually(find)
    assert record is not None and record.rule == "no-schema-changes"  # type: ignore[attr-defined]

    def counted() -> bool:
        text = guarded.http("/metrics")[1]
        return bool(
            re.search(
                r'proctor_policy_denials_total\{connection="shop",rule="no-schema-changes"\} [1-9]',
                text,
            )
        )

    assert eventually(counted)


def test_backslash_quote_smuggling_with_standard_conforming_strings_off(guarded: Gateway) -> None:
    # One SELECT when standard_conforming_strings is on; with it off the server reads \' as
    # an escaped quote and runs a DELETE in the middle (checked against PostgreSQL directly).
    # The gateway follows the session's setting, so the hidden DELETE never runs.
    smuggled = "select 'a\\' || $$' ; delete from smuggle_t where id > 0; select $$ || $$x$$"
    with psycopg.connect(guarded.dsn("admin"), autocommit=True) as conn:
        conn.execute("drop table if exists smuggle_t")
        conn.execute("create table smuggle_t (id int)")
        conn.execute("insert into smuggle_t values (1), (2)")
        try:
            assert conn.execute(smuggled).fetchone() is not None  # harmless while "on"
            conn.execute("set standard_conforming_strings = off")
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="refuse-unclassified"):
                conn.execute(smuggled)
            assert conn.execute("select count(*) from smuggle_t").fetchone() == (2,)
        finally:
            conn.execute("set standard_conforming_strings = on")
            conn.execute("drop table smuggle_t")


@pytest.mark.parametrize(
    "options",
    ["-c role=postgres", "--session_authorization=postgres", "-c\\ role=postgres", "-B 64"],
)
def test_startup_options_cannot_switch_identity(guarded: Gateway, options: str) -> None:
    # libpq's options reach the server as if SET had been run before the first statement.
    with pytest.raises(psycopg.OperationalError, match="startup option"):
        psycopg.connect(guarded.dsn("alice", options=options)).close()


def test_harmless_startup_options_still_work(guarded: Gateway) -> None:
    with psycopg.connect(guarded.dsn("alice", options="-c statement_timeout=5s")) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("5s",)


def test_role_as_its_own_startup_parameter_is_judged_too(guarded: Gateway) -> None:
    client = RawClient(guarded.host, guarded.port)
    try:
        client.send(
            encode.startup_message({"user": "alice", "database": "shop", "role": "postgres"})
        )
        assert client.recv_message() is not None  # asks for the token
        client.send(encode.password_message(guarded.tokens["alice"]))
        reply = client.until("E")
        assert "startup option role" in errors(reply)[0]["M"]
    finally:
        client.close()
