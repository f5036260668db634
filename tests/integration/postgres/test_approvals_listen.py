"""Two gateway processes sharing one PostgreSQL state store: a decision made through either
wakes a statement held in the other at once, through LISTEN/NOTIFY.

``approvals.poll_interval`` is 60 s here, and every wait below is at most 20 s: only the
notification can explain a held statement that completes in time.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from proctor.approvals.service import ApprovalService
from proctor.config.approvals import ApprovalsConfig
from proctor.demo.pgcluster import free_port
from proctor.store import open_store
from proctor.store.approvals import ApprovalStore
from tests.integration.conftest import Gateway, ShopDb, eventually, write_config
from tests.integration.postgres.test_approvals import DEMO_POLICY, run_held, status_of
from tests.integration.postgres.test_approvals_api import EventStream, api, held_id

pytestmark = pytest.mark.integration

SLOW_POLL = {
    "workflows": {"shop-writes": {"approvers": {"groups": ["approver"]}, "expires": "5m"}},
    "poll_interval": "60s",
}
WAKE_WITHIN = 20.0  # generous, and well below the 60 s poll


def launch_on_postgres(directory: Path, shop: ShopDb, store_url: str, password: str) -> Gateway:
    """A one-worker gateway whose state store is the PostgreSQL database ``store_url`` names
    (the password comes from a ``${file:…}`` reference, as it would in production)."""
    directory.mkdir()
    port, http_port = free_port(), free_port()
    write_config(directory, shop, port, http_port, policy=DEMO_POLICY, approvals=SLOW_POLL)
    (directory / "secrets" / "store.pw").write_text(password)
    config_path = directory / "proctor.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["store"]["url"] = store_url.replace(password, "${file:secrets/store.pw}")
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    with (directory / "gateway.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proctor", "gateway", "--config", str(config_path)],
            cwd=directory,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    gw = Gateway(directory, port, http_port, proc)
    deadline = time.monotonic() + 30
    while not _ready(gw):
        if proc.poll() is not None or time.monotonic() > deadline:
            gw.stop()
            raise RuntimeError(f"gateway not ready:\n{gw.log()[-3000:]}")
        time.sleep(0.1)
    # The worker's LISTEN connection is up (logged once connected).
    assert eventually(lambda: "approval_listen_connected" in gw.log(), 20), gw.log()[-3000:]
    return gw


def _ready(gw: Gateway) -> bool:
    try:
        return gw.http("/readyz")[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def shared_store(shop_db: ShopDb) -> tuple[str, str]:
    """A database and role of its own for the two gateways' state: (URL, password)."""
    role, password = f"state_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with psycopg.connect(shop_db.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"create role {role} login password '{password}'")
        conn.execute(f"create database {role} owner {role}")
    c = shop_db.cluster
    return f"postgresql://{role}:{password}@{c.host}:{c.port}/{role}", password


@pytest.fixture(scope="module")
def pair(
    shop_db: ShopDb, shared_store: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, Gateway]]:
    url, password = shared_store
    root = tmp_path_factory.mktemp("listen")
    # One after the other: the first one migrates the empty database.
    first = launch_on_postgres(root / "a", shop_db, url, password)
    try:
        second = launch_on_postgres(root / "b", shop_db, url, password)
    except BaseException:
        first.stop()
        raise
    tokens = {}
    with open_store(url) as store:
        for who, groups in {"alice": ("analyst",), "bob": ("approver",)}.items():
            tokens[who] = store.create_token(who, frozenset(groups), timedelta(hours=1)).secret
    first.tokens = second.tokens = tokens
    yield first, second
    first.stop()
    second.stop()


def settled_in_time(attempt: Any) -> None:
    assert attempt.thread is not None
    attempt.thread.join(WAKE_WITHIN)
    assert not attempt.thread.is_alive(), "the held statement was not woken by the notice"


def test_approval_through_the_other_gateway_wakes_the_held_statement(
    pair: tuple[Gateway, Gateway], shop_db: ShopDb
) -> None:
    holding, deciding = pair
    with psycopg.connect(shop_db.admin_dsn(), autocommit=True) as admin:
        admin.execute("UPDATE payments SET status = 'captured' WHERE id = 70")
    # The live feed of the gateway holding the statement hears about it too.
    stream = EventStream(holding, "bob")
    try:
        attempt = run_held(holding, "UPDATE payments SET status='refunded' WHERE id=70")
        request_id = held_id(attempt)
        status, body = api(
            deciding, "bob", "POST", f"/api/approvals/{request_id}/approve", {"reason": "t70"}
        )
        assert status == 200 and body["status"] == "approved", body
        settled_in_time(attempt)
        assert attempt.error is None and attempt.result == "UPDATE 1", attempt.error
        assert status_of(shop_db, 70) == "refunded"
        assert eventually(lambda: "approved" in stream.of(request_id), WAKE_WITHIN), stream.events
    finally:
        stream.close()


def test_denial_through_the_other_gateway_wakes_the_held_statement(
    pair: tuple[Gateway, Gateway], shop_db: ShopDb
) -> None:
    deciding, holding = pair  # the other way round
    attempt = run_held(holding, "UPDATE payments SET status='void' WHERE id=71", "SELECT 1")
    request_id = held_id(attempt)
    status, _ = api(deciding, "bob", "POST", f"/api/approvals/{request_id}/deny", {"reason": "no"})
    assert status == 200
    settled_in_time(attempt)
    assert isinstance(attempt.error, psycopg.errors.InsufficientPrivilege), attempt.error
    assert "denied by bob" in str(attempt.error)
    assert attempt.result == (None, [(1,)])


def test_decision_made_by_any_process_on_the_store_wakes_it(
    pair: tuple[Gateway, Gateway], shared_store: tuple[str, str]
) -> None:
    """Not even a gateway: a process deciding on the store directly (as an admin tool
    would) is heard too, because the store itself announces the change."""
    holding, _ = pair
    attempt = run_held(holding, "UPDATE payments SET status='failed' WHERE id=72")
    request_id = held_id(attempt)
    with open_store(shared_store[0]) as store:
        service = ApprovalService(ApprovalStore(store), ApprovalsConfig.model_validate(SLOW_POLL))
        service.withdraw(request_id, "alice")
    settled_in_time(attempt)
    assert isinstance(attempt.error, psycopg.errors.InsufficientPrivilege), attempt.error
    assert "withdrawn" in str(attempt.error)


def test_statements_held_in_both_gateways_at_once(pair: tuple[Gateway, Gateway]) -> None:
    """Each gateway wakes its own statement, whichever gateway the decision went through."""
    a, b = pair
    in_a = run_held(a, "UPDATE payments SET status='refunded' WHERE id=73")
    in_b = run_held(b, "UPDATE payments SET status='refunded' WHERE id=74")
    ids = held_id(in_a), held_id(in_b)
    for request_id, through in zip(ids, (b, a), strict=True):
        status, _ = api(through, "bob", "POST", f"/api/approvals/{request_id}/approve", {})
        assert status == 200
    for attempt in (in_a, in_b):
        settled_in_time(attempt)
        assert attempt.error is None and attempt.result == "UPDATE 1", attempt.error
