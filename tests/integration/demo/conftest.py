"""A PostgreSQL cluster of its own for the demo-data tests.

Not the session-wide ``pg_cluster`` of tests/integration/conftest.py: these tests drop,
recreate and re-seed databases and roles, which must not pull the rug from under gateway
tests sharing that cluster.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proctor.demo.pgcluster import PgCluster
from tests.pg import throwaway_cluster


@pytest.fixture(scope="session")
def seed_pg() -> Iterator[PgCluster]:
    with throwaway_cluster("proctor-seed-pg-") as cluster:
        yield cluster
