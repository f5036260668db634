"""Pydantic errors -> ``ConfigProblem``: where in the file, what was expected, what was found.

Pydantic's own messages ("Input should be a valid integer") say what is expected but not what
was found, nor where in the YAML. This module adds both, suggests the closest known key for a
misspelt one, and decides when the found value must not be shown: values that came from a
secret reference, and literal passwords or store URLs (which may embed a password).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from proctor.config.errors import ConfigProblem
from proctor.config.paths import KeyPath
from proctor.config.yaml_source import YamlDocument

_DICT_KEY_MARKER = "[key]"  # pydantic's last loc segment when a mapping key is invalid

# Errors whose message is complete without "found ...".
_NO_FOUND_VALUE = frozenset(
    {
        "missing",
        "extra_forbidden",
        "duplicate_name",
        "slack_user_conflict",
        "required_by_mode",
        "unused_for_mode",
        "unknown_connection",
    }
)
_COMPARISONS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_EXPECTED = {
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "dict_type": "expected a mapping",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "string_too_short": "expected a non-empty string",
    "missing": "required key is missing",
}
# Fields whose literal values are secrets or may contain one.
_SENSITIVE_FIELDS = frozenset(
    {
        "password",
        "url",
        "client_secret",
        "refresh_token_key",
        "sp_private_key",
        "hash_key",
        "secret_access_key",
        "secret",
        "signing_secret",
        "token",
    }
)


def validation_problems(
    errors: Iterable[ErrorDetails],
    document: YamlDocument,
    root: type[BaseModel],
    references: Mapping[KeyPath, str],
    already_reported: set[KeyPath],
) -> list[ConfigProblem]:
    """One problem per error, skipping paths whose reference already failed to resolve."""
    problems = []
    for error in errors:
        path, at_key = _path_of(error["loc"])
        if path in already_reported:
            continue
        message = _message(error, path, at_key, root, references)
        # An unknown key is pointed at by its key, not by the value below it.
        point_at_key = at_key or error["type"] == "extra_forbidden"
        problems.append(document.problem(path, message, at_key=point_at_key))
    return problems


def _path_of(loc: tuple[str | int, ...]) -> tuple[KeyPath, bool]:
    if loc and loc[-1] == _DICT_KEY_MARKER:
        return loc[:-1], True
    return loc, False


def _message(
    error: ErrorDetails,
    path: KeyPath,
    at_key: bool,
    root: type[BaseModel],
    references: Mapping[KeyPath, str],
) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return unknown_key_message(path, root)
    reference = references.get(path)
    if kind == "file_missing" and reference is not None:
        return f"no such file (the path comes from {reference}, not shown)"
    expected = _expected(kind, error["msg"])
    if at_key:
        expected = f"invalid key: {expected}"
    if kind in _NO_FOUND_VALUE or kind == "file_missing":
        return expected
    value = error["input"]
    if reference is not None:
        return f"{expected}, found the value of {reference} (not shown)"
    if not at_key and _is_sensitive(path):
        return f"{expected}, found {_kind_of(value)} (not shown)"
    return f"{expected}, found {describe(value)}{_quoting_hint(kind, value)}"


def _expected(kind: str, pydantic_message: str) -> str:
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind in _COMPARISONS:
        return "expected a value " + pydantic_message.removeprefix("Input should be ")
    for prefix in ("Input should be ", "String should have ", "Value should have "):
        if pydantic_message.startswith(prefix):
            return "expected " + pydantic_message.removeprefix(prefix)
    return pydantic_message  # our own validators already say "expected ..."


def unknown_key_message(path: KeyPath, root: type[BaseModel]) -> str:
    """``unknown key 'x'; did you mean 'y'?`` for the key at ``path`` below model ``root``."""
    key = str(path[-1])
    allowed = keys_allowed_at(root, path[:-1])
    message = f"unknown key {key!r}"
    if not allowed:
        return message
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; expected one of: {', '.join(allowed)}"


def keys_allowed_at(root: type[BaseModel], path: KeyPath) -> list[str]:
    """The keys (aliases where defined) of the model found at ``path`` below ``root``."""
    model: type[BaseModel] | None = root
    for segment in path:
        if model is None:
            return []
        if isinstance(segment, int):  # an item of a list of models
            continue
        field = _field(model, segment)
        model = _model_in(field.annotation) if field is not None else None
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _field(model: type[BaseModel], key: str) -> typing.Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model class inside ``X``, ``X | None``, ``tuple[X, ...]``, ``Annotated[...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        model = _model_in(argument)
        if model is not None:
            return model
    return None


def _is_sensitive(path: KeyPath) -> bool:
    return bool(path) and path[-1] in _SENSITIVE_FIELDS


def describe(value: object) -> str:
    """A short, user-facing description of a YAML value."""
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    return _kind_of(value)


def _kind_of(value: object) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"  # e.g. a date: YAML reads 2024-01-01 as one


def _quoting_hint(kind: str, value: object) -> str:
    if kind != "string_type":
        return ""
    if isinstance(value, bool):
        return " (YAML reads unquoted true and false as booleans: quote the value)"
    if isinstance(value, int | float):
        return " (quote the value to make it a string)"
    return ""
