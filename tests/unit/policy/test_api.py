"""Small public pieces: context, connections, from_dict inputs, explain's wording limits."""

from __future__ import annotations

from datetime import UTC, datetime

from proctor.model import Action
from proctor.policy import DecisionContext, Policy, make_connection

from .helpers import conn, ctx, policy, rule, stmt, who


def test_context_defaults_to_now_in_utc() -> None:
    context = DecisionContext()
    assert context.now.tzinfo is UTC
    assert abs((datetime.now(UTC) - context.now).total_seconds()) < 60
    assert (context.client_addr, context.protocol) == (None, "postgres")


def test_make_connection_carries_name_tags_protocol() -> None:
    connection = make_connection("db", {"env": "prod"}, "mysql")
    assert (connection.name, dict(connection.tags), connection.protocol) == (
        "db",
        {"env": "prod"},
        "mysql",
    )
    assert dict(make_connection("x").tags) == {}


def test_from_dict_accepts_tuples_and_nested_mappings() -> None:
    p = Policy.from_dict(
        {
            "version": 1,
            "default": "deny",
            "rules": ({"name": "reads", "action": "allow", "match": {"operations": ("select",)}},),
        }
    )
    assert p.decide(stmt(), who(), conn(), ctx()).action is Action.ALLOW


def test_long_lists_are_shortened_in_explanations() -> None:
    names = [f"f{n}" for n in range(12)]
    p = policy([rule("r", functions=names)])
    (trace,) = p.explain(stmt(), who(), conn(), ctx()).rules
    assert trace.reason == (
        "functions: no function matches f0, f1, f2, f3, f4, f5, f6, f7, ... (4 more) (functions: -)"
    )


NOT_MATCHING = [
    ({"subjects": "bob"}, "subjects: subject 'alice' is not one of bob"),
    ({"groups": "admin"}, "groups: alice is in none of the groups admin (their groups: -)"),
    ({"claims": {"dept": "ops"}}, "claims: alice has no claim 'dept'"),
    ({"connections": "prod-*"}, "connections: connection 'shop' is not one of prod-*"),
    ({"tags": {"env": "prod"}}, "tags: connection 'shop' has no tag 'env'"),
    ({"protocols": "mysql"}, "protocols: protocol postgres is not one of mysql"),
    ({"operations": "drop"}, "operations: its effects (select) include none of drop"),
    (
        {"only_operations": "insert"},
        "only_operations: it also does select, which is not among insert",
    ),
    (
        {"tables": {"names": "t", "access": "write"}},
        "tables: no table with write access matches t (tables: -)",
    ),
    ({"functions": "f"}, "functions: no function matches f (functions: -)"),
    ({"features": "set_role"}, "features: it uses none of set_role (features: -)"),
    ({"settings": "role"}, "settings: it changes no setting matching role (settings: -)"),
    ({"unfiltered": True}, "unfiltered: no DELETE/UPDATE without WHERE"),
    ({"complete": False}, "complete: the statement was fully analyzed"),
    (
        {"client_addresses": "10.0.0.0/8"},
        "client_addresses: client address 8.8.8.8 is in none of 10.0.0.0/8",
    ),
    ({"time": {"days": "sat"}}, "time: 2025-01-07T10:00:00+00:00 is outside sat 00:00-24:00 UTC"),
    ({"text": "drop"}, "text: the text does not match /drop/"),
]


def test_every_condition_says_why_it_failed() -> None:
    for match, reason in NOT_MATCHING:
        p = policy([rule("r", **match)])
        (trace,) = p.explain(stmt(text="select 1"), who(), conn(), ctx(client_addr="8.8.8.8")).rules
        assert (trace.matched, trace.reason) == (False, reason), match


def test_failing_claims_and_tags_values() -> None:
    p = policy([rule("r", claims={"dept": "ops"}), rule("t", tags={"env": "prod"})])
    traces = p.explain(stmt(), who("a", dept="hr"), conn(env="dev"), ctx()).rules
    assert traces[0].reason == "claims: claim 'dept' is 'hr', not one of ops"
    assert traces[1].reason == "tags: tag env is 'dev', not one of prod"


def test_unsure_reasons() -> None:
    p = policy([rule("a", "allow", client_addresses="10.0.0.0/8"), rule("u", unfiltered=False)])
    traces = p.explain(stmt("delete", unfiltered=["delete"]), who(), conn(), ctx()).rules
    assert traces[0].reason == (
        "client_addresses: the client address is unknown (counted as not matching for this rule)"
    )
    assert traces[1].reason == "unfiltered: it has delete without WHERE"
