"""Texts that differ only in constants share an analysis only where that is sound."""

from __future__ import annotations

import random

import pytest

from proctor.model import Operation
from proctor.sql import analyze_postgres
from proctor.sql.templates import TemplateAnalyzer

SHAPES = [
    "SELECT abalance FROM pgbench_accounts WHERE aid = {n}",
    "select c.email from customers c join orders o on o.customer_id = c.id where o.total > {n}",
    "insert into audit (id, note) values ({n}, 'note {n}')",
    "select pg_read_file('/tmp/{n}')",
    "select * from t where a in ({n}, {n}) limit {n}",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_template_results_equal_full_analysis(shape: str) -> None:
    analyzer = TemplateAnalyzer()
    rng = random.Random(3)
    for _ in range(20):
        text = shape.format(n=rng.randint(0, 10**6))
        assert analyzer.analyze(text) == analyze_postgres(text)
    assert analyzer.template_hits >= 15


@pytest.mark.parametrize(
    "texts",
    [
        ["delete from t where id = 5", "delete from t where 1 = 1"],
        ["update t set a = 1 where id = 2", "update t set a = 1 where 2 = 2"],
        ["delete from t where id = 5", "delete from t where true"],
    ],
)
def test_writes_are_never_shared(texts: list[str]) -> None:
    analyzer = TemplateAnalyzer()
    results = [analyzer.analyze(t) for t in texts]
    assert analyzer.template_hits == 0
    assert results[-1].unfiltered == frozenset({Operation.DELETE}) or results[
        -1
    ].unfiltered == frozenset({Operation.UPDATE})


def test_redacted_and_incomplete_statements_are_not_shared() -> None:
    analyzer = TemplateAnalyzer()
    for secret in ("s3cret", "other"):
        statement = analyzer.analyze(f"create role r password '{secret}'")
        assert secret not in statement.redacted_text
    for body in ("begin null; end", "begin perform 1; end"):
        assert not analyzer.analyze(f"do $$ {body} $$").complete
    assert analyzer.template_hits == 0


def test_unparseable_text_goes_to_the_full_analyzer() -> None:
    statement = TemplateAnalyzer().analyze("selec broken")
    assert statement.operation is Operation.UNKNOWN and not statement.complete


@pytest.mark.parametrize(
    "texts",
    [
        # the constant is the setting's name: SET ROLE through set_config
        [
            "select set_config('work_mem', '1MB', false)",
            "select set_config('role', 'postgres', false)",
        ],
        [
            "select pg_catalog.set_config('a.b', 'x', true)",
            "select pg_catalog.set_config('role', 'x', true)",
        ],
        # the constant is a connection string: with a password it must be redacted
        ["select dblink_connect('c1')", "select dblink_connect('host=db password=hunter2')"],
    ],
)
def test_constants_that_change_the_analysis_are_never_shared(texts: list[str]) -> None:
    analyzer = TemplateAnalyzer()
    for text in texts:
        assert analyzer.analyze(text) == analyze_postgres(text)
    assert analyzer.template_hits == 0
    assert "hunter2" not in analyzer.analyze(texts[-1]).redacted_text


def test_backslashes_with_standard_conforming_strings_off_are_never_shared() -> None:
    analyzer = TemplateAnalyzer()
    analyzer.analyze("select 'x' || 'y'")
    hidden = "select 'a\\' || $$' ; delete from t; -- $$"
    statement = analyzer.analyze(hidden, standard_conforming_strings=False)
    assert not statement.complete
    assert analyzer.template_hits == 0


def test_policy_decides_once_per_template_unless_a_rule_reads_the_text() -> None:
    """The policy remembers per shared analysis; a `text` rule still sees each constant."""
    from proctor.model import Identity
    from proctor.policy import DecisionContext, Policy, make_connection

    alice = Identity("alice", frozenset({"analyst"}))
    shop = make_connection("shop")
    context = DecisionContext()
    shared = Policy.from_dict({"version": 1, "default": "allow", "rules": []})
    analyzer = TemplateAnalyzer()
    for n in range(50):
        statement = analyzer.analyze(f"SELECT abalance FROM pgbench_accounts WHERE aid = {n}")
        assert shared.decide(statement, alice, shop, context).allowed
    assert analyzer.template_hits == 49
    assert len(shared._by_statement) == 1  # one entry for the 50 texts

    by_text = Policy.from_dict(
        {
            "version": 1,
            "default": "allow",
            "rules": [
                {
                    "name": "not-42",
                    "action": "deny",
                    "message": "not 42",
                    "match": {"text": r"aid = 42\b"},
                },
            ],
        }
    )
    decided = {
        n: by_text.decide(
            analyzer.analyze(f"SELECT abalance FROM pgbench_accounts WHERE aid = {n}"),
            alice,
            shop,
            context,
        ).allowed
        for n in (1, 42, 43)
    }
    assert decided == {1: True, 42: False, 43: True}


def test_a_template_copy_keeps_every_field() -> None:
    """``_with_text`` builds statements field by field: a new Statement field must reach it."""
    import dataclasses

    from proctor.sql.templates import _with_text

    template = analyze_postgres("select * from t join u on u.id = t.id where t.a = 1")
    copy = _with_text(template, "select * from t join u on u.id = t.id where t.a = 2")
    for f in dataclasses.fields(template):
        expected = {"text": copy.text, "redacted_text": copy.text, "shape": template}.get(
            f.name, getattr(template, f.name)
        )
        assert getattr(copy, f.name) == expected, f.name
