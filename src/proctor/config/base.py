"""The base of every configuration model: frozen, strict about keys, discreet about secrets.

Values resolved from ``${env:...}`` / ``${file:...}`` references are ordinary strings on the
model (the gateway needs them), but each model remembers, per field, the text as written.
``repr`` and ``public_view`` (the input to ``ProctorConfig.fingerprint``) show that text, so a
secret cannot reach a log line through ``repr(config)`` or enter a fingerprint.
``model_dump`` still returns resolved values: it is for code that needs them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from proctor.config.paths import KeyPath

HIDDEN = "<hidden>"


class ConfigModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",  # a misspelt key is an error, never silently ignored
        validate_default=True,  # defaults go through the same validators (paths made absolute)
        hide_input_in_errors=True,  # str(ValidationError) must not print a secret
    )

    # Sub-sections that may be omitted or left empty ("gateway:" with every key commented
    # out) to take all their defaults; name -> factory for the empty value.
    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {}

    # Field name -> the field's value as written in the file, for fields that used a reference.
    _written_as: dict[str, object] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _fill_omitted_sections(cls, data: object) -> object:
        if not cls.omitted_sections or not isinstance(data, dict):
            return data
        filled = dict(data)
        for name, empty in cls.omitted_sections.items():
            if filled.get(name) is None:
                filled[name] = empty()
        return filled

    def uses_reference(self, field_name: str) -> bool:
        """Whether the field's value came (at least partly) from a secret reference."""
        return field_name in self._written_as

    def written_value(self, field_name: str) -> object:
        """The field as written in the file if it used a reference, else its value."""
        return self._written_as.get(field_name, getattr(self, field_name))

    def shown_value(self, field_name: str) -> object:
        """The field as it may be shown: references as written, literal secrets hidden.

        Models with literal secrets (passwords, URLs with a password) override this.
        """
        return self.written_value(field_name)

    def public_view(self) -> dict[str, object]:
        """JSON-ready content with no secret values, for fingerprints and display."""
        return {name: _public(self.shown_value(name)) for name in type(self).model_fields}

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name is not None and name in type(self).model_fields:
                yield name, self.shown_value(name)
            else:
                yield name, value


def _public(value: object) -> object:
    if isinstance(value, ConfigModel):
        return value.public_view()
    if isinstance(value, tuple | list):
        return [_public(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _public(item) for key, item in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def record_references(root: ConfigModel, references: dict[KeyPath, str]) -> None:
    """Tell each model which of its fields came from references, and how they were written."""
    for path, written in references.items():
        _record(root, path, written)


def _record(model: ConfigModel, path: KeyPath, written: str) -> None:
    name = path[0]
    if not isinstance(name, str) or name not in type(model).model_fields:
        return
    value = getattr(model, name)
    rest = path[1:]
    if rest and isinstance(value, ConfigModel):
        _record(value, rest, written)
    elif len(rest) > 1 and (item := _model_in_tuple(value, rest[0])) is not None:
        _record(item, rest[1:], written)
    else:
        # A leaf, or a plain container such as tags: swap the written text in at the path.
        model._written_as[name] = _substitute(model._written_as.get(name, value), rest, written)


def _model_in_tuple(value: object, index: str | int) -> ConfigModel | None:
    if isinstance(value, tuple) and isinstance(index, int) and 0 <= index < len(value):
        item = value[index]
        return item if isinstance(item, ConfigModel) else None
    return None


def _substitute(value: object, rest: KeyPath, written: str) -> object:
    if not rest:
        return written
    key = rest[0]
    if isinstance(value, dict) and key in value:
        return {k: (_substitute(v, rest[1:], written) if k == key else v) for k, v in value.items()}
    if isinstance(value, tuple | list) and isinstance(key, int) and key < len(value):
        return [(_substitute(v, rest[1:], written) if i == key else v) for i, v in enumerate(value)]
    return value
