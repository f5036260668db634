"""Reviewers act through the gateway's REST API and the ``proctor approvals`` CLI.

The demo flow, end to end: alice's ``UPDATE payments SET status='refunded' WHERE id=42``
waits with a notice; bob runs ``proctor approvals approve <id> --reason "ticket 7"`` (the
real CLI, in a subprocess, with PROCTOR_URL/PROCTOR_TOKEN) and alice's statement completes.
Also: deny, list/show JSON, separation of duties over HTTP, the SSE stream, the page the
notice links to, and a decision landing on another worker of a two-worker gateway.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import Gateway, ShopDb, eventually, launch_gateway
from tests.integration.postgres.test_approvals import (
    DEMO_POLICY,
    Attempt,
    finish,
    run_held,
    status_of,
)

pytestmark = pytest.mark.integration

PROCTOR = Path(sys.executable).parent / "proctor"
APPROVALS = {
    "workflows": {
        "shop-writes": {"approvers": {"groups": ["approver"]}, "expires": "60s"},
    },
    "poll_interval": "0.2s",
}
REQUEST_ID = re.compile(r"apr_[0-9a-f]+")


@pytest.fixture(scope="module")
def gw(shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = launch_gateway(
        tmp_path_factory.mktemp("approvals-api"), shop_db, policy=DEMO_POLICY, approvals=APPROVALS
    )
    yield gateway
    gateway.stop()


def cli_env(gw: Gateway, who: str) -> dict[str, str]:
    return {
        **os.environ,
        "PROCTOR_URL": f"http://{gw.host}:{gw.http_port}",
        "PROCTOR_TOKEN": gw.tokens[who],
        # No `proctor login` credentials of the person running the tests.
        "XDG_CONFIG_HOME": str(gw.dir / "no-login"),
    }


def cli(gw: Gateway, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``proctor`` command, as a reviewer runs it."""
    return subprocess.run(
        [str(PROCTOR), *args], env=cli_env(gw, who), capture_output=True, text=True, timeout=60
    )


def api(
    gw: Gateway, who: str | None, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    headers = {"Accept": "application/json"}
    if who is not None:
        headers["Authorization"] = f"Bearer {gw.tokens[who]}"
    data = None
    if body is not None or method == "POST":
        data = json.dumps(body or {}).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(
        f"http://{gw.host}:{gw.http_port}{path}", data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def held_id(attempt: Attempt) -> str:
    """The request id, read from the notice the client got (as a person reads psql)."""
    eventually(lambda: attempt.notices or None)
    assert attempt.notices, "no notice"
    found = REQUEST_ID.search(attempt.notices[0])
    assert found is not None, attempt.notices[0]
    return found.group()


def test_demo_flow_bob_approves_with_the_cli(gw: Gateway, shop_db: ShopDb) -> None:
    with psycopg.connect(shop_db.admin_dsn(), autocommit=True) as admin:  # other tests share it
        admin.execute("UPDATE payments SET status = 'captured' WHERE id = 42")
    attempt = run_held(gw, "UPDATE payments SET status='refunded' WHERE id=42")
    request_id = held_id(attempt)
    notice = attempt.notices[0]
    assert f"http://{gw.host}:{gw.http_port}/approvals/{request_id}" in notice

    listed = cli(gw, "bob", "approvals", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = [r for r in json.loads(listed.stdout) if r["id"] == request_id]
    assert mine and mine[0]["can_decide"] is True and mine[0]["requester"] == "alice"
    assert "id=42" in mine[0]["statement"]

    table = cli(gw, "bob", "approvals", "list")
    assert request_id in table.stdout and "decide" in table.stdout

    shown = cli(gw, "bob", "approvals", "show", request_id, "--json")
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert body["status"] == "pending" and body["still_needed"] == "1 more approval"
    assert body["rule"] == "writes-need-approval" and body["workflow"] == "shop-writes"
    assert len(body["statement_hash"]) == 64 and body["decisions"] == []
    text = cli(gw, "bob", "approvals", "show", request_id)
    assert "still needs: 1 more approval" in text.stdout and "statement:" in text.stdout
    assert status_of(shop_db, 42) != "refunded"

    approved = cli(gw, "bob", "approvals", "approve", request_id, "--reason", "ticket 7")
    assert approved.returncode == 0, approved.stderr
    assert f"{request_id} is now approved" in approved.stdout
    finish(attempt)
    assert attempt.error is None, attempt.error
    assert attempt.result == "UPDATE 1"
    assert status_of(shop_db, 42) == "refunded"

    after = json.loads(cli(gw, "alice", "approvals", "show", request_id, "--json").stdout)
    assert after["status"] == "approved" and after["can_decide"] is False
    assert after["decisions"][0]["approver"] == "bob"
    assert after["decisions"][0]["reason"] == "ticket 7"
    # Settled: a second decision is a conflict, reported as a refusal (exit 1).
    again = cli(gw, "bob", "approvals", "deny", request_id, "--reason", "late")
    assert again.returncode == 1 and "approved" in again.stderr


def test_bob_denies_with_the_cli_and_alice_goes_on(gw: Gateway, shop_db: ShopDb) -> None:
    attempt = run_held(gw, "UPDATE payments SET status='void' WHERE id=43", "SELECT 1")
    request_id = held_id(attempt)
    denied = cli(
        gw, "bob", "approvals", "deny", request_id, "--reason", "not in the freeze", "--json"
    )
    assert denied.returncode == 0, denied.stderr
    assert json.loads(denied.stdout)["status"] == "denied"
    finish(attempt)
    assert isinstance(attempt.error, psycopg.errors.InsufficientPrivilege), attempt.error
    assert "denied by bob" in str(attempt.error) and "freeze" in str(attempt.error)
    assert attempt.result == (None, [(1,)])
    assert status_of(shop_db, 43) != "void"
    everything = json.loads(cli(gw, "bob", "approvals", "list", "--all", "--json").stdout)
    assert any(r["id"] == request_id and r["status"] == "denied" for r in everything)
    pending = json.loads(cli(gw, "bob", "approvals", "list", "--json").stdout)
    assert all(r["id"] != request_id for r in pending)


def test_requester_may_not_approve_her_own_request(gw: Gateway) -> None:
    attempt = run_held(gw, "UPDATE payments SET status='x' WHERE id=44", "SELECT 2")
    request_id = held_id(attempt)
    status, body = api(
        gw, "alice", "POST", f"/api/approvals/{request_id}/approve", {"reason": "me"}
    )
    assert status == 403 and body["error"] == "forbidden"
    assert "separation of duties" in body["message"]
    # She sees her own request, but may not decide it; she may withdraw it.
    status, mine = api(gw, "alice", "GET", f"/api/approvals/{request_id}")
    assert status == 200 and mine["can_decide"] is False and mine["can_withdraw"] is True
    refused = cli(gw, "alice", "approvals", "approve", request_id, "--reason", "me")
    assert refused.returncode == 1 and "separation of duties" in refused.stderr
    # Bob may not withdraw alice's request.
    status, body = api(gw, "bob", "POST", f"/api/approvals/{request_id}/withdraw")
    assert status == 403
    withdrawn = cli(gw, "alice", "approvals", "withdraw", request_id)
    assert withdrawn.returncode == 0, withdrawn.stderr
    finish(attempt)
    assert isinstance(attempt.error, psycopg.errors.InsufficientPrivilege), attempt.error
    assert "withdrawn" in str(attempt.error)
    assert attempt.result == (None, [(2,)])


def test_api_errors(gw: Gateway) -> None:
    assert api(gw, None, "GET", "/api/approvals")[0] == 401
    status, body = api(gw, "bob", "GET", "/api/approvals/apr_00000000")
    assert status == 404 and body["error"] == "not_found"
    assert api(gw, "bob", "GET", "/api/approvals?status=nonsense")[0] == 400
    missing = cli(gw, "bob", "approvals", "show", "apr_0000ffff")
    assert missing.returncode == 1 and "no approval request apr_0000ffff" in missing.stderr
    usage = cli(gw, "bob", "approvals", "show", "42")
    assert usage.returncode == 2
    no_reason = cli(gw, "bob", "approvals", "approve")
    assert no_reason.returncode == 2
    # The page the notice links to, for an unknown request.
    assert gw.http("/approvals/apr_00000000")[0] == 404


def test_bad_token_is_a_clear_error(gw: Gateway, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PROCTOR_URL": f"http://{gw.host}:{gw.http_port}",
        "PROCTOR_TOKEN": "prt_nonsense",
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    res = subprocess.run(
        [str(PROCTOR), "approvals", "list"], env=env, capture_output=True, text=True
    )
    assert res.returncode == 1 and "refused the token" in res.stderr
    env.pop("PROCTOR_TOKEN")
    res = subprocess.run(
        [str(PROCTOR), "approvals", "list"], env=env, capture_output=True, text=True
    )
    assert res.returncode == 1 and "proctor login" in res.stderr


def test_page_the_notice_links_to(gw: Gateway) -> None:
    attempt = run_held(gw, "UPDATE payments SET status='y' WHERE id=45")
    request_id = held_id(attempt)
    status, text = gw.http(f"/approvals/{request_id}")
    assert status == 200
    assert request_id in text and "pending" in text
    assert f"proctor approvals approve {request_id}" in text
    assert "payments" not in text  # the statement is for signed-in reviewers only
    api(gw, "bob", "POST", f"/api/approvals/{request_id}/deny", {"reason": "cleanup"})
    finish(attempt)
    assert "denied by bob" in gw.http(f"/approvals/{request_id}")[1]


class EventStream:
    """``GET /api/approvals/events`` read in a thread: (event, data) pairs as they come.

    A plain socket (HTTP/1.0, so the body is not chunked) that ``close`` can shut down under
    the reading thread."""

    def __init__(self, gw: Gateway, who: str) -> None:
        self.sock = socket.create_connection((gw.host, gw.http_port), timeout=30)
        self.sock.sendall(
            (
                "GET /api/approvals/events HTTP/1.0\r\n"
                f"Host: {gw.host}\r\nAuthorization: Bearer {gw.tokens[who]}\r\n\r\n"
            ).encode()
        )
        self.file = self.sock.makefile("rb")
        status = self.file.readline().decode()
        assert " 200 " in status, status
        headers = []
        while (line := self.file.readline()) not in (b"\r\n", b""):
            headers.append(line.decode().strip().lower())
        assert "content-type: text/event-stream" in headers, headers
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.comments: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        kind, data = "message", ""
        try:
            for raw in self.file:
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    self.events.append((kind, json.loads(data)))
                    kind, data = "message", ""
        except (OSError, ValueError):
            pass

    def of(self, request_id: str) -> list[str]:
        return [k for k, d in self.events if d["request"]["id"] == request_id]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
        self.file.close()
        self.sock.close()


def test_event_stream_sees_requested_then_approved(gw: Gateway) -> None:
    stream = EventStream(gw, "bob")
    try:
        assert eventually(lambda: stream.comments), "no greeting on the stream"
        attempt = run_held(gw, "UPDATE payments SET status='refunded' WHERE id=46")
        request_id = held_id(attempt)
        assert eventually(lambda: "requested" in stream.of(request_id)), stream.events
        status, _ = api(gw, "bob", "POST", f"/api/approvals/{request_id}/approve", {"reason": "ok"})
        assert status == 200
        finish(attempt)
        assert eventually(lambda: "approved" in stream.of(request_id)), stream.events
        assert stream.of(request_id) == ["requested", "approved"]
        approved = next(d for k, d in stream.events if k == "approved")
        assert approved["actor"] == "bob" and approved["request"]["status"] == "approved"
    finally:
        stream.close()


def test_two_workers_decision_through_either(shop_db: ShopDb, tmp_path: Path) -> None:
    gateway = launch_gateway(tmp_path, shop_db, workers=2, policy=DEMO_POLICY, approvals=APPROVALS)
    stream = EventStream(gateway, "bob")
    try:
        # Several held statements, each approved by a fresh HTTP connection: the kernel
        # spreads those across both workers, so some decisions are made by the worker that
        # does not hold the statement (it learns by polling the store) and some by the one
        # that does (woken at once). Every statement must run either way.
        attempts = []
        for payment in (51, 52, 53, 54):
            attempt = run_held(gateway, f"UPDATE payments SET status='refunded' WHERE id={payment}")
            attempts.append((attempt, held_id(attempt)))
        for _, request_id in attempts:
            approved = cli(gateway, "bob", "approvals", "approve", request_id, "--reason", "ok")
            assert approved.returncode == 0, approved.stderr
        for attempt, request_id in attempts:
            finish(attempt)
            assert attempt.error is None and attempt.result == "UPDATE 1", attempt.error
            assert eventually(lambda rid=request_id: "approved" in stream.of(rid)), request_id
        # Requests made on either worker reach the stream (one of them by polling).
        assert all(stream.of(rid)[0] == "requested" for _, rid in attempts), stream.events
    finally:
        stream.close()
        gateway.stop()
