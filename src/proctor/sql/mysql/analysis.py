"""The MySQL analyzer's entry point: ``analyze`` (text → ``Statement``, never raises)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from proctor.model import Operation, RelationRef, Statement
from proctor.sql.mysql.facts import _Facts
from proctor.sql.mysql.tokens import (
    _check_gaps,
    _mask,
    _redact_unparsed,
    _token_hints,
    _token_secrets,
    _tokenize,
)
from proctor.sql.mysql.walker import _Walker
from proctor.sql.postgres import MAX_TEXT_CHARS

Op = Operation


def analyze(text: str) -> Statement:
    """What the MySQL command ``text`` (one statement or a multi-statement string) does.
    Never raises."""
    try:
        return _analyze(text)
    except Exception as exc:  # fail closed on anything unforeseen
        return _unknown(text, f"internal analyzer error ({type(exc).__name__})")


def _unknown(text: str, note: str, facts: _Facts | None = None) -> Statement:
    facts = facts or _Facts()
    if len(text) > MAX_TEXT_CHARS:
        rest = len(text) - MAX_TEXT_CHARS
        redacted = _redact_unparsed(text[:MAX_TEXT_CHARS])
        redacted += f" [... {rest} more characters not recorded]"
    else:
        redacted = _redact_unparsed(text)
    return Statement(
        text=text,
        operation=Op.UNKNOWN,
        effects=frozenset({Op.UNKNOWN}),
        functions=frozenset(facts.functions),
        complete=False,
        dialect="mysql",
        notes=(note, *(n for n in facts.notes if n != note)),
        redacted_text=redacted,
        features=frozenset(facts.features),
    )


def _analyze(text: str) -> Statement:
    if len(text) > MAX_TEXT_CHARS:
        return _unknown(text, f"statement text longer than {MAX_TEXT_CHARS} characters")
    if "\x00" in text:
        return _unknown(text, "statement text contains a NUL character")
    try:
        tokens = _tokenize(text)
    except Exception as exc:
        return _unknown(text, f"text the MySQL lexer cannot read ({type(exc).__name__})")
    try:
        trees = sqlglot.parse(text, read="mysql", error_level=ErrorLevel.RAISE)
    except Exception as exc:
        facts = _Facts()
        _token_hints(tokens, facts)
        return _unknown(text, f"MySQL parse error: {_safe_message(exc)}", facts)

    facts = _Facts()
    gap_problem = _check_gaps(text, tokens)
    if gap_problem:
        facts.incomplete(gap_problem)
    _token_secrets(tokens, facts)
    statements = [t for t in trees if isinstance(t, exp.Expression)]
    if any(t is not None and not isinstance(t, exp.Expression) for t in trees):
        facts.incomplete("a statement of an unexpected shape")
    walker = _Walker(facts)
    operations = [walker.statement(tree) for tree in statements]
    operation = operations[0] if operations else Op.UTILITY
    if not facts.complete and not operations:
        operation = Op.UNKNOWN
        facts.effects.add(Op.UNKNOWN)
    return Statement(
        text=text,
        operation=operation,
        effects=frozenset(facts.effects),
        relations=tuple(RelationRef(name=n, schema=s, access=a) for s, n, a in facts.relations),
        functions=frozenset(facts.functions),
        unfiltered=frozenset(facts.unfiltered),
        statement_count=len(statements),
        complete=facts.complete,
        dialect="mysql",
        notes=tuple(facts.notes),
        redacted_text=_mask(text, facts.secrets),
        settings=frozenset(facts.settings),
        features=frozenset(facts.features),
    )


def _safe_message(exc: Exception) -> str:
    """The parser's message without echoing the text (it may hold secrets)."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        description = first.get("description", "invalid syntax")
        return f"{description} (line {first.get('line')}, col {first.get('col')})"
    return type(exc).__name__
