"""Texts that differ only in constants share an analysis only where that is sound."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- skeletons: texts whose constants differ skip the normalizer ------------------------------


def _counting_normalize(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import pglast.parser

    calls: list[str] = []
    real = pglast.parser.normalize

    def normalize(text: str) -> str:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(pglast.parser, "normalize", normalize)
    return calls


@pytest.mark.parametrize("shape", SHAPES)
def test_a_skeleton_skips_the_normalizer_and_keeps_the_analysis(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_normalize(monkeypatch)
    analyzer = TemplateAnalyzer()
    rng = random.Random(5)
    for _ in range(20):
        text = shape.format(n=rng.randint(0, 10**6))
        assert analyzer.analyze(text) == analyze_postgres(text)
    assert len(calls) == 1


def test_a_parameter_text_of_a_known_template_is_normalized_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pgbench's simple then extended protocol: ``... = 5`` makes the template that
    ``... = $1`` then hits, so the full analyzer's cache never sees ``... = $1``; the text
    itself becomes the key, as it normalizes to itself."""
    calls = _counting_normalize(monkeypatch)
    analyzer = TemplateAnalyzer()
    analyzer.analyze("SELECT abalance FROM pgbench_accounts WHERE aid = 5;")
    parameter = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;"
    for _ in range(5):
        assert analyzer.analyze(parameter) == analyze_postgres(parameter)
    assert len(calls) == 2
    assert parameter.encode() in analyzer._skeletons
    # A text that does not normalize to itself is not its own key.
    other = "SELECT abalance FROM pgbench_accounts WHERE aid = $1 + 1 -- x"
    analyzer.analyze(other)
    assert other.encode() not in analyzer._skeletons


@pytest.mark.parametrize(
    "shape",
    [
        "fetch {n} from c",  # the normalizer keeps this constant
        "select * from t where a = -{n}",  # it folds the minus into the constant
        "select 'x'\n'{n}' from t",  # it merges the two strings
        "select a from t where b = {n} -- note",  # a comment: the lexer gives up
        "select a from t where b = E'{n}'",  # an escape string: likewise
    ],
)
def test_texts_the_skeleton_cannot_stand_for_are_normalized_each_time(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_normalize(monkeypatch)
    analyzer = TemplateAnalyzer()
    for n in range(1, 6):
        text = shape.format(n=n)
        assert analyzer.analyze(text) == analyze_postgres(text)
    assert len(calls) == 5


def test_unshareable_skeletons_still_get_their_own_analysis() -> None:
    analyzer = TemplateAnalyzer()
    for text in (
        "select set_config('work_mem', '1MB', false)",
        "select set_config('role', 'postgres', false)",
        "delete from t where id = 5",
        "delete from t where 1 = 1",
    ):
        assert analyzer.analyze(text) == analyze_postgres(text)
    assert analyzer.template_hits == 0


@pytest.mark.parametrize(
    ("text", "skeleton"),
    [
        ("SELECT a FROM t WHERE b = 12345;", b"SELECT a FROM t WHERE b = \0;"),
        ("select 1.5, 'it''s', t1.c2", b"select \0, \0, t1.c2"),
        (
            'select "Odd""Name" from "T" where x = \'é\'',
            b'select "Odd""Name" from "T" where x = \0',
        ),
        ("select a::int from t limit 5 offset 3", b"select a::int from t limit \0 offset \0"),
        ("select a$1 from t", b"select a$1 from t"),
    ],
)
def test_literal_skeleton_cuts_exactly_the_literals(text: str, skeleton: bytes) -> None:
    from proctor.sql.templates import literal_skeleton

    assert literal_skeleton(text) == skeleton


@pytest.mark.parametrize(
    "text",
    [
        "select 1 -- comment",
        "select /* c */ 1",
        "select $1",
        "select $$x$$",
        "select E'\\n'",
        "select U&'d\\0061t'",
        "select x'1f', b'01', n'z'",
        "select 1e5",
        "select .5",
        "select 5.",
        "select 0x1f",
        "select 1_000",
        "select 12abc",
        "select 1234567890",  # ten digits may overflow int4: another token
        "select 'unterminated",
        'select "unterminated',
        "select é from t",
        "select '\0'",
        "select 1 \\g",
        "select {1}",
    ],
)
def test_literal_skeleton_gives_up_outside_its_subset(text: str) -> None:
    from proctor.sql.templates import literal_skeleton

    assert literal_skeleton(text) is None


_LITERAL_VALUES = {
    "integer": lambda rng: str(rng.randint(0, 999_999_999)),
    "decimal": lambda rng: f"{rng.randint(0, 10**12)}.{rng.randint(0, 10**6)}",
    "string": lambda rng: (
        "'"
        + "".join(
            rng.choice(["a", "''", "\\", " ", "é", "--", "/*", "$$", '"', ";"]) for _ in range(6)
        )
        + "'"
    ),
}


def _variant(text: str, rng: random.Random) -> str:
    """``text`` with each literal the skeleton cuts replaced by another of its kind."""
    import re

    literal = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")

    def other(m: re.Match[str]) -> str:
        found = m.group(0)
        kind = "string" if found.startswith("'") else "decimal" if "." in found else "integer"
        return str(_LITERAL_VALUES[kind](rng))

    return literal.sub(other, text)


def test_equal_skeletons_normalize_alike_over_the_corpus() -> None:
    """The soundness argument, checked: for each corpus statement the skeleton can stand for,
    texts with other literal values have the same skeleton and the same normalized form (and
    so share its template), and a template's analysis is theirs."""
    import pglast.parser

    from proctor.sql.templates import _replaces_each, literal_skeleton, shareable
    from tests.unit.sql.corpus import load_all

    rng = random.Random(11)
    stood_for = 0
    texts = [case.sql for case in load_all()] + [shape.format(n=7) for shape in SHAPES]
    for text in texts:
        skeleton = literal_skeleton(text)
        if skeleton is None:
            continue
        try:
            normalized = pglast.parser.normalize(text)
        except Exception:
            continue
        if not _replaces_each(normalized, skeleton):
            continue
        stood_for += 1
        template = analyze_postgres(text)
        for _ in range(5):
            variant = _variant(text, rng)
            assert literal_skeleton(variant) == skeleton, variant
            assert pglast.parser.normalize(variant) == normalized, variant
            if shareable(template, text):
                analysis = analyze_postgres(variant)
                assert analysis.relations == template.relations, variant
                assert analysis.effects == template.effects, variant
                assert analysis.functions == template.functions, variant
    assert stood_for >= 40


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1 .'\"$-/*eE&\\\x00é;()=\n")), max_size=60))
def test_hostile_texts_never_break_the_skeleton_path(text: str) -> None:
    """Any text: the lexer answers (a skeleton or None) without raising, and the analyzer's
    answer through the skeleton cache is the full analyzer's."""
    from proctor.sql.templates import _replaces_each, literal_skeleton

    skeleton = literal_skeleton(text)
    if skeleton is not None:
        _replaces_each(text, skeleton)
    analyzer = TemplateAnalyzer()
    # A text with other literal values first, so that ``text`` may come through its skeleton.
    other = text.replace("1", "7").replace("a'", "b'")
    for t in (other, text):
        assert analyzer.analyze(t) == analyze_postgres(t)
