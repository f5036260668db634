"""The gateway as a process: workers, cancel routing across them, drain, metrics, sessions."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from tests.integration.conftest import Gateway, eventually

pytestmark = pytest.mark.integration

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


def test_health_readiness_and_metrics(gateway: Gateway) -> None:
    assert gateway.http("/healthz")[0] == 200
    assert gateway.http("/readyz") == (200, '{"status": "ready"}')
    with psycopg.connect(gateway.dsn("alice")) as conn:
        for _ in range(3):
            conn.execute("select 1")
    status, _body = gateway.http("/metrics")
    assert status == 200

    def metric(name: str) -> float:
        m = re.search(rf"^{name} ([0-9.e+]+)$", gateway.http("/metrics")[1], re.M)
        return float(m.group(1)) if m else 0.0

    assert eventually(
        lambda: metric('proctor_statements_total{connection="shop",verdict="allow"}') >= 3
    )
    assert metric("proctor_statement_added_latency_seconds_count") >= 3
    assert eventually(lambda: metric('proctor_bytes_total{direction="server_to_client"}') > 0)
    # No identity, token or statement text in metric labels.
    text = gateway.http("/metrics")[1]
    assert "alice" not in text and "select" not in text
    assert gateway.tokens["alice"] not in text


def test_sessions_and_statements_are_recorded(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("bob")) as conn:
        conn.execute("select 'recorded-marker'")
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("select * from missing_table")

    def find() -> object:
        with gateway.store() as store:
            for row in store.list_sessions(subject="bob"):
                stmts = store.get_statements(row.start.id)
                if any("recorded-marker" in s.text for s in stmts) and row.end is not None:
                    return row, stmts
        return None

    found = eventually(find)
    assert found, "session not recorded"
    row, stmts = found  # type: ignore[misc]
    assert row.start.connection == "shop" and row.start.client_addr.startswith("127.0.0.1:")
    assert row.end.reason == "client_terminated"
    errors = [s for s in stmts if s.kind == "error"]
    assert errors and errors[0].error == "ERROR 42P01"
    # Error text can quote row values; only the SQLSTATE is recorded.
    assert all("missing_table" not in (s.error or "") for s in stmts)

    out = subprocess.run(
        [
            ".venv/bin/proctor",
            "sessions",
            "show",
            row.start.id,
            "--config",
            str(gateway.config_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.getcwd(),
    ).stdout
    assert "recorded-marker" in out


def test_pgbench_simple_extended_prepared(gateway: Gateway, shop_db) -> None:  # type: ignore[no-untyped-def]
    env = gateway.env("admin", sslmode="disable")
    subprocess.run(
        [PGBENCH, "-i", "-s", "1", "-q"],
        env={**env, "PGDATABASE": "shop"},
        check=True,
        capture_output=True,
    )
    for mode in ("simple", "extended", "prepared"):
        res = subprocess.run(
            [PGBENCH, "-S", "-c", "4", "-j", "2", "-T", "2", f"--protocol={mode}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "number of failed transactions: 0" in res.stdout, res.stdout
        tps = float(re.search(r"tps = ([0-9.]+)", res.stdout).group(1))  # type: ignore[union-attr]
        assert tps > 0


def test_workers_share_port_and_cancel_crosses_workers(start_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = start_gateway(workers=2)
    conns = [psycopg.connect(gw.dsn("alice")) for _ in range(12)]
    try:
        # Issued pids carry (worker index + 1) in their top bits.
        owners = {c.info.backend_pid >> 24 for c in conns}
        assert owners == {1, 2}, "both workers should have accepted sessions"
        # A cancel must be delivered before the client hears it was sent: the next
        # statement after cancelling an idle session must not be hit by a late cancel.
        for conn in conns:
            conn.cancel()
            assert conn.execute("select 1 from pg_sleep(0.05)").fetchone() == (1,)
            conn.rollback()
        # Each cancel lands on a random worker; all must reach the right backend.
        for conn in conns[:6]:
            threading.Timer(0.3, conn.cancel).start()
            started = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute("select pg_sleep(20)")
            assert time.monotonic() - started < 10
            conn.rollback()
        status, body = gw.http("/metrics")
        assert status == 200 and "proctor_sessions_active" in body
    finally:
        for c in conns:
            c.close()


def test_sigterm_drains_then_exits(start_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = start_gateway(drain_timeout="10s")
    conn = psycopg.connect(gw.dsn("alice"))
    result: list[object] = []

    def long_query() -> None:
        result.append(conn.execute("select pg_sleep(1.5), 'finished'").fetchone())

    t = threading.Thread(target=long_query)
    t.start()
    time.sleep(0.3)
    gw.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    # Not ready any more, no new connections, but the running query completes.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(gw.dsn("alice"), connect_timeout=2)
    t.join(10)
    assert result and result[0][1] == "finished"  # type: ignore[index]
    conn.close()
    assert gw.proc.wait(15) == 0


def test_drain_timeout_ends_idle_sessions(start_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = start_gateway(drain_timeout="1s")
    conn = psycopg.connect(gw.dsn("alice"))
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(15) == 0
    with pytest.raises(psycopg.OperationalError):
        conn.execute("select 1")
    conn.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_port_in_use_is_a_clear_startup_failure(
    gateway: Gateway, shop_db, tmp_path, workers: int
) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.conftest import write_config

    write_config(tmp_path, shop_db, gateway.port, gateway.http_port + 0, workers=workers)
    res = subprocess.run(
        [sys.executable, "-m", "proctor", "gateway", "--config", str(tmp_path / "proctor.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 78
    assert f"cannot listen on 127.0.0.1:{gateway.port}" in res.stderr
    gateway_alive = psycopg.connect(gateway.dsn("alice"))
    gateway_alive.close()
