"""The PostgreSQL analyzer's entry points: ``analyze`` (text → ``Statement``, never raises)
and ``prepared_statements`` (what a PREPARE defines, for a later EXECUTE)."""

from __future__ import annotations

from collections.abc import Mapping

from pglast import parser as pg_parser

from proctor.model import Operation, RelationRef, Statement
from proctor.sql import redact as _redact
from proctor.sql._tree import ParseFailure, parse, unwrap
from proctor.sql.postgres.facts import _ROOT, _Batch
from proctor.sql.postgres.nodes import _operation
from proctor.sql.postgres.walker import _safe_message, _Walker

MAX_TEXT_CHARS = 1_000_000  # longer text is not parsed: complete=False

Op = Operation


def analyze(
    text: str,
    prepared: Mapping[str, Statement] | None = None,
    *,
    standard_conforming_strings: bool = True,
) -> tuple[Statement, bool]:
    """The analysis of ``text`` and whether it depended on ``prepared`` (then it must not be
    cached by text alone). Never raises."""
    try:
        return _analyze(text, prepared, standard_conforming_strings)
    except Exception as exc:  # fail closed on anything unforeseen, never crash the session
        statement = _unknown(text, f"internal analyzer error ({type(exc).__name__})")
        return statement, False


def _unknown(text: str, note: str, *, redacted: str | None = None) -> Statement:
    if redacted is None:
        if len(text) <= MAX_TEXT_CHARS:
            redacted = _redact.redact_unparsed(text)
        else:  # bounded work: the first MAX_TEXT_CHARS characters, literals hidden
            rest = len(text) - MAX_TEXT_CHARS
            redacted = _redact.redact_unparsed(text[:MAX_TEXT_CHARS])
            redacted += f" [... {rest} more characters not recorded]"
    return Statement(
        text=text,
        operation=Op.UNKNOWN,
        effects=frozenset({Op.UNKNOWN}),
        complete=False,
        notes=(note,),
        redacted_text=redacted,
    )


def _analyze(
    text: str, prepared: Mapping[str, Statement] | None, standard_conforming_strings: bool
) -> tuple[Statement, bool]:
    if len(text) > MAX_TEXT_CHARS:
        return _unknown(text, f"statement text longer than {MAX_TEXT_CHARS} characters"), False
    if "\x00" in text:
        # The parser reads a C string: it would stop at the NUL and miss the rest.
        return _unknown(text, "statement text contains a NUL character"), False
    try:
        statements = parse(text)
    except ParseFailure as exc:
        return _unknown(text, _safe_message(exc)), False
    except (ValueError, UnicodeError) as exc:
        return _unknown(text, f"text the parser cannot read ({type(exc).__name__})"), False

    batch = _Batch(prepared)
    walker = _Walker(batch)
    operations = [walker.statement(raw) for raw in statements]
    facts = walker.facts
    operation = operations[0] if operations else Op.UTILITY  # empty query: does nothing
    if not standard_conforming_strings and "\\" in text and _backslash_in_plain_literal(text):
        # libpg_query parses with standard_conforming_strings on; with it off the server reads
        # 'a\' || $$' ; DELETE ... $$ differently (the DELETE escapes the dollar quote).
        facts.incomplete(
            "a backslash in a string literal reads differently with standard_conforming_strings off"
        )
    redacted = _redact.redact(text, walker.secrets) if walker.secrets else text
    statement = Statement(
        text=text,
        operation=operation,
        effects=frozenset(facts.effects),
        relations=tuple(
            RelationRef(name=name, schema=schema, access=access)
            for schema, name, access in facts.relations
        ),
        functions=frozenset(facts.functions),
        unfiltered=frozenset(facts.unfiltered),
        statement_count=len(statements),
        complete=facts.complete,
        dialect="postgres",
        notes=tuple(facts.notes),
        redacted_text=redacted,
        settings=frozenset(facts.settings),
        features=frozenset(facts.features),
    )
    return statement, batch.depends


def _backslash_in_plain_literal(text: str) -> bool:
    """Whether a '...' (or N'...') literal holds a backslash: the one place where lexing with
    standard_conforming_strings off differs from lexing with it on."""
    try:
        tokens = pg_parser.scan(text)
    except Exception:
        return True
    return any(
        token.name == "SCONST"
        and text[token.start] not in "Ee$"
        and "\\" in text[token.start : token.end + 1]
        for token in tokens
    )


def prepared_statements(text: str) -> dict[str, Statement]:
    """The statements ``text`` PREPAREs, by name, each analyzed as EXECUTE will run it.

    A gateway that lets ``PREPARE name AS ...`` through keeps these and passes them as
    ``prepared`` when it later analyzes ``EXECUTE name``.
    """
    try:
        statements = parse(text)
    except Exception:
        return {}
    redacted = analyze(text)[0].redacted_text
    found: dict[str, Statement] = {}
    for raw in statements:
        wrapped = unwrap(raw.get("stmt"))
        if wrapped is None or wrapped[0] != "PrepareStmt":
            continue
        query = unwrap(wrapped[1].get("query"))
        if query is None:
            continue
        walker = _Walker(_Batch(None))
        try:
            operation = _operation(*query)
            walker.facts.effects.add(operation)
            walker.walk(query[0], query[1], _ROOT)
        except Exception as exc:
            walker.facts.incomplete(f"internal analyzer error ({type(exc).__name__})")
            operation = Op.UNKNOWN
        facts = walker.facts
        found[str(wrapped[1].get("name", ""))] = Statement(
            text=text,
            operation=operation,
            effects=frozenset(facts.effects),
            relations=tuple(RelationRef(n, s, a) for s, n, a in facts.relations),
            functions=frozenset(facts.functions),
            unfiltered=frozenset(facts.unfiltered),
            complete=facts.complete,
            notes=tuple(facts.notes),
            redacted_text=redacted,
            settings=frozenset(facts.settings),
            features=frozenset(facts.features),
        )
    return found
