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

Normalizing still costs a full parse (~6 µs alone; ~20-25 µs measured inside a busy gateway,
where the parser's tables are out of cache and it hands the GIL to other threads), for every
such statement. So plain texts also get a *skeleton* (`literal_skeleton`): the text with each
integer, decimal and string literal cut out, found by a lexer that gives up (returns None)
on anything outside a small, unambiguous subset of PostgreSQL's lexical grammar — no
comments, dollar quotes, parameters, prefixed strings (``E'…'``, ``U&'…'``), backslashes or
non-ASCII outside literals. Within that subset, two texts with equal skeletons lex to the
same tokens apart from literal values, so they parse to the same tree apart from constant
values and normalize alike — *provided* the normalizer replaced every one of those literals
(it leaves some, e.g. ``FETCH 5``; it merges ``'a'`` newline ``'b'``; it folds a minus into
``-5``). That is checked on the text that first fills a skeleton entry (`_replaces_each`);
only then does the skeleton map to that text's template, and later texts with the skeleton
skip the normalizer. A text the lexer gives up on stands for itself, when it normalizes to
itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TypeVar

import pglast.parser

from proctor.model import Operation, Statement
from proctor.sql.cache import Analyzer
from proctor.sql.catalog import CONSTANT_SENSITIVE_FUNCTIONS

_K = TypeVar("_K", str, bytes)

# Effects whose classification does not depend on the value of any constant.
TEMPLATE_SAFE_EFFECTS = frozenset({Operation.SELECT, Operation.INSERT})
_NOT_SHAREABLE = object()
# Longer texts are not worth a skeleton (bulk inserts): the lexer runs in Python, and the key
# would keep a copy of the text.
MAX_SKELETON_TEXT = 2048
# Ten digits can overflow int4, which turns an integer into a numeric constant: a different
# token (and node) for the same skeleton. Nine never do.
_MAX_INTEGER_DIGITS = 9
_CUT = b"\x00"  # stands for a literal in a skeleton (PostgreSQL texts cannot hold NUL)
_SPACE = frozenset(b" \t\n\r\f")
# Operator and punctuation characters; "--" and "/*" (comments) are refused where they meet.
_PUNCTUATION = frozenset(b"()[],;.:*/%+-<>=~!@#^&|?")


class TemplateAnalyzer:
    """``Analyzer`` plus the normalized-text templates above. Same interface."""

    __slots__ = ("_analyzer", "_lock", "_max", "_skeletons", "_templates", "template_hits")

    def __init__(self, analyzer: Analyzer | None = None, max_templates: int = 10_000) -> None:
        self._analyzer = analyzer or Analyzer()
        self._templates: OrderedDict[str, Statement | object] = OrderedDict()
        # skeleton -> what its texts' normalized form maps to in ``_templates``
        self._skeletons: OrderedDict[bytes, Statement | object] = OrderedDict()
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
        skeleton: bytes | None = None
        if len(text) <= MAX_SKELETON_TEXT:
            # A text the lexer gives up on is its own key: it is remembered only if it is its
            # own normalized form (no constants: ``... WHERE aid = $1`` of the extended
            # protocol, when another text already made its template and so the full
            # analyzer's cache never saw it).
            skeleton = literal_skeleton(text)
            if skeleton is None and "\x00" not in text:
                skeleton = text.encode("utf-8")
        if skeleton is not None:
            with self._lock:
                template = self._skeletons.get(skeleton)
                if template is not None:
                    self._skeletons.move_to_end(skeleton)
            if template is not None:
                return self._from_template(template, text, prepared)
        try:
            key = pglast.parser.normalize(text)
        except Exception:
            return inner.analyze(text, prepared)
        with self._lock:
            template = self._templates.get(key)
            if template is not None:
                self._templates.move_to_end(key)
        if template is None:
            statement = inner.analyze(text, prepared)
            template = statement if shareable(statement, text) else _NOT_SHAREABLE
            self._remember(self._templates, key, template)
        else:
            statement = self._from_template(template, text, prepared)
        if skeleton is not None and _replaces_each(key, skeleton):
            self._remember(self._skeletons, skeleton, template)
        return statement

    def _from_template(
        self, template: Statement | object, text: str, prepared: Mapping[str, Statement] | None
    ) -> Statement:
        if isinstance(template, Statement):
            self.template_hits += 1
            return _with_text(template, text)
        return self._analyzer.analyze(text, prepared)

    def _remember(
        self, cache: OrderedDict[_K, Statement | object], key: _K, value: Statement | object
    ) -> None:
        with self._lock:
            cache[key] = value
            while len(cache) > self._max:
                cache.popitem(last=False)

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


def literal_skeleton(text: str) -> bytes | None:
    """``text`` (as UTF-8) with every literal replaced by NUL, or None when ``text`` has
    anything this lexer does not read exactly as PostgreSQL's does (see the module's doc).

    Outside literals only ASCII identifiers and keywords, double-quoted identifiers,
    whitespace and `_PUNCTUATION` are accepted. Literals: integers of up to nine digits,
    decimals ``digits.digits``, and ``'…'`` strings (``''`` inside), none touching an
    identifier character, and strings not prefixed by a letter or ``&``.
    """
    if "\x00" in text:  # (on the str: ``in`` on bytes costs more than the whole lexer)
        return None
    data = text.encode("utf-8")
    n = len(data)
    pieces: list[bytes] = []
    copied = 0  # data[:copied] is in pieces already
    i = 0
    while i < n:
        c = data[i]
        if _ident_start(c):
            i += 1
            while i < n and _ident_part(data[i]):
                i += 1
            continue
        if 48 <= c <= 57:  # a number
            if i and data[i - 1] == 46:  # ".5"
                return None
            j = i
            while j < n and 48 <= data[j] <= 57:
                j += 1
            if j < n and data[j] == 46:  # a decimal: digits both sides of the point
                k = j + 1
                while k < n and 48 <= data[k] <= 57:
                    k += 1
                if k == j + 1:
                    return None
                j = k
            elif j - i > _MAX_INTEGER_DIGITS:
                return None
            if j < n and (_ident_part(data[j]) or data[j] == 46):  # 1e5, 0x1f, 12abc, 1.2.3
                return None
            pieces.append(data[copied:i])
            pieces.append(_CUT)
            copied = i = j
            continue
        if c == 39 or c == 34:  # a string literal, or a quoted identifier (kept as it is)
            if i and (_ident_part(data[i - 1]) or data[i - 1] == 38):  # E'', U&'', x''
                return None
            j = i + 1
            while True:
                if j >= n:
                    return None  # unterminated
                if data[j] == c:
                    if j + 1 < n and data[j + 1] == c:  # doubled: part of the literal
                        j += 2
                        continue
                    break
                j += 1
            if c == 39:
                pieces.append(data[copied:i])
                pieces.append(_CUT)
                copied = j + 1
            i = j + 1
            continue
        if c in _SPACE:
            i += 1
            continue
        if c in _PUNCTUATION:
            if i + 1 < n and ((c == 45 and data[i + 1] == 45) or (c == 47 and data[i + 1] == 42)):
                return None  # a comment
            i += 1
            continue
        return None
    pieces.append(data[copied:])
    return b"".join(pieces)


def _ident_start(c: int) -> bool:
    return (97 <= c <= 122) or (65 <= c <= 90) or c == 95


def _ident_part(c: int) -> bool:
    return (97 <= c <= 122) or (65 <= c <= 90) or (48 <= c <= 57) or c == 95 or c == 36


def _replaces_each(normalized: str, skeleton: bytes) -> bool:
    """Whether ``normalized`` is ``skeleton`` with each cut literal replaced by one ``$n``:
    the normalizer replaced exactly the literals the skeleton cut, no more, no fewer."""
    data = normalized.encode("utf-8")
    pieces = skeleton.split(_CUT)
    at = 0
    last = len(pieces) - 1
    for p, piece in enumerate(pieces):
        if not data.startswith(piece, at):
            return False
        at += len(piece)
        if p == last:
            break
        if at >= len(data) or data[at] != 36:  # "$"
            return False
        at += 1
        digits = at
        while at < len(data) and 48 <= data[at] <= 57:
            at += 1
        if at == digits:
            return False
    return at == len(data)
