"""Reviewers decide with Slack's Approve / Deny buttons: the callback route, end to end.

The gateway runs as its own process with a Slack channel whose URL is a local receiver
standing in for Slack's incoming webhook: the approval message the gateway posts there is
read back, and its buttons are "clicked" the way Slack does it: a ``block_actions`` payload,
form-encoded, signed with the app's signing secret (``v0=`` HMAC-SHA256 over
``v0:<timestamp>:<body>``), POSTed to ``/api/approvals/slack`` over HTTP.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest

from proctor.approvals.notify.slack import slack_signature
from proctor.approvals.service import ApprovalService
from proctor.config.approvals import ApprovalsConfig
from proctor.model import Identity, RequestStatus
from proctor.store import SqlStore
from proctor.store.approvals import ApprovalStore
from tests.integration.conftest import Gateway, ShopDb, eventually, launch_gateway
from tests.integration.postgres.test_approvals import DEMO_POLICY, finish, run_held, status_of
from tests.integration.postgres.test_approvals_api import held_id

pytestmark = pytest.mark.integration

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5-test"
BOB_SLACK, CAROL_SLACK, ALICE_SLACK, EVE_SLACK = "U0BOB0001", "U0CAROL01", "U0ALICE01", "U0EVE0001"


@dataclass
class FakeSlack:
    """Where the gateway posts its Slack messages (an incoming webhook stands in for Slack)."""

    port: int = 0
    posted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def messages(self, path: str = "/services/T0/B0/hook") -> list[dict[str, Any]]:
        return [body for where, body in self.posted if where == path]

    def about(self, request_id: str) -> dict[str, Any] | None:
        for body in self.messages():
            if request_id in json.dumps(body):
                return body
        return None


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    state = FakeSlack()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.posted.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def approvals_config(slack_port: int) -> dict[str, Any]:
    return {
        "workflows": {
            "shop-writes": {"approvers": {"groups": ["approver"]}, "expires": "60s"},
            "strict": {"approvers": {"groups": ["approver"]}, "reason_required": True},
        },
        "poll_interval": "0.2s",
        "notify": [
            {
                "name": "slack-dba",
                "kind": "slack",
                "url": f"http://127.0.0.1:{slack_port}/services/T0/B0/hook",
                "signing_secret": SIGNING_SECRET,
                "users": {
                    BOB_SLACK: {"subject": "bob", "groups": ["approver"]},
                    CAROL_SLACK: {"subject": "carol", "groups": ["approver"]},
                    # alice may approve other people's requests, never her own
                    ALICE_SLACK: {"subject": "alice", "groups": ["approver"]},
                },
            }
        ],
    }


@pytest.fixture(scope="module")
def gw(
    shop_db: ShopDb, fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    gateway = launch_gateway(
        tmp_path_factory.mktemp("approvals-slack"),
        shop_db,
        policy=DEMO_POLICY,
        approvals=approvals_config(fake_slack.port),
    )
    yield gateway
    gateway.stop()


# -- what Slack sends -----------------------------------------------------------------------


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    raise AssertionError(f"no {action_id} button in {message}")


def click_body(
    action: dict[str, Any],
    user_id: str,
    # Never Slack's own host: tests must not reach the internet (a non-Slack URL gets nothing).
    response_url: str = "http://127.0.0.1:9/actions/T0/1/x",
) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "team_id": "T0"},
        "team": {"id": "T0", "domain": "acme"},
        "api_app_id": "A0PROCTOR",
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "actions": [{"type": "button", "action_ts": str(time.time()), **action}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def approve_action(request_id: str) -> dict[str, Any]:
    return {"action_id": "proctor_approve", "block_id": "proctor_approval", "value": request_id}


def post(
    gw: Gateway,
    body: bytes,
    *,
    timestamp: int | None = None,
    secret: str = SIGNING_SECRET,
    signature: str | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> tuple[int, Any]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or slack_signature(secret, ts, body),
    }
    req = urllib.request.Request(
        f"http://{gw.host}:{gw.http_port}/api/approvals/slack",
        data=body,
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def service(gw: Gateway, fake_slack: FakeSlack) -> Iterator[ApprovalService]:
    store = SqlStore(f"sqlite:///{gw.dir / 'state.db'}")
    config = ApprovalsConfig.model_validate(approvals_config(fake_slack.port))
    yield ApprovalService(ApprovalStore(store), config)
    store.close()


def status(service: ApprovalService, request_id: str) -> RequestStatus:
    found = service.get(request_id)
    assert found is not None
    return found.status


# -- tests ------------------------------------------------------------------------------------


def test_bob_approves_from_the_slack_message(
    gw: Gateway, fake_slack: FakeSlack, shop_db: ShopDb
) -> None:
    with psycopg.connect(shop_db.admin_dsn(), autocommit=True) as admin:
        admin.execute("UPDATE payments SET status = 'captured' WHERE id = 60")
    attempt = run_held(gw, "UPDATE payments SET status='refunded' WHERE id=60")
    request_id = held_id(attempt)
    message = eventually(lambda: fake_slack.about(request_id))
    assert message is not None, fake_slack.posted
    approve = button(message, "proctor_approve")
    assert approve["value"] == request_id
    assert status_of(shop_db, 60) == "captured"

    to_receiver = f"http://127.0.0.1:{fake_slack.port}/actions/T0/1/x"
    code, reply = post(gw, click_body(approve, BOB_SLACK, response_url=to_receiver))
    assert code == 200, reply
    assert reply["replace_original"] is True
    assert reply["text"] == f"Request {request_id} approved by bob"
    assert "Approved by bob from Slack" in json.dumps(reply)
    assert not any(b["type"] == "actions" for b in reply["blocks"])  # buttons gone
    finish(attempt)
    assert attempt.error is None and attempt.result == "UPDATE 1", attempt.error
    assert status_of(shop_db, 60) == "refunded"

    # Clicked again (or by someone else) once settled: nothing changes, the clicker is told.
    code, again = post(gw, click_body(approve, CAROL_SLACK))
    assert code == 200 and again["response_type"] == "ephemeral"
    assert "already approved (approved by bob)" in again["text"]
    # The click's response_url pointed at the receiver, which is not Slack: the gateway
    # posts replies to Slack's own URLs only, never to another URL taken from a request.
    time.sleep(0.5)
    assert all(path.startswith("/services/") for path, _ in fake_slack.posted)


def test_carol_denies_and_alice_goes_on(
    gw: Gateway, fake_slack: FakeSlack, shop_db: ShopDb
) -> None:
    attempt = run_held(gw, "UPDATE payments SET status='void' WHERE id=61", "SELECT 1")
    request_id = held_id(attempt)
    message = eventually(lambda: fake_slack.about(request_id))
    assert message is not None
    code, reply = post(gw, click_body(button(message, "proctor_deny"), CAROL_SLACK))
    assert code == 200, reply
    assert reply["replace_original"] is True
    assert reply["text"] == f"Request {request_id} denied by carol"
    finish(attempt)
    assert isinstance(attempt.error, psycopg.errors.InsufficientPrivilege), attempt.error
    assert "denied by carol" in str(attempt.error)
    assert attempt.result == (None, [(1,)])  # the session goes on
    assert status_of(shop_db, 61) != "void"


def test_signatures_are_checked(gw: Gateway, service: ApprovalService) -> None:
    attempt = run_held(gw, "UPDATE payments SET status='x' WHERE id=62")
    request_id = held_id(attempt)
    body = click_body(approve_action(request_id), BOB_SLACK)
    code, reply = post(gw, body, secret="not-the-signing-secret-000")
    assert code == 401 and reply["error"] == "invalid_signature"
    assert "does not match" in reply["text"]
    code, reply = post(gw, body, timestamp=int(time.time()) - 6 * 60)  # a replay, 6 min late
    assert code == 401 and "tolerance" in reply["text"]
    code, reply = post(gw, body, timestamp=int(time.time()) + 6 * 60)
    assert code == 401
    ts = str(int(time.time()))
    code, _ = post(gw, body + b"&x=1", signature=slack_signature(SIGNING_SECRET, ts, body))
    assert code == 401  # the signature covers the exact body
    req = urllib.request.Request(
        f"http://{gw.host}:{gw.http_port}/api/approvals/slack", data=body, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(req, timeout=10)
    assert unsigned.value.code == 401
    unsigned.value.close()
    assert status(service, request_id) is RequestStatus.PENDING
    service.decide(request_id, Identity("bob", frozenset({"approver"})), approve=False)
    finish(attempt)


def test_unmapped_slack_users_are_refused(gw: Gateway, service: ApprovalService) -> None:
    attempt = run_held(gw, "UPDATE payments SET status='x' WHERE id=63")
    request_id = held_id(attempt)
    code, reply = post(gw, click_body(approve_action(request_id), EVE_SLACK))
    assert code == 200 and reply["response_type"] == "ephemeral"
    assert reply["replace_original"] is False
    assert f"Your Slack account ({EVE_SLACK}) is not mapped" in reply["text"]
    assert status(service, request_id) is RequestStatus.PENDING
    service.decide(request_id, Identity("bob", frozenset({"approver"})), approve=False)
    finish(attempt)


def test_alice_may_not_approve_her_own_request_from_slack(
    gw: Gateway, service: ApprovalService
) -> None:
    attempt = run_held(gw, "UPDATE payments SET status='failed' WHERE id=64")
    request_id = held_id(attempt)
    code, reply = post(gw, click_body(approve_action(request_id), ALICE_SLACK))
    assert code == 200 and reply["response_type"] == "ephemeral"
    assert "separation of duties" in reply["text"]
    assert status(service, request_id) is RequestStatus.PENDING
    assert attempt.thread is not None and attempt.thread.is_alive()
    # Bob's click through the same route still works afterwards.
    code, reply = post(gw, click_body(approve_action(request_id), BOB_SLACK))
    assert code == 200 and reply["replace_original"] is True
    finish(attempt)
    assert attempt.error is None, attempt.error


def test_a_workflow_that_needs_a_reason_points_to_the_cli(
    gw: Gateway, service: ApprovalService
) -> None:
    request = service.request_statement(
        identity=Identity("alice", frozenset({"analyst"})),
        connection="shop",
        session_id=None,
        text="DELETE FROM payments WHERE id = 65",
        redacted_text="DELETE FROM payments WHERE id = 65",
        rule="writes-need-approval",
        workflow="strict",
    )
    code, reply = post(gw, click_body(approve_action(request.id), BOB_SLACK))
    assert code == 200 and reply["response_type"] == "ephemeral"
    assert "Workflow strict requires a reason" in reply["text"]
    assert f'proctor approvals approve {request.id} --reason "…"' in reply["text"]
    assert f"/approvals/{request.id}" in reply["text"]  # the page the notice links to
    assert status(service, request.id) is RequestStatus.PENDING
    service.withdraw(request.id, "alice")


def test_bad_input_is_a_clear_4xx(gw: Gateway) -> None:
    # Signed, but not a Proctor click.
    code, reply = post(gw, urlencode({"payload": "{not json"}).encode())
    assert code == 400 and reply["error"] == "bad_request"
    foreign = urlencode({"payload": json.dumps({"type": "view_submission"})}).encode()
    assert post(gw, foreign)[0] == 400
    body = click_body(approve_action("apr_0000dead"), BOB_SLACK)
    assert post(gw, body, content_type="application/json")[0] == 400
    # A well-formed click on a request that does not exist.
    code, reply = post(gw, body)
    assert code == 404 and "apr_0000dead" in reply["text"]
    # Too large, announced or not (a chunked body has no Content-Length).
    assert post(gw, b"payload=" + b"x" * (300 * 1024))[0] == 413
    chunks = iter([b"payload=", b"x" * (200 * 1024), b"x" * (200 * 1024)])
    req = urllib.request.Request(
        f"http://{gw.host}:{gw.http_port}/api/approvals/slack",
        data=chunks,
        headers={
            "Transfer-Encoding": "chunked",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as chunked:
        urllib.request.urlopen(req, timeout=10)
    assert chunked.value.code == 413
    chunked.value.close()
    # The Open link is reported by Slack too: nothing to decide, nothing refused.
    open_link = click_body({"action_id": "proctor_open", "block_id": "proctor_approval"}, BOB_SLACK)
    assert post(gw, open_link) == (200, {})
    # The gateway is fine afterwards.
    assert gw.http("/healthz")[0] == 200
