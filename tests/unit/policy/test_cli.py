"""``proctor policy check|test|explain`` through click's test runner."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from proctor.cli import policy_cmd
from proctor.cli.policy_cmd import policy_group
from proctor.model import Statement

from .helpers import stmt, write_policy

STATEMENTS = {
    "DROP TABLE customers": stmt("drop", writes=["customers"]),
    "SELECT * FROM customers": stmt(reads=["customers"], text="SELECT * FROM customers"),
    "DELETE FROM customers": stmt("delete", writes=["customers"], unfiltered=["delete"]),
    "DO $$ $$": stmt("do", complete=False),
}

POLICY = """\
version: 1
default: allow
rules:
  - name: no-drop
    action: deny
    message: no dropping
    match: {operations: drop}
    unless: {groups: admin}
  - name: pii
    action: alert
    match: {tags: {data: pii}, tables: customers}
  - name: prod-writes
    action: review
    message: wait
    review: {workflow: dba}
    match: {tags: {env: prod}, operations: dml}
tests:
  - statement: DROP TABLE customers
    as: alice
    connection: shop
    expect: {action: deny, rule: no-drop}
  - name: pii read
    statement: SELECT * FROM customers
    as: alice
    connection: {name: shop, tags: {data: pii}}
    expect: alert
"""

FAILING_CASE = """\
  - statement: DELETE FROM customers
    as: alice
    connection: shop
    expect: deny
"""


def fake_analyzer(text: str) -> Statement:
    return STATEMENTS[text]


@pytest.fixture(autouse=True)
def fake_analyzers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_cmd, "analyzers", lambda: {"postgres": fake_analyzer})


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(policy_group, list(args), env=env)


class TestCheck:
    def test_valid(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY)
        result = run("check", str(path))
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"{path}: OK (3 rules, 2 tests; fingerprint ")
        assert result.stderr == ""

    def test_invalid(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, "version: 1\ndefault: alow\nrulez: []\n")
        result = run("check", str(path))
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"{path}:2:10: default: expected a default action: allow, deny, found 'alow'; "
            "did you mean 'allow'?",
            f"{path}:3:1: rulez: unknown key 'rulez'; did you mean 'rules'?",
            f"{path}: invalid (2 problems)",
        ]

    def test_json(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY)
        report = json.loads(run("check", "--json", str(path)).stdout)
        assert report["ok"] is True
        assert report["rules"] == ["no-drop", "pii", "prod-writes"]
        assert report["tests"] == 2
        assert len(report["fingerprint"]) == 64
        assert report["problems"] == []

    def test_json_invalid(self, tmp_path: Path) -> None:
        result = run("check", "--json", str(tmp_path / "missing.yaml"))
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert report["ok"] is False
        assert report["problems"] == [
            {
                "file": str(tmp_path / "missing.yaml"),
                "path": "",
                "line": None,
                "column": None,
                "message": "file not found",
            }
        ]


class TestTest:
    def test_all_pass(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY)
        result = run("test", str(path))
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [
            f"PASS  {path}:18: alice: DROP TABLE customers (deny by rule no-drop)",
            f"PASS  {path}:22: pii read (alert by rule pii)",
            "-" * 80,
            "PASS: 2/2",
        ]

    def test_a_failure(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY + FAILING_CASE)
        result = run("test", str(path))
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        assert lines[2] == f"FAIL  {path}:27: alice: DELETE FROM customers"
        assert lines[3] == "      expected deny, got allow by default"
        assert lines[-1] == "FAIL: 1/3"

    def test_json(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY + FAILING_CASE)
        result = run("test", "--json", str(path))
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert (report["ok"], report["passed"], report["failed"]) == (False, 2, 1)
        failed = report["cases"][2]
        assert failed["status"] == "fail"
        assert failed["line"] == 27
        assert failed["expected"] == {"action": "deny"}
        assert failed["verdict"]["action"] == "allow"
        assert failed["failure"] == "expected deny, got allow by default"
        assert report["cases"][1]["verdict"] == {
            "action": "alert",
            "rule": "pii",
            "message": None,
            "alerts": ["pii"],
            "matched": ["pii"],
        }

    def test_no_analyzer_is_an_error(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(policy_cmd, "analyzers", dict)
        path = write_policy(tmp_path, POLICY)
        result = run("test", str(path))
        assert result.exit_code == 1
        assert "ERROR" in result.stdout
        assert "no statement analyzer for protocol postgres" in result.stdout

    def test_no_cases_fails(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY.split("tests:")[0])
        result = run("test", str(path))
        assert result.exit_code == 1
        assert "no test cases" in result.stderr

    def test_invalid_policy(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, "version: 1\n")
        result = run("test", str(path))
        assert result.exit_code == 1
        assert result.stderr.splitlines()[-1] == f"{path}: invalid (1 problem)"
        result = run("test", "--json", str(path))
        assert json.loads(result.stdout)["ok"] is False


CONFIG = """\
version: 1
connections:
  - name: shop
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app}
    tags: {env: prod, data: pii}
"""


class TestExplain:
    def explain(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return run("explain", *args, env=env)

    def test_text(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY)
        result = self.explain(
            "--as", "alice", "--group", "analyst", "--connection", "shop",
            "--tag", "env=prod", "--policy", str(path),
            "--time", "2025-01-07T10:00:00+01:00", "--client-addr", "10.0.0.1",
            "DROP TABLE customers",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert "  operation   drop\n" in out
        assert "  tables      customers (write)\n" in out
        assert "  complete    yes\n" in out
        assert "Identity      alice (groups: analyst)\n" in out
        assert "Connection    shop (tags: env=prod; protocol postgres)\n" in out
        assert "Client        10.0.0.1\n" in out
        assert "Time          2025-01-07T10:00:00+01:00\n" in out
        assert "  MATCH   no-drop      deny    all conditions hold\n" in out
        assert "  -       pii          alert   tags: connection 'shop' has no tag 'data'\n" in out
        assert (
            "  -       prod-writes  review  operations: its effects (drop) include none of dml\n"
        ) in out
        assert out.endswith(
            "Decision      DENY\n  decided by  rule no-drop (deny)\n  message     no dropping\n"
        )

    def test_review_shows_the_workflow_and_alerts(self, tmp_path: Path) -> None:
        STATEMENTS["UPDATE customers SET x = 1 WHERE id = 1"] = stmt(
            "update", reads=["customers"], writes=["customers"]
        )
        path = write_policy(tmp_path, POLICY)
        result = self.explain(
            "--as", "alice", "--connection", "shop", "--tag", "env=prod", "--tag", "data=pii",
            "--policy", str(path), "UPDATE customers SET x = 1 WHERE id = 1",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "Decision      REVIEW\n" in result.stdout
        assert "  alerts      pii\n" in result.stdout
        assert "  workflow    dba\n" in result.stdout

    def test_incomplete_statement(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY)
        result = self.explain("--as", "a", "--connection", "c", "--policy", str(path), "DO $$ $$")
        assert "  complete    no\n" in result.stdout
        assert "decided by  fail-closed" in result.stdout

    def test_json(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY)
        result = self.explain(
            "--json", "--as", "alice", "--claim", "dept=ops", "--connection", "shop",
            "--policy", str(path), "SELECT * FROM customers",
        )  # fmt: skip
        report = json.loads(result.stdout)
        assert report["statement"]["operation"] == "select"
        assert report["statement"]["tables"] == [
            {"schema": None, "name": "customers", "access": "read"}
        ]
        assert report["identity"] == {"subject": "alice", "groups": [], "claims": {"dept": "ops"}}
        assert [rule["matched"] for rule in report["rules"]] == [False, False, False]
        assert report["decision"] == {
            "action": "allow",
            "rule": None,
            "message": None,
            "alerts": [],
            "matched": [],
            "decided_by": "default for connection shop: allow (no rule decided)",
        }

    def test_tags_and_policy_from_the_config(self, tmp_path: Path) -> None:
        write_policy(tmp_path, POLICY, name="rules.yaml")
        config = write_policy(tmp_path, CONFIG + "policy: {file: rules.yaml}\n", "proctor.yaml")
        result = self.explain(
            "--json", "--as", "alice", "--connection", "shop", "--config", str(config),
            "SELECT * FROM customers",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["connection"]["tags"] == {"env": "prod", "data": "pii"}
        assert report["policy"]["source"] == str(tmp_path / "rules.yaml")
        assert report["decision"]["action"] == "alert"

    def test_tag_option_overrides_the_config(self, tmp_path: Path) -> None:
        write_policy(tmp_path, POLICY, name="rules.yaml")
        config = write_policy(tmp_path, CONFIG + "policy: {file: rules.yaml}\n", "proctor.yaml")
        result = self.explain(
            "--json", "--as", "a", "--connection", "shop", "--config", str(config),
            "--tag", "data=none", "SELECT * FROM customers",
        )  # fmt: skip
        report = json.loads(result.stdout)
        assert report["connection"]["tags"] == {"env": "prod", "data": "none"}
        assert report["decision"]["action"] == "allow"

    def test_config_without_policy_uses_the_builtin(self, tmp_path: Path) -> None:
        config = write_policy(tmp_path, CONFIG, "proctor.yaml")
        result = self.explain(
            "--json", "--as", "a", "--connection", "shop", "DROP TABLE customers",
            env={"PROCTOR_CONFIG": str(config)},
        )  # fmt: skip
        report = json.loads(result.stdout)
        assert report["policy"]["source"] == "<built-in policy>"
        assert report["decision"]["action"] == "allow"

    def test_explicit_policy_with_config_tags(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, POLICY)
        config = write_policy(tmp_path, CONFIG, "proctor.yaml")
        result = self.explain(
            "--json", "--as", "a", "--connection", "shop", "--config", str(config),
            "--policy", str(path), "SELECT * FROM customers",
        )  # fmt: skip
        report = json.loads(result.stdout)
        assert report["policy"]["source"] == str(path)
        assert report["decision"]["rule"] == "pii"

    def test_unknown_connection_in_config(self, tmp_path: Path) -> None:
        config = write_policy(tmp_path, CONFIG, "proctor.yaml")
        result = self.explain("--as", "a", "--connection", "nope", "--config", str(config), "x")
        assert result.exit_code == 2
        assert "no connection named 'nope'" in result.stderr
        assert "(connections: shop)" in result.stderr

    def test_invalid_config(self, tmp_path: Path) -> None:
        config = write_policy(tmp_path, "version: 3\n", "proctor.yaml")
        result = self.explain("--as", "a", "--connection", "c", "--config", str(config), "x")
        assert result.exit_code == 1
        assert "version: expected 1" in result.stderr

    def test_invalid_configured_policy(self, tmp_path: Path) -> None:
        write_policy(tmp_path, "version: 1\n", name="rules.yaml")
        config = write_policy(tmp_path, CONFIG + "policy: {file: rules.yaml}\n", "proctor.yaml")
        result = self.explain("--as", "a", "--connection", "shop", "--config", str(config), "x")
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            f"{tmp_path / 'rules.yaml'}:1:1: default: required key is missing",
            f"{tmp_path / 'rules.yaml'}: invalid (1 problem)",
        ]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--tag", "env"], "--tag expects KEY=VALUE, got 'env'"),
            (["--claim", "=x"], "--claim expects KEY=VALUE, got '=x'"),
            (["--time", "tomorrow"], "--time expects an ISO 8601 date and time"),
            (["--time", "2025-01-07T10:00:00"], "--time needs a UTC offset"),
        ],
    )
    def test_bad_options(self, tmp_path: Path, args: list[str], message: str) -> None:
        path = write_policy(tmp_path, POLICY)
        result = self.explain(
            "--as", "a", "--connection", "c", "--policy", str(path), *args, "DO $$ $$"
        )
        assert result.exit_code == 2
        assert message in result.stderr

    def test_no_analyzer(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(policy_cmd, "analyzers", dict)
        path = write_policy(tmp_path, POLICY)
        result = self.explain("--as", "a", "--connection", "c", "--policy", str(path), "x")
        assert result.exit_code == 1
        assert "no statement analyzer for protocol postgres" in result.stderr


def test_analyzers_finds_the_sql_analyzer_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    found = policy_cmd.analyzers()
    try:
        import proctor.sql  # noqa: F401
    except ImportError:
        assert found == {}
    else:
        assert set(found) == {"postgres"}


def test_help_mentions_the_docs() -> None:
    assert "docs/policy.md" in textwrap.dedent(run("--help").stdout)
