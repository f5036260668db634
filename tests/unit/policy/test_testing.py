"""Running a policy's own test cases (``tests:``) with a supplied analyzer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from proctor.model import Statement
from proctor.policy import Policy, run_policy_tests

from .helpers import rule, stmt

STATEMENTS = {
    "DROP TABLE t": stmt("drop", writes=["t"]),
    "SELECT * FROM customers": stmt(reads=["customers"]),
    "DELETE FROM t WHERE id = 1": stmt("delete", writes=["t"]),
}


def fake_analyzer(text: str) -> Statement:
    if text == "boom":
        raise RuntimeError("parser exploded")
    return STATEMENTS[text]


def policy_with(*cases: dict[str, object]) -> Policy:
    return Policy.from_dict(
        {
            "version": 1,
            "default": "allow",
            "rules": [
                rule("no-drop", operations="drop", unless={"groups": "admin"}),
                rule("pii", "alert", tables="customers"),
                rule("night", "deny", operations="delete", time={"hours": "22:00-06:00"}),
                rule(
                    "office",
                    "review",
                    operations="delete",
                    unless={"client_addresses": "10.0.0.0/8"},
                ),
                rule("finance", "deny", operations="delete", claims={"dept": "finance"}),
                rule("prod", "deny", operations="delete", tags={"env": "prod"}),
            ],
            "tests": list(cases),
        }
    )


def case(statement: str, expect: object, **extra: object) -> dict[str, object]:
    return {"statement": statement, "as": "alice", "connection": "shop", "expect": expect, **extra}


def run(*cases: dict[str, object]) -> list[tuple[bool, str | None]]:
    results = run_policy_tests(policy_with(*cases), {"postgres": fake_analyzer})
    return [(result.passed, result.failure) for result in results]


def test_passing_cases() -> None:
    assert (
        run(
            case("DROP TABLE t", "deny"),
            case("DROP TABLE t", {"action": "deny", "rule": "no-drop"}),
            case(
                "DROP TABLE t",
                {"action": "allow", "rule": "default"},
                **{"as": {"subject": "root", "groups": ["admin"]}},
            ),
            case("SELECT * FROM customers", {"action": "alert", "rule": "pii", "alerts": ["pii"]}),
        )
        == [(True, None)] * 4
    )


def test_failing_action_and_rule() -> None:
    assert run(
        case("DROP TABLE t", "allow"),
        case("DROP TABLE t", {"action": "deny", "rule": "pii"}),
        case("SELECT * FROM customers", {"action": "alert", "rule": "default"}),
    ) == [
        (False, "expected allow, got deny by rule no-drop"),
        (False, "expected deny by rule pii, got deny by rule no-drop"),
        (False, "expected alert by default, got alert by rule pii"),
    ]


def test_failing_alerts() -> None:
    assert run(case("DROP TABLE t", {"action": "deny", "alerts": ["pii"]})) == [
        (False, "expected alerts pii, got none")
    ]
    assert run(case("SELECT * FROM customers", {"action": "alert", "alerts": []})) == [
        (False, "expected alerts none, got pii")
    ]


def test_time_client_addr_claims_and_tags_are_used() -> None:
    day = "2025-01-07T12:00:00+00:00"
    night = "2025-01-07T23:00:00+00:00"
    assert (
        run(
            case("DELETE FROM t WHERE id = 1", {"action": "review", "rule": "office"}, time=day),
            case("DELETE FROM t WHERE id = 1", {"action": "deny", "rule": "night"}, time=night),
            case("DELETE FROM t WHERE id = 1", "allow", time=day, client_addr="10.1.1.1"),
            case(
                "DELETE FROM t WHERE id = 1",
                {"action": "deny", "rule": "finance"},
                time=day,
                client_addr="10.1.1.1",
                **{"as": {"subject": "f", "claims": {"dept": "finance"}}},
            ),
            case(
                "DELETE FROM t WHERE id = 1",
                {"action": "deny", "rule": "prod"},
                time=day,
                client_addr="10.1.1.1",
                connection={"name": "db", "tags": {"env": "prod"}},
            ),
        )
        == [(True, None)] * 5
    )


def test_cases_that_cannot_run_are_errors() -> None:
    results = run_policy_tests(
        policy_with(case("boom", "deny"), case("DROP TABLE t", "deny", protocol="mysql")),
        {"postgres": fake_analyzer},
    )
    assert [(r.passed, r.errored, r.failure) for r in results] == [
        (False, True, "the analyzer failed: parser exploded"),
        (False, True, "no statement analyzer for protocol mysql"),
    ]


def test_results_carry_the_case_and_statement() -> None:
    (result,) = run_policy_tests(
        policy_with(case("DROP TABLE t", "deny")), {"postgres": fake_analyzer}
    )
    assert result.index == 0
    assert result.statement == STATEMENTS["DROP TABLE t"]
    assert result.verdict is not None and result.verdict.rule == "no-drop"
    assert result.case.title == "alice: DROP TABLE t"


@pytest.mark.parametrize("moment", [None, datetime(2025, 1, 7, tzinfo=UTC)])
def test_without_time_the_case_runs_now(moment: datetime | None) -> None:
    extra = {"time": moment.isoformat()} if moment else {}
    assert run(case("DROP TABLE t", "deny", **extra)) == [(True, None)]
