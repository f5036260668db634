"""A throwaway PostgreSQL cluster for the demo's integration tests (one per test session)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from proctor.demo.pgcluster import PgCluster, PgClusterError, find_pg_bin, free_port


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    try:
        find_pg_bin()
    except PgClusterError as exc:
        pytest.skip(str(exc))
    parent = Path(tempfile.mkdtemp(prefix="proctor-pg-"))
    # When we are root the server runs as `postgres`, which must be able to traverse this dir.
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
