"""Just-in-time access: ``proctor request shop --duration … --reason …``, approved by bob,
lets carol (whom the access rules deny) use ``shop`` until the grant expires or is revoked;
then her live session ends with a message that names the grant.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import Gateway, ShopDb, eventually, launch_gateway
from tests.integration.postgres.test_approvals import DEMO_POLICY
from tests.integration.postgres.test_approvals_api import PROCTOR, api, cli, cli_env

pytestmark = pytest.mark.integration

APPROVALS = {
    "workflows": {"shop-writes": {"approvers": {"groups": ["approver"]}, "expires": "60s"}},
    "access": {"workflow": "shop-writes", "max_duration": "1h"},
    "poll_interval": "0.2s",
}
IDENTITY = {
    # carol (group contractor) is in no rule: she may use nothing without a grant.
    "access": [{"connections": ["shop"], "groups": ["analyst", "approver", "admin"]}],
    "roles": {"admin": {"groups": ["admin"]}, "approver": {"groups": ["approver"]}},
}


@pytest.fixture(scope="module")
def gw(shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = launch_gateway(
        tmp_path_factory.mktemp("jit"),
        shop_db,
        policy=DEMO_POLICY,
        approvals=APPROVALS,
        identity=IDENTITY,
    )
    gateway.tokens["carol"] = gateway.create_token("carol", ("contractor",))
    yield gateway
    gateway.stop()


def request_access(gw: Gateway, duration: str) -> dict[str, Any]:
    made = cli(
        gw, "carol", "request", "shop", "--duration", duration, "--reason", "INC-123", "--json"
    )
    assert made.returncode == 0, made.stderr
    body: dict[str, Any] = json.loads(made.stdout)
    assert body["grant"] is None and body["request"]["status"] == "pending"
    assert body["request"]["kind"] == "access" and body["request"]["reason"] == "INC-123"
    return body["request"]


def approve(gw: Gateway, request_id: str) -> None:
    done = cli(gw, "bob", "approvals", "approve", request_id, "--reason", "on call")
    assert done.returncode == 0, done.stderr


def grant_for(gw: Gateway, request_id: str) -> dict[str, Any]:
    listed = cli(gw, "carol", "grants", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    found = [g for g in json.loads(listed.stdout) if g["request_id"] == request_id]
    assert len(found) == 1, listed.stdout
    return found[0]


def ended_with(conn: psycopg.Connection[Any]) -> str | None:
    """The error that ended the session, once it has ended (None while it lives)."""
    try:
        conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc)
    return None


def test_carol_is_denied_without_a_grant(gw: Gateway) -> None:
    with pytest.raises(psycopg.OperationalError, match="proctor request"):
        psycopg.connect(gw.dsn("carol"))
    too_long = cli(gw, "carol", "request", "shop", "--duration", "2h", "--reason", "x")
    assert too_long.returncode == 1 and "at most 1:00:00" in too_long.stderr
    unknown = cli(gw, "carol", "request", "nope", "--duration", "5m", "--reason", "x")
    assert unknown.returncode == 1 and "no connection named 'nope'" in unknown.stderr
    no_duration = cli(gw, "carol", "request", "shop", "--reason", "x")
    assert no_duration.returncode == 2


def test_grant_admits_carol_until_it_expires(gw: Gateway) -> None:
    # Long enough for the approval and the first query even on a loaded CI machine.
    request = request_access(gw, "15s")
    # carol may not approve her own request; bob may.
    refused = cli(gw, "carol", "approvals", "approve", request["id"], "--reason", "me")
    assert refused.returncode == 1 and "separation of duties" in refused.stderr
    approve(gw, request["id"])
    grant = grant_for(gw, request["id"])
    assert grant["active"] and grant["granted_by"] == "bob" and grant["connection"] == "shop"
    with psycopg.connect(gw.dsn("carol"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM orders").fetchone() == (True,)
        message = eventually(lambda: ended_with(conn), timeout=30)
    assert message is not None
    assert f"access grant {grant['id']} for shop expired at" in message, message
    # And no new session either.
    with pytest.raises(psycopg.OperationalError, match="proctor request"):
        psycopg.connect(gw.dsn("carol"))
    assert "session_grant_ended" in gw.log()


def test_revoking_a_grant_ends_the_session(gw: Gateway) -> None:
    request = request_access(gw, "30m")
    approve(gw, request["id"])
    grant = grant_for(gw, request["id"])
    with psycopg.connect(gw.dsn("carol"), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # Only admins revoke.
        by_bob = cli(gw, "bob", "grants", "revoke", grant["id"])
        assert by_bob.returncode == 1 and "only admins" in by_bob.stderr
        assert conn.execute("SELECT 2").fetchone() == (2,)
        started = time.monotonic()
        revoked = cli(gw, "admin", "grants", "revoke", grant["id"], "--json")
        assert revoked.returncode == 0, revoked.stderr
        assert json.loads(revoked.stdout)["revoked_at"] is not None
        message = eventually(lambda: ended_with(conn), timeout=10)
        assert time.monotonic() - started < 10
    assert message is not None
    assert f"access grant {grant['id']} for shop was revoked at" in message, message
    status, _ = api(gw, "admin", "POST", f"/api/access-grants/{grant['id']}/revoke")
    assert status == 409


def test_request_wait_returns_when_granted(gw: Gateway) -> None:
    waiting = subprocess.Popen(
        [
            str(PROCTOR),
            "request",
            "shop",
            "--duration",
            "10m",
            "--reason",
            "INC-9",
            "--wait",
            "--json",
        ],
        env=cli_env(gw, "carol"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def pending() -> str | None:
            status, found = api(gw, "bob", "GET", "/api/approvals")
            ids = [r["id"] for r in found if r["kind"] == "access" and r["reason"] == "INC-9"]
            return ids[0] if status == 200 and ids else None

        request_id = eventually(pending)
        assert request_id
        approve(gw, request_id)
        out, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0, err
    body = json.loads(out)
    assert body["request"]["status"] == "approved"
    assert body["grant"]["request_id"] == request_id and body["grant"]["active"]
    # Everyone's grants: admins (and auditors) only.
    status, everyone = api(gw, "admin", "GET", "/api/access-grants")
    assert status == 200 and any(g["subject"] == "carol" for g in everyone)
    status, bobs = api(gw, "bob", "GET", "/api/access-grants")
    assert status == 200 and all(g["subject"] == "bob" for g in bobs)
