"""A bounded cache of analyses keyed by statement text: the hot path is one dict lookup.

Applications send the same statement texts again and again (prepared statements, ORMs,
pgbench), and analysis is deterministic, so each distinct text is parsed once. The cache is
an LRU bounded both in entries and in total characters held (a few huge statements must not
pin gigabytes). An analysis that consulted the caller's SQL-level prepared statements
(``EXECUTE name``) depends on more than the text and is only cached when computed without
them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from proctor.model import Statement
from proctor.sql.postgres import analyze

DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_CHARS = 32 * 1024 * 1024


class Analyzer:
    """``analyze_postgres`` with a bounded LRU in front. One per process is enough; methods
    are safe to call from several threads (one lock around the dictionary)."""

    __slots__ = ("_chars", "_entries", "_lock", "hits", "max_chars", "max_entries", "misses")

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, max_chars: int = DEFAULT_MAX_CHARS
    ) -> None:
        if max_entries < 0 or max_chars < 0:
            raise ValueError("cache bounds must not be negative")
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: OrderedDict[str, tuple[Statement, bool]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def analyze(
        self,
        text: str,
        prepared: Mapping[str, Statement] | None = None,
        *,
        standard_conforming_strings: bool = True,
    ) -> Statement:
        """As ``analyze_postgres``, served from the cache when the text was seen before."""
        if not standard_conforming_strings and "\\" in text:
            # rare (the session turned standard_conforming_strings off): not cached
            return analyze(text, prepared, standard_conforming_strings=False)[0]
        with self._lock:
            entry = self._entries.get(text)
            if entry is not None and (prepared is None or not entry[1]):
                self._entries.move_to_end(text)
                self.hits += 1
                return entry[0]
            self.misses += 1
        statement, depends = analyze(text, prepared)
        if depends and prepared is not None:
            return statement  # depends on the caller's prepared statements: not by text alone
        self._store(text, statement, depends)
        return statement

    def _store(self, text: str, statement: Statement, depends: bool) -> None:
        size = 2 * len(text)  # the text and its redacted copy
        if size > self.max_chars or self.max_entries == 0:
            return
        with self._lock:
            old = self._entries.pop(text, None)
            if old is not None:
                self._chars -= 2 * len(old[0].text)
            self._entries[text] = (statement, depends)
            self._chars += size
            while len(self._entries) > self.max_entries or self._chars > self.max_chars:
                _text, (old_statement, _) = self._entries.popitem(last=False)
                self._chars -= 2 * len(old_statement.text)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, text: object) -> bool:
        return text in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._chars = 0
