"""Fail closed: when session records cannot be written, commands stop running."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest
import yaml

from proctor.store import open_store
from tests.integration.conftest import Gateway, ShopDb, eventually, launch_gateway

pytestmark = pytest.mark.integration


def test_store_on_postgres_and_refusal_when_recording_fails(shop_db: ShopDb, tmp_path) -> None:  # type: ignore[no-untyped-def]
    admin = shop_db.admin_dsn("postgres")
    role, password = f"store_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"create role {role} login password '{password}'")
        conn.execute(f"create database {role} owner {role}")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "store.pw").write_text(password)
    c = shop_db.cluster
    gw = launch_gateway(tmp_path, shop_db)
    gw.stop()
    # Same gateway, now with its state in PostgreSQL (shared deployments).
    cfg = yaml.safe_load((tmp_path / "proctor.yaml").read_text())
    cfg["store"]["url"] = f"postgresql://{role}:${{file:secrets/store.pw}}@{c.host}:{c.port}/{role}"
    (tmp_path / "proctor.yaml").write_text(yaml.safe_dump(cfg))
    with (tmp_path / "gateway.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proctor",
                "gateway",
                "--config",
                str(tmp_path / "proctor.yaml"),
            ],
            cwd=tmp_path,
            stdout=log,
            stderr=log,
        )
    pg_gw = Gateway(tmp_path, gw.port, gw.http_port, proc)
    try:
        assert eventually(lambda: _ready(pg_gw), 30)
        store_url = cfg["store"]["url"].replace("${file:secrets/store.pw}", password)
        with open_store(store_url) as store:
            token = store.create_token("alice", frozenset({"analyst"}), timedelta(hours=1)).secret
        pg_gw.tokens = {"alice": token}
        with psycopg.connect(pg_gw.dsn("alice"), autocommit=True) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            # Break the store underneath the gateway.
            with psycopg.connect(shop_db.admin_dsn(role), autocommit=True) as a:
                a.execute("alter table statements owner to postgres")
                a.execute(f"revoke all on statements from {role}")

            # The first statement after the break may be accepted before its write fails;
            # once the failure is known, every command is refused and the session survives.
            def refused() -> bool:
                try:
                    conn.execute("select 2")
                except psycopg.errors.IoError as exc:  # SQLSTATE 58030
                    return "session recording is unavailable" in str(exc)
                time.sleep(0.2)
                return False

            assert eventually(refused, 10)
            with pytest.raises(psycopg.Error, match="recording is unavailable"):
                conn.execute("drop table customers")
            assert pg_gw.http("/readyz")[0] == 503
        with psycopg.connect(shop_db.admin_dsn(), autocommit=True) as a:
            assert a.execute("select to_regclass('customers') is not null").fetchone() == (True,)
    finally:
        pg_gw.stop()


def _ready(gw) -> bool:  # type: ignore[no-untyped-def]
    try:
        return gw.http("/readyz")[0] == 200
    except OSError:
        return False
