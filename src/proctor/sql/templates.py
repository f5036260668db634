"""Statements that differ only in their constants share one analysis.

Clients that do not use bind parameters (psql scripts, ORMs in "simple" mode, pgbench's
simple protocol) send a new text for every call — ``... WHERE aid = 12345``, then ``= 678``
— so a cache keyed by text never hits and every call pays a full parse and tree walk
(~100 µs). libpg_query's normalizer replaces constants by ``$n`` in ~10 µs; texts with the
same normalized form share a *template* analysis.

Sharing is only sound where constants cannot change the verdict-relevant analysis, so a
template is made only from a complete analysis whose effects are reads and inserts, with
nothing redacted and nothing "unfiltered" (a constant WHERE such as ``1 = 1`` is judged by
its value, so writes that could be unfiltered always take the full path). Everything else —
and anything the normalizer cannot parse — goes to the full analyzer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

import pglast.parser

from proctor.model import Operation, Statement
from proctor.sql.cache import Analyzer
from proctor.sql.catalog import CONSTANT_SENSITIVE_FUNCTIONS

# Effects whose classification does not depend on the value of any constant.
TEMPLATE_SAFE_EFFECTS = frozenset({Operation.SELECT, Operation.INSERT})
_NOT_SHAREABLE = object()


class TemplateAnalyzer:
    """``Analyzer`` plus the normalized-text templates above. Same interface."""

    __slots__ = ("_analyzer", "_lock", "_max", "_templates", "template_hits")

    def __init__(self, analyzer: Analyzer | None = None, max_templates: int = 10_000) -> None:
        self._analyzer = analyzer or Analyzer()
        self._templates: OrderedDict[str, Statement | object] = OrderedDict()
        self._max = max_templates
        self._lock = threading.Lock()
        self.template_hits = 0

    def analyze(
        self,
        text: str,
        prepared: Mapping[str, Statement] | None = None,
        *,
        standard_conforming_strings: bool = True,
    ) -> Statement:
        inner = self._analyzer
        if not standard_conforming_strings and "\\" in text:
            # normalize() lexes with standard_conforming_strings on: no sharing here
            return inner.analyze(text, prepared, standard_conforming_strings=False)
        if prepared or text in inner:
            return inner.analyze(text, prepared)
        try:
            key = pglast.parser.normalize(text)
        except Exception:
            return inner.analyze(text, prepared)
        with self._lock:
            template = self._templates.get(key)
            if template is not None:
                self._templates.move_to_end(key)
        if isinstance(template, Statement):
            self.template_hits += 1
            return _with_text(template, text)
        statement = inner.analyze(text, prepared)
        if template is None:
            self._remember(key, statement if shareable(statement, text) else _NOT_SHAREABLE)
        return statement

    def _remember(self, key: str, value: Statement | object) -> None:
        with self._lock:
            self._templates[key] = value
            while len(self._templates) > self._max:
                self._templates.popitem(last=False)

    def __contains__(self, text: object) -> bool:
        return text in self._analyzer


def _with_text(t: Statement, text: str) -> Statement:
    """The template's analysis for another text of it. Built field by field: this runs for
    every such statement, and ``dataclasses.replace`` costs several times more."""
    return Statement(
        text,
        t.operation,
        t.effects,
        t.relations,
        t.functions,
        t.unfiltered,
        t.statement_count,
        t.complete,
        t.dialect,
        t.notes,
        text,  # redacted_text: a template has nothing to redact
        t.settings,
        t.features,
        t,  # shape: the analysis it shares
    )


def shareable(statement: Statement, text: str) -> bool:
    # Constants also decide settings and features (set_config('role', ...)) and whether a
    # connection string holds a password (dblink_connect('host=... password=...')): such
    # statements never become templates.
    called = {name.rpartition(".")[2].lower() for name in statement.functions}
    return (
        statement.complete
        and statement.effects <= TEMPLATE_SAFE_EFFECTS
        and not statement.unfiltered
        and not statement.settings
        and not statement.features
        and called.isdisjoint(CONSTANT_SENSITIVE_FUNCTIONS)
        and statement.redacted_text in ("", text)
    )
