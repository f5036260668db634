"""Statements held for review on the live connection: approve, deny, expire, withdraw.

The demo policy holds alice's row changes (rule ``row-changes-need-approval``) for the
workflow's approvers (group ``approver``: bob). Reviewers decide through the approvals
service on the gateway's own store, from this process: the gateway sees decisions made
elsewhere by polling, as it would see a decision made through another worker or gateway.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from proctor.approvals.service import ApprovalService, DecisionRefused
from proctor.config.approvals import ApprovalsConfig
from proctor.model import ApprovalRequest, Identity, RequestStatus
from proctor.store import SqlStore
from proctor.store.approvals import ApprovalStore
from tests.integration.conftest import Gateway, ShopDb, eventually, launch_gateway

pytestmark = pytest.mark.integration

DEMO_POLICY = Path(__file__).resolve().parents[3] / "src" / "proctor" / "demo" / "policy.yaml"
APPROVALS = {
    "workflows": {
        "default": {"approvers": {"groups": ["approver"]}, "expires": "60s"},
        "shop-writes": {"approvers": {"groups": ["approver"]}, "expires": "60s"},
        "quick": {"approvers": {"groups": ["approver"]}, "expires": "2s"},
        "two": {
            "approvers": {"groups": ["approver", "dba"]},
            "min_approvals": 2,
            "all_of": ["dba"],
        },
    },
    "poll_interval": "0.2s",
}
BOB = Identity(subject="bob", groups=frozenset({"approver"}))
CAROL = Identity(subject="carol", groups=frozenset({"approver", "dba"}))
ALICE = Identity(subject="alice", groups=frozenset({"analyst"}))


@pytest.fixture(scope="module")
def gw(shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = launch_gateway(
        tmp_path_factory.mktemp("approvals"), shop_db, policy=DEMO_POLICY, approvals=APPROVALS
    )
    yield gateway
    gateway.stop()


@pytest.fixture
def service(gw: Gateway) -> Iterator[ApprovalService]:
    store = SqlStore(f"sqlite:///{gw.dir / 'state.db'}")
    yield ApprovalService(ApprovalStore(store), ApprovalsConfig.model_validate(APPROVALS))
    store.close()


@dataclass
class Attempt:
    """A statement run in a thread, as alice's psql would: it blocks until settled."""

    thread: threading.Thread | None = None
    notices: list[str] = field(default_factory=list)
    result: Any = None
    error: BaseException | None = None
    conn: psycopg.Connection[Any] | None = None


def run_held(gw: Gateway, sql: str, *then: str) -> Attempt:
    attempt = Attempt()

    def work() -> None:
        try:
            with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
                attempt.conn = conn
                conn.add_notice_handler(lambda d: attempt.notices.append(d.message_primary or ""))
                try:
                    cur = conn.execute(sql)
                    attempt.result = cur.statusmessage
                except psycopg.Error as exc:
                    attempt.error = exc
                for follow in then:  # the session goes on either way
                    attempt.result = (attempt.result, conn.execute(follow).fetchall())
        except BaseException as exc:
            attempt.error = exc

    attempt.thread = threading.Thread(target=work)
    attempt.thread.start()
    return attempt


def pending(service: ApprovalService, sql_part: str) -> ApprovalRequest:
    def find() -> ApprovalRequest | None:
        for r in service.store.list_requests(status=RequestStatus.PENDING):
            if r.statement_text and sql_part in r.statement_text:
                return r
        return None

    found: ApprovalRequest = eventually(find)
    return found


def finish(attempt: Attempt) -> None:
    assert attempt.thread is not None
    attempt.thread.join(30)
    assert not attempt.thread.is_alive()


def status_of(shop: ShopDb, payment: int) -> str:
    with psycopg.connect(shop.admin_dsn()) as conn:
        row = conn.execute("SELECT status FROM payments WHERE id = %s", (payment,)).fetchone()
    assert row is not None
    return str(row[0])


def test_held_then_approved_runs_the_statement(
    gw: Gateway, service: ApprovalService, shop_db: ShopDb
) -> None:
    attempt = run_held(gw, "UPDATE payments SET status = 'refunded' WHERE id = 41")
    request = pending(service, "WHERE id = 41")
    assert request.requester == "alice" and request.rule
    eventually(lambda: attempt.notices or None)
    assert request.id in attempt.notices[0] and "approval required" in attempt.notices[0]
    assert status_of(shop_db, 41) != "refunded"  # not run while held
    service.decide(request.id, BOB, approve=True, reason="ticket 7")
    finish(attempt)
    assert attempt.error is None, attempt.error
    assert attempt.result == "UPDATE 1"
    assert status_of(shop_db, 41) == "refunded"
    with SqlStore(f"sqlite:///{gw.dir / 'state.db'}") as store:
        records = eventually(
            lambda: (
                [
                    s.text
                    for row in store.list_sessions(subject="alice")
                    for s in store.get_statements(row.start.id)
                    if s.kind == "approval" and request.id in s.text
                ]
                or None
            )
        )
    assert "approved by bob" in records[0] and "ticket 7" in records[0]
    # The tamper-evident recording replays the hold: notice, approval, then the result.
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "proctor",
            "replay",
            request.session_id or "",
            "--speed",
            "0",
            "--config",
            str(gw.dir / "proctor.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = replay.stdout
    assert "NOTICE     approval required" in lines, lines + replay.stderr
    assert lines.index("NOTICE") < lines.index("approved by bob") < lines.index("UPDATE 1")


def test_held_then_denied_errors_and_the_session_goes_on(
    gw: Gateway, service: ApprovalService, shop_db: ShopDb
) -> None:
    attempt = run_held(gw, "UPDATE payments SET status = 'void' WHERE id = 43", "SELECT 1")
    request = pending(service, "WHERE id = 43")
    service.decide(request.id, BOB, approve=False, reason="not during the freeze")
    finish(attempt)
    assert isinstance(attempt.error, psycopg.errors.InsufficientPrivilege), attempt.error
    assert "denied by bob" in str(attempt.error) and "freeze" in str(attempt.error)
    assert attempt.result == (None, [(1,)])
    assert status_of(shop_db, 43) != "void"


def test_requester_cannot_approve_own_request(gw: Gateway, service: ApprovalService) -> None:
    attempt = run_held(gw, "UPDATE payments SET status = 'x' WHERE id = 44")
    request = pending(service, "WHERE id = 44")
    alice_as_approver = Identity(subject="alice", groups=frozenset({"approver"}))
    with pytest.raises(DecisionRefused, match="separation of duties"):
        service.decide(request.id, alice_as_approver, approve=True, reason="me")
    # Nor through a machine identity acting for her.
    agent = Identity(
        subject="agent:alice-bot", groups=frozenset({"approver"}), claims={"on_behalf_of": "alice"}
    )
    with pytest.raises(DecisionRefused, match="separation of duties"):
        service.decide(request.id, agent, approve=True, reason="me")
    service.decide(request.id, BOB, approve=False, reason="cleanup")
    finish(attempt)


def test_client_cancel_withdraws_the_request(gw: Gateway, service: ApprovalService) -> None:
    attempt = run_held(gw, "UPDATE payments SET status = 'y' WHERE id = 45", "SELECT 2")
    request = pending(service, "WHERE id = 45")
    assert attempt.conn is not None
    attempt.conn.cancel_safe()
    finish(attempt)
    assert isinstance(attempt.error, psycopg.errors.InsufficientPrivilege), attempt.error
    assert "withdrawn" in str(attempt.error)
    assert attempt.result == (None, [(2,)])
    final = service.get(request.id)
    assert final is not None and final.status is RequestStatus.WITHDRAWN


def test_statements_sent_after_a_held_one_wait_their_turn(
    gw: Gateway, service: ApprovalService
) -> None:
    # One simple Query with two statements: the whole batch is held, then runs in order.
    attempt = run_held(
        gw,
        "UPDATE payments SET status = 'refunded' WHERE id = 46; "
        "SELECT status FROM payments WHERE id = 46",
    )
    request = pending(service, "WHERE id = 46")
    time.sleep(0.5)
    assert attempt.thread is not None and attempt.thread.is_alive()
    service.decide(request.id, BOB, approve=True, reason="ok")
    finish(attempt)
    assert attempt.error is None, attempt.error
    assert attempt.result == "UPDATE 1"  # the batch ran whole, after the approval


def test_expired_request_errors(shop_db: ShopDb, tmp_path: Path) -> None:
    approvals = {
        "workflows": {"shop-writes": {"approvers": {"groups": ["approver"]}, "expires": "1s"}},
        "poll_interval": "0.2s",
    }
    gateway = launch_gateway(tmp_path, shop_db, policy=DEMO_POLICY, approvals=approvals)
    try:
        attempt = run_held(gateway, "UPDATE payments SET status = 'refunded' WHERE id = 47")
        finish(attempt)
        assert isinstance(attempt.error, psycopg.errors.InsufficientPrivilege), attempt.error
        assert "expired" in str(attempt.error)
    finally:
        gateway.stop()


def test_two_approvals_one_from_dba(shop_db: ShopDb, tmp_path: Path) -> None:
    approvals = {
        "workflows": {
            "shop-writes": {
                "approvers": {"groups": ["approver", "dba"]},
                "min_approvals": 2,
                "all_of": ["dba"],
            }
        },
        "poll_interval": "0.2s",
    }
    gateway = launch_gateway(tmp_path, shop_db, policy=DEMO_POLICY, approvals=approvals)
    store = SqlStore(f"sqlite:///{tmp_path / 'state.db'}")
    service = ApprovalService(ApprovalStore(store), ApprovalsConfig.model_validate(approvals))
    try:
        attempt = run_held(gateway, "UPDATE payments SET status = 'refunded' WHERE id = 48")
        request = pending(service, "WHERE id = 48")
        after_bob = service.decide(request.id, BOB, approve=True, reason="fine by me")
        assert after_bob.status is RequestStatus.PENDING
        assert service.still_needed(after_bob) == "1 more approval; one from each of: dba"
        time.sleep(0.5)
        assert attempt.thread is not None and attempt.thread.is_alive()
        with pytest.raises(DecisionRefused, match="already decided"):
            service.decide(request.id, BOB, approve=True, reason="again")
        done = service.decide(request.id, CAROL, approve=True, reason="dba ok")
        assert done.status is RequestStatus.APPROVED
        finish(attempt)
        assert attempt.error is None and attempt.result == "UPDATE 1"
    finally:
        store.close()
        gateway.stop()


def test_reviewers_are_notified_by_a_signed_webhook(shop_db: ShopDb, tmp_path: Path) -> None:
    import http.server
    import json as _json

    from proctor.approvals.notify import verify_webhook_signature

    secret = "a-webhook-secret-of-some-length"
    received: list[tuple[str, bytes]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("Proctor-Signature", ""), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    approvals = {
        "workflows": {"shop-writes": {"approvers": {"groups": ["approver"]}}},
        "poll_interval": "0.2s",
        "notify": [
            {
                "name": "hook",
                "kind": "webhook",
                "url": f"http://127.0.0.1:{server.server_port}/proctor",
                "secret": secret,
            }
        ],
    }
    gateway = launch_gateway(tmp_path, shop_db, policy=DEMO_POLICY, approvals=approvals)
    store = SqlStore(f"sqlite:///{tmp_path / 'state.db'}")
    service = ApprovalService(ApprovalStore(store), ApprovalsConfig.model_validate(approvals))
    try:
        attempt = run_held(gateway, "UPDATE payments SET status = 'refunded' WHERE id = 49")
        request = pending(service, "WHERE id = 49")
        event = eventually(lambda: received[:1] or None)
        signature, body = event[0]
        verify_webhook_signature(secret, signature, body)
        doc = _json.loads(body)
        assert doc["type"].endswith("requested") and doc["subject"] == request.id
        assert "WHERE id = 49" in _json.dumps(doc["data"])
        service.decide(request.id, BOB, approve=False, reason="no")
        finish(attempt)
    finally:
        store.close()
        gateway.stop()
        server.shutdown()
        server.server_close()


def test_held_inside_a_transaction_block(
    gw: Gateway, service: ApprovalService, shop_db: ShopDb
) -> None:
    """The held statement runs in the client's open transaction once approved; a denial
    aborts the block exactly like a server error would."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            with psycopg.connect(gw.dsn("alice")) as conn:  # not autocommit: BEGIN is implicit
                conn.execute("SELECT 1")
                conn.execute("UPDATE payments SET status = 'failed' WHERE id = 50")
                outcome["in_tx"] = conn.info.transaction_status.name
                try:
                    conn.execute("UPDATE payments SET status = 'failed' WHERE id = 51")
                except psycopg.errors.InsufficientPrivilege as exc:
                    outcome["denied"] = str(exc)
                    outcome["after_denial"] = conn.info.transaction_status.name
                conn.rollback()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=work)
    thread.start()
    first = pending(service, "WHERE id = 50")
    assert first.statement_text and "id = 50" in first.statement_text
    service.decide(first.id, BOB, approve=True, reason="inside a transaction")
    second = pending(service, "WHERE id = 51")
    service.decide(second.id, BOB, approve=False, reason="not this one")
    assert done.wait(30)
    thread.join(5)
    assert "error" not in outcome, outcome
    assert outcome["in_tx"] == "INTRANS"  # approved: ran inside the open transaction
    assert "denied by bob" in outcome["denied"]
    assert outcome["after_denial"] == "INERROR"  # the block is aborted, as for any error
    assert status_of(shop_db, 50) != "failed"  # rolled back by the client
