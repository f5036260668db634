"""Fixtures for the compatibility suites: a fresh cluster per suite, and a gateway in front of it.

The gateway is started exactly as the integration tests start it (`launch_gateway`), with one
connection per database the suite uses, each holding the cluster's *superuser* credential:
pg_regress and asyncpg's suite create databases, roles, tablespaces and C functions. Each
connection is named like its database, so a client's `dbname=regression` reaches database
`regression` through Proctor just as it does directly.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proctor.demo.pgcluster import PgCluster
from tests.integration.conftest import Gateway, ShopDb, launch_gateway
from tests.pg import throwaway_cluster

SUPERUSER_SECRET = "secrets/superuser.pw"


@pytest.fixture
def compat_cluster() -> Iterator[PgCluster]:
    """A cluster of its own: the suites create roles, databases and tablespaces."""
    with throwaway_cluster("proctor-compat-pg-") as cluster:
        yield cluster


@pytest.fixture
def server_readable_dir() -> Iterator[Path]:
    """A scratch directory the server's own user can read and write into (pytest's tmp_path
    is private to the test's user; as root the server runs as `postgres`)."""
    path = Path(tempfile.mkdtemp(prefix="proctor-compat-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def superuser_connections(cluster: PgCluster, databases: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": db,
            "protocol": "postgres",
            "host": cluster.host,
            "port": cluster.port,
            "database": db,
            "allow_database_override": True,
            "tls": {"mode": "disable"},
            "credential": {
                "username": cluster.superuser,
                "password": "${file:" + SUPERUSER_SECRET + "}",
            },
            "tags": {"env": "compat"},
        }
        for db in databases
    ]


@pytest.fixture
def compat_gateway(
    tmp_path: Path,
) -> Iterator[Callable[[PgCluster, list[str], str], Gateway]]:
    """start(cluster, databases, identity) -> a running gateway with a token for `identity`."""
    started: list[Gateway] = []

    def start(cluster: PgCluster, databases: list[str], identity: str) -> Gateway:
        directory = tmp_path / f"gateway{len(started)}"
        (directory / "secrets").mkdir(parents=True, mode=0o700)
        (directory / SUPERUSER_SECRET).write_text(cluster.password + "\n")
        # launch_gateway always adds the integration suite's `shop` connection; nothing here
        # uses it (no such database exists on this cluster).
        unused_shop = ShopDb(cluster, app_password=secrets.token_urlsafe(8))
        gw = launch_gateway(
            directory,
            unused_shop,
            workers=2,  # as deployed: cancel requests may land on the other worker
            connections=superuser_connections(cluster, databases),
        )
        started.append(gw)
        gw.tokens[identity] = gw.create_token(identity)
        return gw

    yield start
    for gw in started:
        gw.stop()
