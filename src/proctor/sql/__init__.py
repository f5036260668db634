"""SQL statement analysis: text → protocol-neutral ``Statement``, from the parser's tree.

PostgreSQL statements are parsed by libpg_query (PostgreSQL's own parser, through pglast) and
classified by walking the parse tree; nothing here matches SQL text with patterns. See
``docs/sql-analysis.md`` for what is classified how and the fail-closed rules.

    analyze_postgres(text, prepared=None, *, standard_conforming_strings=True) -> Statement
    Analyzer(max_entries=10_000).analyze(text, prepared=None, *, ...) -> Statement (cached)
    prepared_statements(text) -> dict[str, Statement]      what PREPARE defines, for EXECUTE
    redact_postgres(text) -> str                            secrets replaced by '***'
    analyze_mysql(text) -> Statement                        MySQL, through sqlglot's parser
"""

from __future__ import annotations

from collections.abc import Mapping

from proctor.model import Statement
from proctor.sql.cache import Analyzer
from proctor.sql.catalog import (
    CONSTANT_SENSITIVE_FUNCTIONS,
    DANGEROUS_FUNCTIONS,
    DYNAMIC_SQL_FUNCTIONS,
)
from proctor.sql.mysql import analyze as analyze_mysql
from proctor.sql.postgres import MAX_TEXT_CHARS, analyze, prepared_statements


def analyze_postgres(
    text: str,
    prepared: Mapping[str, Statement] | None = None,
    *,
    standard_conforming_strings: bool = True,
) -> Statement:
    """What the PostgreSQL command ``text`` (one statement or a simple-query batch) does.

    ``prepared`` maps SQL-level prepared statement names (as PostgreSQL normalises them) to
    their analyses, for ``EXECUTE name``; without an entry, EXECUTE is incomplete.
    ``standard_conforming_strings`` is the session's setting (reported by the server in
    ParameterStatus): when it is off, a backslash in a '...' literal makes the analysis
    incomplete. Never raises: unparseable or unclassifiable input gives ``complete=False``
    with notes.
    """
    return analyze(text, prepared, standard_conforming_strings=standard_conforming_strings)[0]


def redact_postgres(text: str) -> str:
    """``text`` with passwords, keys and connection-string secrets replaced by ``'***'``."""
    return analyze(text)[0].redacted_text


__all__ = [
    "CONSTANT_SENSITIVE_FUNCTIONS",
    "DANGEROUS_FUNCTIONS",
    "DYNAMIC_SQL_FUNCTIONS",
    "MAX_TEXT_CHARS",
    "Analyzer",
    "analyze_mysql",
    "analyze_postgres",
    "prepared_statements",
    "redact_postgres",
]
