"""The demo policy and the production starter policy: valid, and their own tests pass."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from proctor.cli.policy_cmd import policy_group
from proctor.model import Action
from proctor.policy import Policy, run_policy_tests

from .helpers import conn, ctx, stmt, who

ROOT = Path(__file__).resolve().parents[3]
DEMO = Path(str(resources.files("proctor.demo").joinpath("policy.yaml")))
PRODUCTION = ROOT / "examples" / "policies" / "production.yaml"
SHIPPED = [DEMO, PRODUCTION]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_valid_and_tested(path: Path) -> None:
    policy = Policy.load(path)
    assert policy.rules
    assert len(policy.document.tests) >= 20


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_own_tests_pass_with_the_sql_analyzer(path: Path) -> None:
    sql = pytest.importorskip("proctor.sql")
    results = run_policy_tests(Policy.load(path), {"postgres": sql.analyze_postgres})
    failures = [f"{r.case.title}: {r.failure}" for r in results if not r.passed]
    assert failures == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_policy_test_command(path: Path) -> None:
    pytest.importorskip("proctor.sql")
    result = CliRunner().invoke(policy_group, ["test", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("PASS: ")


def test_demo_policy_is_package_data() -> None:
    assert DEMO.is_file()
    assert DEMO.parent.name == "demo"


class TestDemoPolicyWithoutTheAnalyzer:
    """The demo's promises, on hand-built statements (independent of the SQL analyzer)."""

    policy = Policy.load(DEMO)
    shop = conn("shop", env="demo", data="pii")
    alice = who("alice", "analyst")
    admin = who("admin", "admin")

    def action(self, statement: object, identity: object = None, connection: object = None) -> str:
        verdict = self.policy.decide(
            statement,  # type: ignore[arg-type]
            identity or self.alice,  # type: ignore[arg-type]
            connection or self.shop,  # type: ignore[arg-type]
            ctx(),
        )
        return f"{verdict.action.value}:{verdict.rule}"

    def test_alice(self) -> None:
        assert self.action(stmt("drop", writes=["customers"])) == "deny:no-schema-changes"
        assert self.action(stmt("truncate", writes=["orders"])) == "deny:no-schema-changes"
        assert self.action(stmt("alter", writes=["orders"])) == "deny:no-schema-changes"
        cte = stmt("select", effects=["delete"], writes=["orders"], unfiltered=["delete"])
        assert self.action(cte) == "deny:no-unfiltered-writes"
        assert self.action(stmt("do", complete=False)) == "deny:refuse-unclassified"
        filtered = stmt("update", writes=["payments"])
        assert self.action(filtered) == "review:writes-need-approval"
        assert self.action(stmt(reads=["customers"])) == "alert:pii-read"
        assert self.action(stmt(reads=["orders"])) == "allow:None"

    def test_review_carries_a_workflow(self) -> None:
        hold = self.policy.rule("writes-need-approval")
        assert hold is not None and hold.action is Action.REVIEW and hold.workflow

    def test_admin(self) -> None:
        assert self.action(stmt("drop", writes=["x"]), self.admin) == "allow:None"
        prod = conn("shop-prod", env="prod")
        assert self.action(stmt("drop", writes=["x"]), self.admin, prod) == (
            "deny:admin-no-ddl-on-prod"
        )
        unfiltered = stmt("delete", writes=["orders"], unfiltered=["delete"])
        assert self.action(unfiltered, self.admin) == "deny:no-unfiltered-writes"
