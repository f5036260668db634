"""A real PostgreSQL for the store's integration tests: one cluster, a fresh database per test."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest

from proctor.demo.pgcluster import PgCluster
from tests.pg import throwaway_cluster


@pytest.fixture(scope="session")
def store_pg_cluster() -> Iterator[PgCluster]:
    with throwaway_cluster("proctor-store-pg-") as cluster:
        yield cluster


@pytest.fixture
def new_pg_database(store_pg_cluster: PgCluster) -> Callable[[], str]:
    """Makes an empty database and returns its SQLAlchemy URL."""

    def make() -> str:
        name = f"store_{secrets.token_hex(6)}"
        with psycopg.connect(store_pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return store_pg_cluster.url(name)

    return make
