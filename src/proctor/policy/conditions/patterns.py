"""Name matching compiled once at load: exact names in a frozenset, ``*`` / ``?`` globs in
one regular expression, and ``schema.name`` globs over database objects."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SEPARATOR = "\x1f"  # between schema and name when matching "schema.name" globs


def glob_regex(pattern: str, *, any_text: str = ".*", one_char: str = ".") -> str:
    """``*`` and ``?`` as wildcards, everything else literal."""
    return "".join(
        any_text if char == "*" else one_char if char == "?" else re.escape(char)
        for char in pattern
    )


class NameSet:
    """Names and globs: exact names in a frozenset, globs in one compiled regex."""

    __slots__ = ("_exact", "_globs", "_ignore_case", "patterns")

    def __init__(self, patterns: Iterable[str], *, ignore_case: bool = False) -> None:
        self.patterns = tuple(patterns)
        self._ignore_case = ignore_case
        fold = str.lower if ignore_case else str
        exact = [fold(p) for p in self.patterns if "*" not in p and "?" not in p]
        globs = [p for p in self.patterns if "*" in p or "?" in p]
        self._exact = frozenset(exact)
        flags = re.IGNORECASE if ignore_case else 0
        self._globs = (
            re.compile("|".join(f"(?:{glob_regex(g)})" for g in globs), flags) if globs else None
        )

    def __contains__(self, name: str) -> bool:
        if (name.lower() if self._ignore_case else name) in self._exact:
            return True
        return self._globs is not None and self._globs.fullmatch(name) is not None


class ObjectPatterns:
    """Globs over database objects: ``name`` (any schema) or ``schema.name``.

    An unqualified reference is matched against ``schema.name`` globs as if written in each of
    ``default_schemas`` (``public`` for tables; ``pg_catalog`` and ``public`` for functions).
    Identifiers are compared case-insensitively.
    """

    __slots__ = ("_bare", "_default_schemas", "_dotted", "patterns")

    def __init__(self, patterns: Iterable[str], default_schemas: tuple[str, ...]) -> None:
        self.patterns = tuple(patterns)
        self._default_schemas = default_schemas
        self._bare = NameSet((p for p in self.patterns if "." not in p), ignore_case=True)
        dotted = [p.split(".", 1) for p in self.patterns if "." in p]
        not_sep = f"[^{_SEPARATOR}]"
        self._dotted = (
            re.compile(
                "|".join(
                    f"(?:{glob_regex(s, any_text=not_sep + '*', one_char=not_sep)}"
                    f"{_SEPARATOR}{glob_regex(n, any_text=not_sep + '*', one_char=not_sep)})"
                    for s, n in dotted
                ),
                re.IGNORECASE,
            )
            if dotted
            else None
        )

    def matches(self, schema: str | None, name: str) -> bool:
        if name in self._bare:
            return True
        if self._dotted is None:
            return False
        for candidate in (schema,) if schema else self._default_schemas:
            if self._dotted.fullmatch(f"{candidate}{_SEPARATOR}{name}"):
                return True
        return False

    def matches_qualified(self, text: str) -> bool:
        schema, dot, name = text.rpartition(".")
        return self.matches(schema if dot else None, name)
