"""The store's shared contract on a real PostgreSQL (started by ``conftest``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from proctor.demo.pgcluster import PgCluster
from proctor.store import open_store
from tests.unit.store.store_contract import StoreContract, start

pytestmark = pytest.mark.integration


@pytest.fixture
def blank_url(new_pg_database: Callable[[], str]) -> str:
    return new_pg_database()


class TestPostgresStore(StoreContract):
    pass


def test_plain_postgresql_url_uses_psycopg(
    store_pg_cluster: PgCluster, new_pg_database: Callable[[], str]
) -> None:
    url = new_pg_database().replace("postgresql+psycopg://", "postgresql://", 1)
    with open_store(url, migrate=True) as store:
        assert store.dialect == "postgresql"
        assert store.url.startswith("postgresql+psycopg://postgres:***@")
        issued = store.create_token("alice", frozenset(), timedelta(hours=1))
        assert store.verify_token(issued.secret) == issued.record
        store.session_started(start())


def test_timestamps_are_timestamptz(new_pg_database: Callable[[], str]) -> None:
    with open_store(new_pg_database(), migrate=True) as store, store._engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public'"
            )
        ).all()
    types = {data_type for name, data_type in columns if name.endswith("_at") or name == "at"}
    assert types == {"timestamp with time zone"}
