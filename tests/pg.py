"""One way for every test suite to start a throwaway PostgreSQL cluster on loopback."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from proctor.demo.pgcluster import PgCluster, PgClusterError, find_pg_bin, free_port


def need(condition: bool, why: str) -> None:
    """Skip when a component is missing, but fail under CI: a skipped test has not run."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required test component missing under CI: {why}")
    pytest.skip(why)


@contextlib.contextmanager
def throwaway_cluster(prefix: str = "proctor-pg-") -> Iterator[PgCluster]:
    try:
        find_pg_bin()
    except PgClusterError as exc:
        need(False, str(exc))
    parent = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(parent, 0o755)  # as root, the server runs as `postgres` and must traverse this
    cluster = PgCluster(parent / "data", free_port(), secrets.token_urlsafe(16))
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(parent, ignore_errors=True)
