"""Run-time settings in the startup packet, as the policy must see them.

Every startup parameter other than ``user``/``database``/``options`` is a run-time setting
(``role=admin`` works), and ``options='-c role=admin'`` sets more, before the first statement,
exactly as ``SET`` would — including ``role`` and ``session_authorization``. Passed upstream
unexamined they would let a client do at connection time what the policy refuses as a
statement. So each setting is turned into the equivalent ``SET`` statement and judged like
one; any other backend switch in ``options`` is refused (fail closed).
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\Z")


class OptionsError(ValueError):
    """``options`` holds something other than run-time settings."""


def _split(options: str) -> list[str]:
    """Split as PostgreSQL does (pg_split_opts): on whitespace, backslash escapes the next char."""
    words: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in options:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def settings_in_options(options: str) -> list[tuple[str, str]]:
    """The (name, value) settings of an ``options`` string; OptionsError for anything else."""
    out: list[tuple[str, str]] = []
    words = _split(options)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c":
            if i + 1 >= len(words):
                raise OptionsError("'-c' without a setting in the startup options")
            item = words[i + 1]
            i += 2
        elif word.startswith("-c") or word.startswith("--"):
            item, i = word[2:], i + 1
        else:
            raise OptionsError(f"only -c name=value settings are allowed in options, not {word!r}")
        name, sep, value = item.partition("=")
        name = name.replace("-", "_")
        if not sep or not _NAME.match(name):
            raise OptionsError(f"malformed setting {item!r} in the startup options")
        out.append((name, value))
    return out


def startup_settings(
    params: dict[str, str], reserved: frozenset[str] | set[str]
) -> list[tuple[str, str]]:
    """Every setting the startup parameters make, in order; OptionsError when malformed."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        if key in reserved or key == "options" or key.startswith("_pq_."):
            continue
        if not _NAME.match(key):
            raise OptionsError(f"malformed startup parameter name {key!r}")
        out.append((key, value))
    out += settings_in_options(params.get("options", ""))
    return out


def as_set_statement(name: str, value: str) -> str:
    quoted = "'" + value.replace("'", "''") + "'"
    return f"SET {name} TO {quoted}"
