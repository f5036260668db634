"""Upstream authentication methods and TLS modes against a real PostgreSQL configured for them."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from proctor.demo.pgcluster import PgCluster, free_port
from proctor.server.tls import ensure_self_signed
from tests.integration.conftest import Gateway, ShopDb, launch_gateway

pytestmark = pytest.mark.integration

ROLES = {
    "scram_user": "scram-sha-256",
    "md5_user": "md5",
    "clear_user": "password",
    "trust_user": "trust",
}


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[tuple[PgCluster, Path, dict[str, str]]]:
    parent = Path(tempfile.mkdtemp(prefix="proctor-it-tls-"))
    os.chmod(parent, 0o755)
    cluster = PgCluster(parent / "data", free_port(), secrets.token_urlsafe(12))
    tls = ensure_self_signed(parent / "tls")
    passwords = {role: secrets.token_urlsafe(12) for role in ROLES}
    try:
        cluster.init()
        for name in ("server.crt", "server.key"):
            shutil.copy(parent / "tls" / name, cluster.data_dir / name)
            os.chmod(cluster.data_dir / name, 0o600)
            if os.geteuid() == 0:
                shutil.chown(cluster.data_dir / name, "postgres", "postgres")
        with (cluster.data_dir / "postgresql.auto.conf").open("a") as f:
            f.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        hba = [f"host all {role} 127.0.0.1/32 {method}" for role, method in ROLES.items()]
        hba += ["host all postgres 127.0.0.1/32 scram-sha-256", "local all all trust"]
        # hostnossl first: a plain-TCP connection of scram_user is refused, proving TLS is used.
        hba.insert(0, "hostnossl all scram_user 127.0.0.1/32 reject")
        (cluster.data_dir / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        cluster.start()
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            for role, method in ROLES.items():
                enc = "md5" if method == "md5" else "scram-sha-256"
                conn.execute(f"set password_encryption = '{enc}'")
                conn.execute(f"create role {role} login password '{passwords[role]}'")
        assert tls.ca_file is not None
        yield cluster, tls.ca_file, passwords
    finally:
        cluster.destroy()
        shutil.rmtree(parent, ignore_errors=True)


def connection(
    name: str, cluster: PgCluster, role: str, password: str | None, tls: dict[str, str]
) -> dict[str, object]:
    cred: dict[str, object] = {"username": role}
    if password is not None:
        cred["password"] = password
    return {
        "name": name,
        "protocol": "postgres",
        "host": "127.0.0.1",
        "port": cluster.port,
        "database": "postgres",
        "tls": tls,
        "credential": cred,
    }


@pytest.fixture(scope="module")
def upstream_gateway(tls_cluster, shop_db: ShopDb, tmp_path_factory) -> Iterator[Gateway]:  # type: ignore[no-untyped-def]
    cluster, ca, pw = tls_cluster
    conns = [
        connection(
            "scram-verify-full",
            cluster,
            "scram_user",
            pw["scram_user"],
            {"mode": "verify-full", "ca_file": str(ca)},
        ),
        connection(
            "scram-verify-ca",
            cluster,
            "scram_user",
            pw["scram_user"],
            {"mode": "verify-ca", "ca_file": str(ca)},
        ),
        connection("scram-require", cluster, "scram_user", pw["scram_user"], {"mode": "require"}),
        connection("scram-plain", cluster, "scram_user", pw["scram_user"], {"mode": "disable"}),
        connection("md5", cluster, "md5_user", pw["md5_user"], {"mode": "prefer"}),
        connection("cleartext", cluster, "clear_user", pw["clear_user"], {"mode": "require"}),
        connection("trust", cluster, "trust_user", None, {"mode": "disable"}),
        connection(
            "wrong-ca",
            cluster,
            "scram_user",
            pw["scram_user"],
            {"mode": "verify-full", "ca_file": str(tmp_path_factory.mktemp("ca") / "ca.crt")},
        ),
    ]
    # A CA that did not sign the server's certificate.
    other = ensure_self_signed(tmp_path_factory.mktemp("otherca"))
    conns[-1]["tls"] = {"mode": "verify-full", "ca_file": str(other.ca_file)}
    gw = launch_gateway(tmp_path_factory.mktemp("gw-upstream"), shop_db, connections=conns)
    yield gw
    gw.stop()


@pytest.mark.parametrize(
    ("conn", "role", "ssl"),
    [
        ("scram-verify-full", "scram_user", True),
        ("scram-verify-ca", "scram_user", True),
        ("scram-require", "scram_user", True),
        ("md5", "md5_user", True),
        ("cleartext", "clear_user", True),
        ("trust", "trust_user", False),
    ],
)
def test_upstream_methods_and_tls(
    upstream_gateway: Gateway, conn: str, role: str, ssl: bool
) -> None:
    with psycopg.connect(upstream_gateway.dsn("alice", dbname=conn)) as c:
        row = c.execute(
            "select current_user, coalesce("
            "(select ssl from pg_stat_ssl where pid = pg_backend_pid()), false)"
        ).fetchone()
    assert row == (role, ssl)


def test_plain_connection_refused_by_server_rule_is_reported(upstream_gateway: Gateway) -> None:
    with pytest.raises(psycopg.OperationalError, match="could not open connection scram-plain"):
        psycopg.connect(upstream_gateway.dsn("alice", dbname="scram-plain"))


def test_unverifiable_server_certificate_is_refused(upstream_gateway: Gateway) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(upstream_gateway.dsn("alice", dbname="wrong-ca"))
    assert "wrong-ca" in str(info.value)
    assert (
        "certificate" in upstream_gateway.log().lower() or "ssl" in upstream_gateway.log().lower()
    )
