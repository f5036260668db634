"""``proctor approvals|request|grants`` against a stub gateway: target, output, exit codes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from proctor.cli.approvals_cmd import approvals_group, grants_group, request_command
from proctor.cli.login_cmd import LoginError, api_target

REQUEST = {
    "id": "apr_0a1b",
    "kind": "statement",
    "status": "pending",
    "requester": "alice",
    "requester_groups": ["analyst"],
    "connection": "shop",
    "workflow": "default",
    "session_id": "ses_1",
    "statement": "UPDATE payments SET status='refunded' WHERE id=42",
    "statement_hash": "ab" * 32,
    "rule": "writes-need-approval",
    "reason": None,
    "scope": "statement",
    "duration_seconds": None,
    "created_at": "2030-01-01T12:00:00+00:00",
    "expires_at": "2999-01-01T12:15:00+00:00",
    "decided_at": None,
    "decisions": [],
    "still_needed": "1 more approval",
    "url": "http://gw/approvals/apr_0a1b",
    "can_decide": True,
    "can_withdraw": False,
}


class Stub(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, Any, str | None]] = []

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, None, self.headers.get("Authorization")))
        if self.path.startswith("/api/approvals?"):
            self._answer(200, [REQUEST])
        elif self.path == "/api/approvals/apr_0a1b":
            self._answer(200, REQUEST)
        else:
            self._answer(404, {"error": "not_found", "message": "no approval request apr_ffff"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(("POST", self.path, body, self.headers.get("Authorization")))
        if self.path.endswith("/approve"):
            self._answer(403, {"error": "forbidden", "message": "separation of duties"})
        else:
            self._answer(200, {**REQUEST, "status": "denied"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("PROCTOR_URL", url)
    monkeypatch.setenv("PROCTOR_TOKEN", "prt_test")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    Stub.seen.clear()
    yield url
    server.shutdown()
    server.server_close()


def test_target_prefers_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("PROCTOR_URL", "http://gw:8080/")
    monkeypatch.setenv("PROCTOR_TOKEN", "prt_x")
    assert api_target() == ("http://gw:8080", "prt_x")
    monkeypatch.delenv("PROCTOR_TOKEN")
    with pytest.raises(LoginError, match=r"proctor login.*PROCTOR_TOKEN"):
        api_target()


def test_list_show_and_json(gateway: str) -> None:
    runner = CliRunner()
    listed = runner.invoke(approvals_group, ["list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.output) == [REQUEST]
    assert Stub.seen[-1][1] == "/api/approvals?status=pending&limit=100"
    assert Stub.seen[-1][3] == "Bearer prt_test"
    table = runner.invoke(approvals_group, ["list", "--all", "--mine"])
    assert "apr_0a1b" in table.output and "decide" in table.output
    assert "status=all" in Stub.seen[-1][1] and "mine=1" in Stub.seen[-1][1]
    shown = runner.invoke(approvals_group, ["show", "apr_0a1b"])
    assert shown.exit_code == 0 and "still needs: 1 more approval" in shown.output
    assert "WHERE id=42" in shown.output


def test_refusals_exit_1_and_usage_exits_2(gateway: str) -> None:
    runner = CliRunner()
    refused = runner.invoke(approvals_group, ["approve", "apr_0a1b", "--reason", "x"])
    assert refused.exit_code == 1 and "separation of duties" in refused.output
    assert Stub.seen[-1][2] == {"reason": "x", "break_glass": False}
    missing = runner.invoke(approvals_group, ["show", "apr_ffff"])
    assert missing.exit_code == 1 and "no approval request" in missing.output
    assert runner.invoke(approvals_group, ["show", "not-an-id"]).exit_code == 2
    assert runner.invoke(approvals_group, ["approve", "apr_0a1b", "--scope", "x"]).exit_code == 2
    assert runner.invoke(request_command, ["shop"]).exit_code == 2  # --duration is required
    assert runner.invoke(grants_group, ["revoke", "apr_0a1b"]).exit_code == 2


def test_deny_sends_the_reason(gateway: str) -> None:
    denied = CliRunner().invoke(approvals_group, ["deny", "apr_0a1b", "--reason", "freeze"])
    assert denied.exit_code == 0 and "apr_0a1b is now denied" in denied.output
    assert Stub.seen[-1][:3] == ("POST", "/api/approvals/apr_0a1b/deny", {"reason": "freeze"})


def test_unreachable_gateway(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("PROCTOR_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PROCTOR_TOKEN", "prt_x")
    result = CliRunner().invoke(approvals_group, ["list"])
    assert result.exit_code == 1 and "cannot reach the gateway" in result.output
