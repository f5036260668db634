"""A PostgreSQL cluster of its own for the demo-data tests.

Not the session-wide ``pg_cluster`` of tests/integration/conftest.py: these tests drop,
recreate and re-seed databases and roles, which must not pull the rug from under gateway
tests sharing that cluster.
"""

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
def seed_pg() -> Iterator[PgCluster]:
    try:
        find_pg_bin()
    except PgClusterError as exc:
        if os.environ.get("CI"):  # under CI a missing component fails: a skipped test has not run
            pytest.fail(f"required test component missing under CI: {exc}")
        pytest.skip(str(exc))
    parent = Path(tempfile.mkdtemp(prefix="proctor-seed-pg-"))
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
