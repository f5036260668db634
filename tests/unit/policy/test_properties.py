"""Properties over generated policies: order never changes the action; explain agrees."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.model import Action, Statement
from proctor.policy import Policy, all_alerts

from .helpers import conn, ctx, rule, stmt, who

RULES: list[dict[str, Any]] = [
    rule("no-ddl", operations="ddl", unless={"groups": "admin"}),
    rule("no-unfiltered", unfiltered=True),
    rule("hold-writes", "review", operations="dml"),
    rule("reads", "allow", only_operations=["select", "explain"]),
    rule("admin-all", "allow", groups="admin"),
    rule("admin-do", "allow", groups="admin", complete=False),
    rule("pii", "alert", tables="customers"),
    rule("prod", "deny", tags={"env": "prod"}, operations="write"),
    rule("office", "alert", unless={"client_addresses": "10.0.0.0/8"}),
    rule("late", "review", time={"hours": "20:00-06:00"}, operations="write"),
]
STATEMENTS: list[Statement] = [
    stmt(reads=["customers"]),
    stmt("select", effects=["delete"], writes=["orders"], unfiltered=["delete"]),
    stmt("update", writes=["orders"]),
    stmt("drop", writes=["customers"]),
    stmt("do", complete=False),
    stmt("explain", effects=["select"], reads=["orders"]),
    stmt("copy", reads=["customers"]),
]
IDENTITIES = [who("alice", "analyst"), who("root", "admin"), who("bob")]
CONNECTIONS = [conn("shop", env="demo"), conn("db", env="prod")]
CONTEXTS = [ctx(client_addr="10.1.1.1"), ctx(client_addr=None), ctx(client_addr="8.8.8.8")]

subsets = st.lists(st.sampled_from(RULES), unique_by=lambda r: r["name"], max_size=len(RULES))
inputs = st.tuples(
    st.sampled_from(STATEMENTS),
    st.sampled_from(IDENTITIES),
    st.sampled_from(CONNECTIONS),
    st.sampled_from(CONTEXTS),
)


def build(rules: list[dict[str, Any]], default: str) -> Policy:
    return Policy.from_dict({"version": 1, "default": default, "rules": rules})


@settings(max_examples=150, deadline=None)
@given(rules=subsets, default=st.sampled_from(["allow", "deny"]), data=st.data())
def test_rule_order_never_changes_the_action(
    rules: list[dict[str, Any]], default: str, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(rules))
    statement, identity, connection, context = data.draw(inputs)
    one = build(rules, default).decide(statement, identity, connection, context)
    other = build(shuffled, default).decide(statement, identity, connection, context)
    assert one.action is other.action
    assert set(one.matched) == set(other.matched)
    assert set(all_alerts(one)) == set(all_alerts(other))
    if one.action is Action.DENY and one.rule is None:
        assert other.rule is None  # the default decided both times


@settings(max_examples=150, deadline=None)
@given(rules=subsets, default=st.sampled_from(["allow", "deny"]), args=inputs)
def test_explain_agrees_with_decide_and_decisions_repeat(
    rules: list[dict[str, Any]], default: str, args: tuple[Any, ...]
) -> None:
    policy = build(rules, default)
    first = policy.decide(*args)
    assert policy.decide(*args) == first  # remembered results give the same verdict
    explanation = policy.explain(*args)
    assert explanation.verdict == first
    assert tuple(t.name for t in explanation.rules if t.matched) == first.matched


@settings(max_examples=100, deadline=None)
@given(rules=subsets, args=inputs)
def test_incomplete_statements_are_only_allowed_by_explicit_rules(
    rules: list[dict[str, Any]], args: tuple[Any, ...]
) -> None:
    _, identity, connection, context = args
    verdict = build(rules, "allow").decide(
        stmt("do", complete=False), identity, connection, context
    )
    if verdict.allowed:
        assert "admin-do" in verdict.matched
