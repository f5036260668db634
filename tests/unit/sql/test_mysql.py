"""The MySQL analyzer: every case of tests/corpora/sql/mysql/*.sql, fail-closed edges, fuzz."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proctor.model import Operation, Statement
from proctor.sql import MAX_TEXT_CHARS, analyze_mysql
from tests.unit.sql.corpus import CORPORA, Case, load_all
from tests.unit.sql.test_corpus import problems_of

CASES = load_all(CORPORA / "mysql")


def check_invariants(statement: Statement, text: str) -> None:
    assert statement.text == text
    assert statement.dialect == "mysql"
    assert isinstance(statement.redacted_text, str)
    assert statement.unfiltered <= statement.effects
    assert statement.complete or statement.notes
    if statement.operation is Operation.UNKNOWN:
        assert not statement.complete


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_mysql_case(case: Case) -> None:
    statement = analyze_mysql(case.sql)
    problems = problems_of(case, statement)
    assert not problems, f"{case.id} (line {case.line}):\n  " + "\n  ".join(problems)
    check_invariants(statement, case.sql)
    if statement.statement_count:
        assert statement.operation in statement.effects


def test_corpus_is_large() -> None:
    assert len(CASES) >= 40, len(CASES)


def test_upper_case_changes_nothing_for_complete_cases() -> None:
    for case in CASES:
        statement = analyze_mysql(case.sql)
        if not statement.complete or "'" in case.sql or "`" in case.sql or "#" in case.sql:
            continue
        upper = analyze_mysql(case.sql.upper())
        assert (upper.operation, upper.effects, upper.relations, upper.unfiltered) == (
            statement.operation,
            statement.effects,
            statement.relations,
            statement.unfiltered,
        ), case.id


def test_text_over_the_limit_is_not_parsed() -> None:
    text = "CREATE USER x IDENTIFIED BY 'hunter2';" + " " * MAX_TEXT_CHARS
    statement = analyze_mysql(text)
    assert statement.operation is Operation.UNKNOWN and not statement.complete
    assert "longer than" in statement.notes[0]
    assert "hunter2" not in statement.redacted_text


def test_nul_character_fails_closed() -> None:
    statement = analyze_mysql("SELECT 1;\x00 DELETE FROM customers")
    assert not statement.complete


def test_deep_nesting_fails_closed() -> None:
    text = "SELECT " + "(" * 5000 + "1" + ")" * 5000
    statement = analyze_mysql(text)
    check_invariants(statement, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    check_invariants(analyze_mysql(text), text)


SQL_WORDS = """
SELECT DELETE FROM WHERE WITH AS ( ) ; , ' " ` /* */ /*! -- # t db.t 1 true = INSERT INTO
VALUES UPDATE SET GLOBAL ROLE PREPARE EXECUTE LOAD DATA INFILE OUTFILE REPLACE ON DUPLICATE
KEY CREATE PROCEDURE BEGIN END USER IDENTIFIED BY JOIN USING load_file( \\
"""
SQLISH = st.lists(st.sampled_from([*SQL_WORDS.split(), "\n"]), max_size=40).map(" ".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SQLISH)
def test_sql_like_text_never_raises(text: str) -> None:
    statement = analyze_mysql(text)
    check_invariants(statement, text)
    assert analyze_mysql(text) == statement
