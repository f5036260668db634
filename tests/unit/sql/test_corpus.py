"""Every case of tests/corpora/sql/*.sql against the analyzer (format: docs/sql-analysis.md)."""

from __future__ import annotations

import pytest

from proctor.model import Operation, Statement
from proctor.sql import Analyzer, analyze_postgres
from tests.unit.sql.corpus import CORPORA, Case, CorpusError, load_all, parse_corpus

CASES = load_all()


def observed(statement: Statement) -> dict[str, frozenset[str]]:
    return {
        "effects": frozenset(e.value for e in statement.effects),
        "writes": frozenset(r.qualified for r in statement.writes),
        "reads": frozenset(r.qualified for r in statement.reads),
        "functions": statement.functions,
        "unfiltered": frozenset(e.value for e in statement.unfiltered),
        "settings": statement.settings,
        "features": statement.features,
    }


def problems_of(case: Case, statement: Statement) -> list[str]:
    problems: list[str] = []
    if statement.operation.value != case.scalars["operation"]:
        problems.append(
            f"operation: expected {case.scalars['operation']}, got {statement.operation}"
        )
    if str(statement.complete).lower() != case.scalars["complete"]:
        problems.append(
            f"complete: expected {case.scalars['complete']}, got {statement.complete}"
            f" (notes: {statement.notes})"
        )
    if "count" in case.scalars and statement.statement_count != int(case.scalars["count"]):
        problems.append(f"count: expected {case.scalars['count']}, got {statement.statement_count}")
    seen = observed(statement)
    for key, expected in case.exact.items():
        if seen[key] != expected:
            problems.append(f"{key}: expected {sorted(expected)}, got {sorted(seen[key])}")
    for key, expected in case.includes.items():
        if not expected <= seen[key]:
            problems.append(
                f"{key}: expected to include {sorted(expected)}, got {sorted(seen[key])}"
            )
    for note in case.notes:
        if not any(note in n for n in statement.notes):
            problems.append(f"notes: none contains {note!r}: {statement.notes}")
    if case.redacted is not None and statement.redacted_text != case.redacted:
        problems.append(f"redacted: expected {case.redacted!r}, got {statement.redacted_text!r}")
    for secret in case.absent:
        if secret in statement.redacted_text:
            problems.append(f"redacted text still holds {secret!r}: {statement.redacted_text!r}")
    return problems


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_corpus_case(case: Case) -> None:
    prepared = {name: analyze_postgres(sql) for name, sql in case.prepared.items()} or None
    statement = analyze_postgres(case.sql, prepared, **case.session)
    problems = problems_of(case, statement)
    assert not problems, f"{case.id} (line {case.line}):\n  " + "\n  ".join(problems)

    # invariants every analysis keeps
    assert statement.unfiltered <= statement.effects
    assert statement.complete or statement.notes, "an incomplete analysis says why"
    if statement.statement_count:
        assert statement.operation in statement.effects
    assert statement.text == case.sql
    # the cached front gives the same answer, twice
    analyzer = Analyzer(max_entries=4)
    assert analyzer.analyze(case.sql, prepared, **case.session) == statement
    assert analyzer.analyze(case.sql, prepared, **case.session) == statement


def test_corpus_is_large_and_covers_every_area() -> None:
    files = {case.file for case in CASES}
    assert len(CASES) >= 80, len(CASES)
    assert {"bypass.sql", "dml.sql", "ddl.sql", "utility.sql", "redaction.sql"} <= files
    assert len([c for c in CASES if c.file == "bypass.sql"]) >= 30
    assert len(list(CORPORA.glob("*.sql"))) == len(files)


def test_corpus_covers_every_operation() -> None:
    operations = {case.scalars["operation"] for case in CASES}
    assert operations == {o.value for o in Operation}, {o.value for o in Operation} - operations


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("SELECT 1;\n", "before the first case"),
        ("--- case: a\n--- expect: operation=select\nSELECT 1\n", "must expect complete"),
        ("--- case: a\n--- expect: colour=red complete=true\nSELECT 1\n", "unknown expectation"),
        ("--- case: a\n--- expec: operation=select\nSELECT 1\n", "unknown directive"),
        ("--- case: a b\n", "one word"),
        ("--- case: a\n--- session: search_path=x\n", "session takes"),
        ("--- case: a\n--- expect: operation=select complete=yes\nx\n", "true or false"),
        ("--- case: a\n--- expect: operation=select complete=true\n", "no statement"),
        (
            "--- case: a\n--- expect: operation=select complete=true\nSELECT 1\n"
            "--- case: a\n--- expect: operation=select complete=true\nSELECT 2\n",
            "duplicate",
        ),
    ],
)
def test_corpus_reader_rejects_malformed_files(text: str, error: str) -> None:
    with pytest.raises(CorpusError, match=error):
        parse_corpus(text, "bad.sql")


def test_corpus_reader_keeps_statements_whole() -> None:
    text = (
        "-- header\n"
        "--- case: body\n"
        "--- expect: operation=do complete=false\n"
        "--- expect: effects+=do\n"
        "\n"
        "DO $$\n"
        "BEGIN PERFORM 1; -- a comment; with semicolons\n"
        "--- not a directive once the statement has started\n"
        "END $$;\n"
        "\n"
        "--- case: next\n"
        "--- expect: operation=select complete=true\n"
        "SELECT 1\n"
    )
    first, second = parse_corpus(text, "x.sql")
    assert first.sql == (
        "DO $$\nBEGIN PERFORM 1; -- a comment; with semicolons\n"
        "--- not a directive once the statement has started\nEND $$;"
    )
    assert first.includes == {"effects": frozenset({"do"})}
    assert second.sql == "SELECT 1"
    assert second.line == 11
