"""A real PostgreSQL for the store's integration tests: one cluster, a fresh database per test."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from proctor.demo.pgcluster import PgCluster, PgClusterError, find_pg_bin, free_port


@pytest.fixture(scope="session")
def store_pg_cluster() -> Iterator[PgCluster]:
    try:
        find_pg_bin()
    except PgClusterError as exc:
        pytest.skip(str(exc))
    parent = Path(tempfile.mkdtemp(prefix="proctor-store-pg-"))
    # As root the server runs as `postgres`, which must be able to traverse this directory.
    os.chmod(parent, 0o755)
    cluster = PgCluster(
        data_dir=parent / "data", port=free_port(), password=secrets.token_urlsafe(16)
    )
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def new_pg_database(store_pg_cluster: PgCluster) -> Callable[[], str]:
    """Makes an empty database and returns its SQLAlchemy URL."""

    def make() -> str:
        name = f"store_{secrets.token_hex(6)}"
        with psycopg.connect(store_pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return store_pg_cluster.url(name)

    return make
