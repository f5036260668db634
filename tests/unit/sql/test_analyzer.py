"""The analyzer's API, its fail-closed edges, and properties over the corpus and random text."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pglast import parser as pg_parser

from proctor.model import Access, Feature, Operation, RelationRef, Statement
from proctor.sql import (
    DANGEROUS_FUNCTIONS,
    MAX_TEXT_CHARS,
    Analyzer,
    analyze_postgres,
    prepared_statements,
    redact_postgres,
)
from proctor.sql._tree import EMBEDDED, loads_iterative, parse
from proctor.sql.catalog import STATEMENT_OPERATIONS
from proctor.sql.postgres import analysis as postgres_analysis
from proctor.sql.postgres import handlers as postgres_handlers
from tests.unit.sql.corpus import load_all

CASES = load_all()
FULLY_PARSED = [
    c for c in CASES if c.sql and analyze_postgres(c.sql).operation is not Operation.UNKNOWN
]


def essence(statement: Statement) -> tuple[Any, ...]:
    """Everything but the text: what policy decides on."""
    return (
        statement.operation,
        statement.effects,
        frozenset(statement.relations),
        statement.functions,
        statement.unfiltered,
        statement.statement_count,
        statement.complete,
        statement.settings,
        statement.features,
    )


def check_invariants(statement: Statement, text: str) -> None:
    assert statement.text == text
    assert isinstance(statement.redacted_text, str)
    assert statement.unfiltered <= statement.effects
    assert statement.complete or statement.notes
    if statement.operation is Operation.UNKNOWN:
        assert not statement.complete


# -- evasion properties over the whole corpus ----------------------------------------------


def with_comments(text: str) -> str:
    """A comment before every token, as the lexer splits them."""
    tokens = pg_parser.scan(text)
    out, cursor = [], 0
    for token in tokens:
        out.append(text[cursor : token.start])
        out.append("/* x; DELETE FROM t; */ ")
        cursor = token.start
    out.append(text[cursor:])
    return "".join(out)


_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def upper_cased(text: str) -> str:
    """Every keyword and unquoted identifier in upper case (ASCII, as PostgreSQL folds)."""
    out, cursor = [], 0
    for token in pg_parser.scan(text):
        word = text[token.start : token.end + 1]
        if token.kind != "NO_KEYWORD" or (token.name == "IDENT" and not word.startswith('"')):
            out.append(text[cursor : token.start])
            out.append(word.translate(_UPPER))
            cursor = token.end + 1
    out.append(text[cursor:])
    return "".join(out)


@pytest.mark.parametrize("case", FULLY_PARSED, ids=lambda c: c.id)
def test_comments_between_tokens_change_nothing(case: Any) -> None:
    commented = with_comments(case.sql)
    assert commented != case.sql
    assert essence(analyze_postgres(commented)) == essence(analyze_postgres(case.sql))


@pytest.mark.parametrize("case", FULLY_PARSED, ids=lambda c: c.id)
def test_upper_case_changes_nothing(case: Any) -> None:
    assert essence(analyze_postgres(upper_cased(case.sql))) == essence(analyze_postgres(case.sql))


# -- never raises, always bounded ----------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    check_invariants(analyze_postgres(text), text)


SQL_WORDS = """
SELECT DELETE FROM WHERE WITH AS ( ) ; , ' " $$ $a$ /* */ -- t public.t 1 true = INSERT INTO
VALUES UPDATE SET EXPLAIN ANALYZE DO CREATE RULE FUNCTION PREPARE EXECUTE MERGE USING ON WHEN
MATCHED THEN COPY PROGRAM E'\\'' U&"t" ROLE pg_read_file( ::
"""
SQL_TOKENS = [*SQL_WORDS.split(), "\n"]
SQLISH = st.lists(st.sampled_from(SQL_TOKENS), max_size=40).map(" ".join)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SQLISH)
def test_sql_like_text_never_raises(text: str) -> None:
    statement = analyze_postgres(text)
    check_invariants(statement, text)
    assert analyze_postgres(text) == statement  # deterministic


def test_text_over_the_limit_is_not_parsed() -> None:
    text = "SELECT 1;" + " " * MAX_TEXT_CHARS
    statement = analyze_postgres(text)
    assert statement.operation is Operation.UNKNOWN and not statement.complete
    assert "longer than" in statement.notes[0]


def test_text_over_the_limit_is_recorded_truncated_and_redacted() -> None:
    text = "CREATE ROLE x PASSWORD 'hunter2';" + "-" * MAX_TEXT_CHARS
    redacted = analyze_postgres(text).redacted_text
    assert "hunter2" not in redacted
    assert redacted.startswith("CREATE ROLE x PASSWORD '***';")
    assert redacted.endswith(" [... 33 more characters not recorded]")


def test_nul_character_fails_closed() -> None:
    # The C parser would stop at the NUL and never see the DELETE.
    statement = analyze_postgres("SELECT 1;\x00 DELETE FROM customers")
    assert statement.operation is Operation.UNKNOWN and not statement.complete
    assert "NUL" in statement.notes[0]


def test_nul_character_does_not_hide_a_secret_from_redaction() -> None:
    statement = analyze_postgres("SELECT 1;\x00 CREATE ROLE x PASSWORD 'hunter2'")
    assert "hunter2" not in statement.redacted_text


def test_unencodable_text_fails_closed() -> None:
    statement = analyze_postgres("SELECT '\ud800'")
    assert statement.operation is Operation.UNKNOWN and not statement.complete


def test_long_expression_chain_is_analyzed_without_recursion_limits() -> None:
    # json.loads gives up near 500 nested levels; the iterative decoder takes over.
    text = "DELETE FROM t WHERE x = " + " + ".join(["1"] * 3000) + " AND pg_sleep(1) IS NULL"
    statement = analyze_postgres(text)
    assert statement.complete
    assert statement.effects == {Operation.DELETE}
    assert "pg_sleep" in statement.functions


def test_deep_and_wide_expressions_are_bounded() -> None:
    # Too nested for json.loads and too long for the slower iterative decoder.
    text = "SELECT " + ", ".join(["(" + " + ".join(["1"] * 600) + ")"] * 200)
    started = time.perf_counter()
    statement = analyze_postgres(text)
    assert time.perf_counter() - started < 10
    assert not statement.complete and statement.operation is Operation.UNKNOWN
    assert "nested too deeply" in statement.notes[0]


def test_nesting_beyond_the_parser_limit_fails_closed() -> None:
    text = "SELECT " + " + ".join(["1"] * 100_000)
    statement = analyze_postgres(text)
    assert not statement.complete and statement.operation is Operation.UNKNOWN


def test_deep_subqueries_are_followed() -> None:
    depth = 200
    text = "SELECT * FROM " + "(SELECT * FROM " * depth + "secret" + ") s" * depth
    statement = analyze_postgres(text)
    assert statement.complete
    assert statement.reads == (RelationRef("secret", None, Access.READ),)


def test_internal_error_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(postgres_handlers._HANDLERS, "DeleteStmt", broken)
    statement = analyze_postgres("DELETE FROM t")
    assert statement.operation is Operation.UNKNOWN and not statement.complete
    assert "internal analyzer error (RuntimeError)" in statement.notes[0]


def test_unknown_statement_type_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(STATEMENT_OPERATIONS, "CheckPointStmt")
    statement = analyze_postgres("CHECKPOINT")
    assert statement.operation is Operation.UNKNOWN
    assert Operation.UNKNOWN in statement.effects
    assert not statement.complete
    assert "CheckPointStmt is not classified" in statement.notes[0]


def test_unexpected_tree_shape_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = postgres_analysis.parse

    def odd(text: str) -> list[Any]:
        statements = real(text)
        statements[0]["stmt"]["SelectStmt"]["fromClause"] = [{"a": 1, "b": 2}]
        return statements

    monkeypatch.setattr(postgres_analysis, "parse", odd)
    statement = analyze_postgres("SELECT * FROM t")
    assert not statement.complete
    assert "unexpected parse tree shape" in statement.notes[0]


def test_parse_error_note_hides_a_literal_fragment() -> None:
    statement = analyze_postgres("CREATE ROLE x PASSWORD 'hunter2' x y")
    assert statement.operation is Operation.UNKNOWN
    assert all("hunter2" not in note for note in statement.notes)
    assert "hunter2" not in statement.redacted_text


def test_every_statement_node_type_is_classified() -> None:
    from pglast import ast

    statement_types = {
        name for name in dir(ast) if name.endswith("Stmt") and isinstance(getattr(ast, name), type)
    }
    not_top_level = {"RawStmt", "SetOperationStmt", "PLAssignStmt", "ReplicaIdentityStmt"}
    assert statement_types - not_top_level <= set(STATEMENT_OPERATIONS)


# -- prepared statements -------------------------------------------------------------------


def test_execute_uses_the_gateways_prepared_statements() -> None:
    defined = prepared_statements("PREPARE wipe AS DELETE FROM customers")
    assert set(defined) == {"wipe"}
    assert defined["wipe"].operation is Operation.DELETE
    statement = analyze_postgres("EXECUTE wipe", defined)
    assert statement.complete
    assert statement.effects == {Operation.EXECUTE, Operation.DELETE}
    assert statement.unfiltered == {Operation.DELETE}
    assert [r.qualified for r in statement.writes] == ["customers"]


def test_execute_inherits_an_incomplete_definition() -> None:
    defined = {"p": analyze_postgres("PREPARE p AS SELECT dblink_exec('x', 'y')")}
    assert not analyze_postgres("EXECUTE p", defined).complete


def test_execute_under_plain_explain_only_reads() -> None:
    defined = prepared_statements("PREPARE p AS DELETE FROM customers")
    statement = analyze_postgres("EXPLAIN EXECUTE p", defined)
    assert statement.effects == {Operation.EXPLAIN}
    assert statement.writes == ()
    assert [r.qualified for r in statement.reads] == ["customers"]


def test_prepared_names_are_normalised_like_postgresql() -> None:
    assert set(prepared_statements('PREPARE Wipe AS SELECT 1; PREPARE "Keep" AS SELECT 2')) == {
        "wipe",
        "Keep",
    }
    assert prepared_statements("not sql at all") == {}


# -- the cache -----------------------------------------------------------------------------


def test_cache_returns_the_same_analysis() -> None:
    analyzer = Analyzer(max_entries=10)
    first = analyzer.analyze("SELECT 1")
    assert analyzer.analyze("SELECT 1") is first
    assert (analyzer.hits, analyzer.misses) == (1, 1)


def test_cache_is_bounded_by_entries_lru() -> None:
    analyzer = Analyzer(max_entries=2)
    analyzer.analyze("SELECT 1")
    analyzer.analyze("SELECT 2")
    analyzer.analyze("SELECT 1")  # now most recent
    analyzer.analyze("SELECT 3")  # evicts SELECT 2
    assert "SELECT 1" in analyzer and "SELECT 3" in analyzer and "SELECT 2" not in analyzer
    assert len(analyzer) == 2


def test_cache_is_bounded_by_characters() -> None:
    analyzer = Analyzer(max_entries=100, max_chars=100)
    analyzer.analyze("SELECT " + "1" * 60)  # 2 x 67 characters: too big to keep
    assert len(analyzer) == 0
    for n in range(10):
        analyzer.analyze(f"SELECT {n}")
    assert len(analyzer) == 100 // (2 * len("SELECT 0"))


def test_cache_never_serves_an_execute_without_its_definition() -> None:
    analyzer = Analyzer()
    assert not analyzer.analyze("EXECUTE p").complete
    defined = prepared_statements("PREPARE p AS DELETE FROM t")
    assert analyzer.analyze("EXECUTE p", defined).effects >= {Operation.DELETE}
    other = prepared_statements("PREPARE p AS SELECT 1")
    assert Operation.DELETE not in analyzer.analyze("EXECUTE p", other).effects
    # statements that do not depend on prepared statements are served from the cache
    first = analyzer.analyze("SELECT 1")
    assert analyzer.analyze("SELECT 1", defined) is first


def test_cache_rejects_negative_bounds() -> None:
    with pytest.raises(ValueError, match="negative"):
        Analyzer(max_entries=-1)


def test_cached_decision_is_a_dictionary_lookup() -> None:
    analyzer = Analyzer()
    text = "SELECT id, name FROM customers WHERE id = $1"
    analyzer.analyze(text)
    samples = []
    for _ in range(2000):
        start = time.perf_counter_ns()
        analyzer.analyze(text)
        samples.append(time.perf_counter_ns() - start)
    assert statistics.median(samples) < 20_000  # ns: the budget for a cached decision


# -- pieces --------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_iterative_json_decoder_agrees_with_json(value: Any) -> None:
    assert loads_iterative(json.dumps(value)) == value


@pytest.mark.parametrize("bad", ['{"a": 1', "[1, 2", "}", "@"])
def test_iterative_json_decoder_rejects_malformed_input(bad: str) -> None:
    with pytest.raises(ValueError):
        loads_iterative(bad)


def test_embedded_field_table_matches_the_parser() -> None:
    assert EMBEDDED["DeleteStmt"]["relation"] == "RangeVar"
    assert EMBEDDED["CreateForeignTableStmt"]["base"] == "CreateStmt"
    assert "whereClause" not in EMBEDDED["DeleteStmt"]  # a Node *: wrapped
    delete = parse("DELETE FROM t")[0]["stmt"]["DeleteStmt"]
    assert delete["relation"]["relname"] == "t"


def test_redact_postgres() -> None:
    assert redact_postgres("ALTER ROLE a PASSWORD 'b'") == "ALTER ROLE a PASSWORD '***'"
    assert redact_postgres("SELECT 'b'") == "SELECT 'b'"


def test_dangerous_function_list_names_the_classics() -> None:
    assert {"pg_read_file", "lo_export", "dblink", "pg_terminate_backend"} <= DANGEROUS_FUNCTIONS


def test_feature_values_come_from_the_model() -> None:
    statement = analyze_postgres("COPY t TO PROGRAM 'x'; LOAD 'y'; SET ROLE z")
    assert statement.features == {
        Feature.COPY_PROGRAM.value,
        Feature.LOAD_LIBRARY.value,
        Feature.SET_ROLE.value,
    }


def test_standard_conforming_strings_off_is_not_served_from_the_cache() -> None:
    analyzer = Analyzer()
    text = "SELECT 'a\\' || $$' ; DELETE FROM t; -- $$"
    assert analyzer.analyze(text).complete  # lexed as the parser does, with it on
    assert not analyzer.analyze(text, standard_conforming_strings=False).complete
    assert analyzer.analyze("SELECT 1", standard_conforming_strings=False).complete
