"""Validation errors -> ``ConfigProblem``: file:line:column, key path, expected and found.

The same shape and quality as configuration errors (``proctor.config.validation``), with two
differences the policy language needs:

- shorthands (``x`` for ``[x]``, ``tables: [..]`` for ``tables: {names: [..]}``, ``expect:
  deny`` for ``expect: {action: deny}``) make pydantic report locations that are not in the
  file; ``written_path`` maps each back to the key path as written;
- keys may be aliases (``as`` in a test case), and suggestions for a misspelt key use them.

Policies hold no secrets, so found values are always shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from proctor.config.errors import ConfigProblem
from proctor.config.paths import KeyPath
from proctor.config.validation import describe, unknown_key_message
from proctor.config.yaml_source import YamlDocument

_DICT_KEY_MARKER = "[key]"  # pydantic's last loc segment when a mapping key is invalid
_COMPARISONS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
# Errors whose message is complete without "found ...".
_NO_FOUND_VALUE = frozenset(
    {
        "missing",
        "message_required",
        "message_unused",
        "review_unused",
        "unless_empty",
        "time_window",
        "connection_default",
    }
)
_EXPECTED = {
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "dict_type": "expected a mapping",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "too_short": "expected at least one item",
    "string_too_short": "expected a non-empty string",
    "missing": "required key is missing",
}


def validation_problems(
    errors: Iterable[ErrorDetails], document: YamlDocument, root: type[BaseModel]
) -> list[ConfigProblem]:
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        at_key = bool(loc) and loc[-1] == _DICT_KEY_MARKER
        if at_key:
            loc = loc[:-1]
        path = written_path(document.data, loc)
        if error["type"] == "extra_forbidden":
            message = unknown_key_message(loc, root)
            at_key = True
        else:
            message = _message(error, at_key)
        problems.append(document.problem(path, message, at_key=at_key))
    return problems


def written_path(data: object, loc: KeyPath) -> KeyPath:
    """``loc`` without the segments a shorthand added (the file has no such key or index)."""
    path: list[str | int] = []
    node: object = data
    missing = False
    for segment in loc:
        if missing:
            path.append(segment)
        elif isinstance(segment, int):
            if isinstance(node, list) and 0 <= segment < len(node):
                path.append(segment)
                node = node[segment]
            # else: a single value written for a list; it stands at the parent's path
        elif isinstance(node, dict):
            path.append(segment)
            if segment in node:
                node = node[segment]
            else:
                missing = True
        # else: a key a shorthand introduced ("names" in tables, "action" in expect)
    return tuple(path)


def _message(error: ErrorDetails, at_key: bool) -> str:
    kind = error["type"]
    expected = _expected(kind, error["msg"])
    if at_key:
        expected = f"invalid key: {expected}"
    context = error.get("ctx") or {}
    suggestion = context.get("suggestion")
    hint = f"; did you mean {suggestion!r}?" if isinstance(suggestion, str) else ""
    if kind in _NO_FOUND_VALUE:
        return expected + hint
    value = error.get("input")
    return f"{expected}, found {_describe(value)}{hint}{_quoting_hint(kind, value)}"


def _describe(value: object) -> str:
    if isinstance(value, datetime):
        return f"{value.isoformat()} (no UTC offset)" if value.tzinfo is None else value.isoformat()
    if isinstance(value, list | tuple | dict) and not value:
        return "an empty mapping" if isinstance(value, dict) else "an empty list"
    return describe(value)


def _expected(kind: str, pydantic_message: str) -> str:
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind in _COMPARISONS:
        return "expected a value " + pydantic_message.removeprefix("Input should be ")
    for prefix in ("Input should be ", "String should have ", "Value should have "):
        if pydantic_message.startswith(prefix):
            return "expected " + pydantic_message.removeprefix(prefix)
    return pydantic_message  # our own validators already say "expected ..."


def _quoting_hint(kind: str, value: object) -> str:
    if kind == "string_type" and isinstance(value, bool):
        return " (YAML reads unquoted true and false as booleans: quote the value)"
    if kind == "string_type" and isinstance(value, int | float):
        return " (quote the value to make it a string)"
    return ""
