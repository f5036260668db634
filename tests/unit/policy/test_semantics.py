"""How matching rules combine, defaults, fail-closed, explain, fingerprints."""

from __future__ import annotations

import itertools

import pytest

from proctor.model import Action, Verdict
from proctor.policy import FAIL_CLOSED, FAIL_CLOSED_MESSAGE, Policy
from proctor.policy.engine import DEFAULT_DENY_MESSAGE

from .helpers import conn, ctx, policy, rule, stmt, who

ANY = who("alice", "analyst")
SHOP = conn("shop", env="demo")


def decide(p: Policy, s: object = None, i: object = None, c: object = None) -> Verdict:
    verdict = p.decide(s or stmt(), i or ANY, c or SHOP, ctx())  # type: ignore[arg-type]
    explained = p.explain(s or stmt(), i or ANY, c or SHOP, ctx())  # type: ignore[arg-type]
    assert explained.verdict == verdict
    return verdict


class TestMostRestrictiveWins:
    def test_deny_beats_review_beats_allow_whatever_the_order(self) -> None:
        rules = [rule("a", "allow"), rule("r", "review"), rule("d", "deny")]
        for order in itertools.permutations(rules):
            verdict = decide(policy(order))
            assert (verdict.action, verdict.rule) == (Action.DENY, "d")

    def test_review_beats_allow(self) -> None:
        for order in itertools.permutations([rule("a", "allow"), rule("r", "review")]):
            assert decide(policy(order)).action is Action.REVIEW

    def test_the_first_rule_in_file_order_names_the_decision(self) -> None:
        verdict = decide(policy([rule("d1"), rule("d2"), rule("r1", "review")]))
        assert verdict.rule == "d1"
        assert verdict.message == "d1 says no"
        verdict = decide(policy([rule("r1", "review"), rule("r2", "review")]))
        assert (verdict.action, verdict.rule, verdict.message) == (
            Action.REVIEW,
            "r1",
            "r1 says no",
        )
        verdict = decide(policy([rule("a1", "allow"), rule("a2", "allow")]))
        assert (verdict.action, verdict.rule, verdict.message) == (Action.ALLOW, "a1", None)

    def test_matched_lists_every_matching_rule_in_file_order(self) -> None:
        p = policy(
            [
                rule("a", "allow"),
                rule("miss", operations="drop"),
                rule("d"),
                rule("al", "alert"),
                rule("r", "review"),
            ]
        )
        assert decide(p).matched == ("a", "d", "al", "r")

    def test_no_match_is_an_empty_list(self) -> None:
        assert decide(policy([rule("miss", operations="drop")])).matched == ()


class TestAlerts:
    def test_alert_marks_an_allowed_statement(self) -> None:
        p = policy([rule("a", "allow"), rule("al1", "alert"), rule("al2", "alert")])
        verdict = decide(p)
        assert (verdict.action, verdict.rule, verdict.alerts) == (Action.ALERT, "al1", ("al2",))
        assert verdict.allowed

    def test_alert_message(self) -> None:
        p = policy([{"name": "al", "action": "alert", "message": "pii", "match": {}}])
        assert decide(p).message == "pii"

    def test_alert_on_the_default_allow(self) -> None:
        verdict = decide(policy([rule("al", "alert")]))
        assert (verdict.action, verdict.rule, verdict.alerts) == (Action.ALERT, "al", ())

    def test_alerts_never_grant(self) -> None:
        verdict = decide(policy([rule("al", "alert")], default="deny"))
        assert (verdict.action, verdict.rule, verdict.alerts) == (Action.DENY, None, ("al",))

    def test_alerts_are_listed_on_deny_and_review(self) -> None:
        verdict = decide(policy([rule("al", "alert"), rule("d")]))
        assert (verdict.action, verdict.rule, verdict.alerts) == (Action.DENY, "d", ("al",))
        verdict = decide(policy([rule("al", "alert"), rule("r", "review")]))
        assert (verdict.action, verdict.alerts) == (Action.REVIEW, ("al",))


class TestDefaults:
    def test_global_default(self) -> None:
        assert decide(policy(default="allow")) == Verdict(Action.ALLOW)
        verdict = decide(policy(default="deny"))
        assert (verdict.action, verdict.rule, verdict.message) == (
            Action.DENY,
            None,
            DEFAULT_DENY_MESSAGE,
        )

    def test_an_allow_rule_overrides_a_deny_default(self) -> None:
        verdict = decide(policy([rule("reads", "allow", operations="select")], default="deny"))
        assert (verdict.action, verdict.rule) == (Action.ALLOW, "reads")

    def test_connection_defaults_by_tag_and_name_first_match_wins(self) -> None:
        p = policy(
            default="allow",
            connection_defaults=[
                {"tags": {"env": "prod"}, "default": "deny"},
                {"connections": ["pg-*"], "default": "allow"},
                {"connections": ["pg-*", "legacy"], "default": "deny"},
            ],
        )
        assert decide(p, c=conn("pg-prod", env="prod")).action is Action.DENY
        assert decide(p, c=conn("pg-dev", env="dev")).action is Action.ALLOW
        assert decide(p, c=conn("legacy")).action is Action.DENY
        assert decide(p, c=conn("other")).action is Action.ALLOW

    def test_connection_default_needs_both_name_and_tags_when_both_given(self) -> None:
        p = policy(
            default="allow",
            connection_defaults=[
                {"connections": "pg-*", "tags": {"env": "prod"}, "default": "deny"}
            ],
        )
        assert decide(p, c=conn("pg-a", env="prod")).action is Action.DENY
        assert decide(p, c=conn("pg-a", env="dev")).action is Action.ALLOW
        assert decide(p, c=conn("x", env="prod")).action is Action.ALLOW

    def test_default_applies_after_alert_only_matches_per_connection(self) -> None:
        p = policy(
            [rule("al", "alert")],
            connection_defaults=[{"tags": {"env": "prod"}, "default": "deny"}],
        )
        assert decide(p, c=conn(env="prod")).action is Action.DENY
        assert decide(p, c=conn(env="dev")).action is Action.ALERT

    def test_explain_names_the_default_source(self) -> None:
        p = policy(connection_defaults=[{"tags": {"env": "prod"}, "default": "deny"}])
        prod = p.explain(stmt(), ANY, conn("db", env="prod"), ctx())
        assert prod.decided_by == (
            "connection_defaults[0] for connection db: deny (no rule decided)"
        )
        dev = p.explain(stmt(), ANY, conn("db"), ctx())
        assert dev.decided_by == "default for connection db: allow (no rule decided)"


class TestFailClosed:
    INCOMPLETE = stmt("do", complete=False)

    def test_incomplete_statements_are_denied_by_default(self) -> None:
        for default in ("allow", "deny"):
            verdict = decide(policy(default=default), self.INCOMPLETE)
            assert (verdict.action, verdict.rule, verdict.message) == (
                Action.DENY,
                FAIL_CLOSED,
                FAIL_CLOSED_MESSAGE,
            )

    @pytest.mark.parametrize(
        "statement",
        [stmt("unknown"), stmt("select", effects=["unknown"]), stmt("select", complete=False)],
    )
    def test_unknown_operations_count_as_incomplete(self, statement: object) -> None:
        assert decide(policy(), statement).rule == FAIL_CLOSED

    def test_allow_rules_without_complete_false_do_not_count(self) -> None:
        p = policy([rule("everything", "allow"), rule("do-blocks", "allow", operations="do")])
        verdict = decide(p, self.INCOMPLETE)
        assert (verdict.action, verdict.rule) == (Action.DENY, FAIL_CLOSED)
        assert verdict.matched == ("everything", "do-blocks")

    def test_an_explicit_complete_false_allow_rule_allows(self) -> None:
        p = policy([rule("admin-do", "allow", complete=False, groups="admin")])
        verdict = decide(p, self.INCOMPLETE, who("root", "admin"))
        assert (verdict.action, verdict.rule) == (Action.ALLOW, "admin-do")
        assert decide(p, self.INCOMPLETE, who("x")).rule == FAIL_CLOSED

    def test_an_explicit_complete_false_review_rule_holds(self) -> None:
        p = policy([rule("hold-do", "review", complete=False)])
        verdict = decide(p, self.INCOMPLETE)
        assert (verdict.action, verdict.rule) == (Action.REVIEW, "hold-do")

    def test_a_matching_deny_rule_names_itself(self) -> None:
        p = policy([rule("no-do", operations="do")])
        assert decide(p, self.INCOMPLETE).rule == "no-do"

    def test_deny_still_beats_an_explicit_allow(self) -> None:
        p = policy([rule("ok", "allow", complete=False), rule("no-do", operations="do")])
        assert decide(p, self.INCOMPLETE).rule == "no-do"

    def test_alert_rules_do_not_grant_incomplete_statements(self) -> None:
        p = policy([rule("al", "alert", complete=False)])
        verdict = decide(p, self.INCOMPLETE)
        assert (verdict.action, verdict.rule, verdict.alerts) == (
            Action.DENY,
            FAIL_CLOSED,
            ("al",),
        )

    def test_explain_shows_ignored_rules(self) -> None:
        p = policy([rule("everything", "allow")])
        explanation = p.explain(self.INCOMPLETE, ANY, SHOP, ctx())
        (trace,) = explanation.rules
        assert trace.matched and not trace.counted
        assert "complete: false" in trace.reason
        assert explanation.incomplete
        assert explanation.decided_by.startswith("fail-closed")

    def test_complete_statements_are_unaffected(self) -> None:
        assert decide(policy([rule("everything", "allow")], default="deny")).rule == "everything"


class TestExplain:
    def test_why_not_is_the_first_failing_condition(self) -> None:
        p = policy([rule("r", groups="admin", operations="drop")])
        (trace,) = p.explain(stmt("select"), who("bob"), SHOP, ctx()).rules
        assert not trace.matched
        assert trace.reason == "groups: bob is in none of the groups admin (their groups: -)"
        (trace,) = p.explain(stmt("select"), who("bob", "admin"), SHOP, ctx()).rules
        assert trace.reason == "operations: its effects (select) include none of drop"

    def test_exempting_unless_block_is_named(self) -> None:
        p = policy([rule("r", unless=[{"subjects": "x"}, {"groups": "admin"}])])
        (trace,) = p.explain(stmt(), who("bob", "admin"), SHOP, ctx()).rules
        assert trace.reason == "unless[1] holds (groups: admin)"

    def test_decided_by(self) -> None:
        p = policy([rule("d")])
        assert p.explain(stmt(), ANY, SHOP, ctx()).decided_by == "rule d (deny)"


class TestRemembering:
    """Decisions reuse per-statement results and verdicts; they must never mix them up."""

    def test_same_statement_different_identities(self) -> None:
        p = policy([rule("no-drop", operations="drop", unless={"groups": "admin"})])
        drop = stmt("drop")
        for _ in range(3):
            assert p.decide(drop, who("a"), SHOP, ctx()).action is Action.DENY
            assert p.decide(drop, who("b", "admin"), SHOP, ctx()).action is Action.ALLOW

    def test_equal_but_distinct_statements_and_many_statements(self) -> None:
        p = policy([rule("no-drop", operations="drop")])
        statements = [stmt("drop" if n % 2 else "select", text=f"s{n}") for n in range(5000)]
        for n, statement in enumerate(statements):
            expected = Action.DENY if n % 2 else Action.ALLOW
            assert p.decide(statement, ANY, SHOP, ctx()).action is expected

    def test_verdicts_are_shared_for_equal_outcomes(self) -> None:
        p = policy([rule("d", operations="drop")])
        first = p.decide(stmt("drop"), ANY, SHOP, ctx())
        assert p.decide(stmt("drop"), who("other"), conn("x"), ctx()) is first

    def test_connection_default_is_per_connection_even_when_remembered(self) -> None:
        p = policy(
            [rule("al", "alert")],
            connection_defaults=[{"connections": "prod", "default": "deny"}],
        )
        s = stmt()
        assert p.decide(s, ANY, conn("prod"), ctx()).action is Action.DENY
        assert p.decide(s, ANY, conn("dev"), ctx()).action is Action.ALERT
        assert p.decide(s, ANY, conn("prod"), ctx()).action is Action.DENY


class TestFingerprint:
    BASE = [rule("d", operations=["drop"], tables=["customers"])]

    def test_stable_and_hex(self) -> None:
        assert policy(self.BASE).fingerprint() == policy(self.BASE).fingerprint()
        assert len(policy(self.BASE).fingerprint()) == 64

    def test_changes_with_the_rules(self) -> None:
        other = [rule("d", operations=["drop"], tables=["orders"])]
        assert policy(self.BASE).fingerprint() != policy(other).fingerprint()
        assert policy(self.BASE).fingerprint() != policy(self.BASE, default="deny").fingerprint()

    def test_shorthands_and_case_do_not_change_it(self) -> None:
        spelt = [rule("d", operations="DROP", tables={"names": "customers", "access": "any"})]
        assert policy(self.BASE).fingerprint() == policy(spelt).fingerprint()

    def test_tests_are_not_part_of_it(self) -> None:
        case = {"statement": "x", "as": "a", "connection": "c", "expect": "deny"}
        assert policy(self.BASE).fingerprint() == policy(self.BASE, tests=[case]).fingerprint()

    def test_builtin(self) -> None:
        builtin = Policy.builtin()
        assert builtin.rules == ()
        assert builtin.decide(stmt("drop"), ANY, SHOP, ctx()) == Verdict(Action.ALLOW)
        assert builtin.decide(stmt("do", complete=False), ANY, SHOP, ctx()).rule == FAIL_CLOSED
        assert builtin.fingerprint() == Policy.builtin().fingerprint()


def test_rule_lookup_and_workflow() -> None:
    p = policy(
        [
            {
                "name": "hold",
                "action": "review",
                "message": "wait",
                "review": {"workflow": "dba-approval"},
                "match": {},
            },
            rule("d"),
        ]
    )
    hold = p.rule("hold")
    assert hold is not None and hold.workflow == "dba-approval" and hold.message == "wait"
    assert p.rule("d") is not None and p.rule("d").workflow is None  # type: ignore[union-attr]
    assert p.rule("nope") is None
    assert [r.name for r in p.rules] == ["hold", "d"]
