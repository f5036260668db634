"""Secret references: ``${env:NAME}`` and ``${file:PATH}`` inside string values.

Secrets live outside the config file and are pulled in at load. Any string value may be, or
contain, references; ``$${`` writes a literal ``${``. Resolution is a single pass: text that
comes out of a secret is never scanned again, so a password containing ``${`` stays as it is.

What this module promises about secrecy: messages name the key path and the reference text,
never a resolved value, and every path whose value used a reference is recorded so that
``repr``, fingerprints and error messages can show the reference instead of the secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from proctor.config.paths import KeyPath

REFERENCE_KINDS = ("env", "file")
MAX_SECRET_FILE_BYTES = 64 * 1024  # a key or a password, not /dev/zero

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UnresolvableReference(Exception):
    """A reference that cannot be resolved; the message is safe to show."""


@dataclass(slots=True)
class ResolvedDocument:
    data: object
    # Path -> the value exactly as written, for every value that used at least one reference.
    references: dict[KeyPath, str] = field(default_factory=dict)
    # (path, message) for every reference that failed; the value is left as written.
    failures: list[tuple[KeyPath, str]] = field(default_factory=list)


def resolve_references(
    data: object, base_dir: Path, environ: Mapping[str, str] | None = None
) -> ResolvedDocument:
    """Replace references in every string value of ``data`` (keys are never resolved)."""
    resolver = _Resolver(base_dir, os.environ if environ is None else environ)
    document = ResolvedDocument(data=None)
    document.data = resolver.walk(data, (), document)
    return document


class _Resolver:
    def __init__(self, base_dir: Path, environ: Mapping[str, str]) -> None:
        self._base_dir = base_dir
        self._environ = environ

    def walk(self, value: object, path: KeyPath, document: ResolvedDocument) -> object:
        if isinstance(value, dict):
            return {key: self.walk(item, (*path, key), document) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, (*path, index), document) for index, item in enumerate(value)]
        if isinstance(value, str):
            return self._string(value, path, document)
        return value

    def _string(self, text: str, path: KeyPath, document: ResolvedDocument) -> str:
        if "$" not in text:
            return text
        pieces: list[str] = []
        used_reference = False
        failed = False
        position = 0
        while (dollar := text.find("$", position)) >= 0:
            pieces.append(text[position:dollar])
            if text.startswith("$${", dollar):
                pieces.append("${")
                position = dollar + 3
            elif text.startswith("${", dollar):
                end = text.find("}", dollar + 2)
                if end < 0:
                    document.failures.append(
                        (
                            path,
                            "'${' starts a reference but has no closing '}' "
                            "(write '$${' for a literal '${')",
                        )
                    )
                    return text
                used_reference = True
                try:
                    pieces.append(self._lookup(text[dollar + 2 : end]))
                except UnresolvableReference as exc:
                    document.failures.append((path, str(exc)))
                    failed = True
                position = end + 1
            else:
                pieces.append("$")
                position = dollar + 1
        pieces.append(text[position:])
        if failed:
            return text
        if used_reference:
            document.references[path] = text
        return "".join(pieces)

    def _lookup(self, body: str) -> str:
        kind, colon, argument = body.partition(":")
        reference = "${" + body + "}"
        if not colon or kind not in REFERENCE_KINDS:
            raise UnresolvableReference(
                f"unknown reference {reference}: expected ${{env:NAME}} or ${{file:PATH}} "
                "(write '$${' for a literal '${')"
            )
        if kind == "env":
            return self._env(argument, reference)
        return self._file(argument, reference)

    def _env(self, name: str, reference: str) -> str:
        if not _ENV_NAME.fullmatch(name):
            raise UnresolvableReference(
                f"{reference}: expected an environment variable name "
                "(letters, digits and '_', not starting with a digit)"
            )
        value = self._environ.get(name)
        if value is None:
            raise UnresolvableReference(
                f"environment variable {name} is not set (from {reference})"
            )
        if not value:
            # Usually a deployment mistake, e.g. a compose file passing through an unset var.
            raise UnresolvableReference(
                f"environment variable {name} is set but empty (from {reference})"
            )
        return value

    def _file(self, argument: str, reference: str) -> str:
        if not argument:
            raise UnresolvableReference(f"{reference}: expected a file path after 'file:'")
        path = Path(argument).expanduser()
        if not path.is_absolute():
            path = self._base_dir / path
        try:
            with path.open("rb") as stream:
                raw = stream.read(MAX_SECRET_FILE_BYTES + 1)
        except FileNotFoundError:
            raise UnresolvableReference(
                f"secret file {path} not found (from {reference})"
            ) from None
        except OSError as exc:
            raise UnresolvableReference(
                f"cannot read secret file {path}: {exc.strerror or type(exc).__name__} "
                f"(from {reference})"
            ) from None
        if len(raw) > MAX_SECRET_FILE_BYTES:
            raise UnresolvableReference(
                f"secret file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes "
                f"(from {reference})"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UnresolvableReference(
                f"secret file {path} is not UTF-8 text (from {reference})"
            ) from None
        # Editors and `echo` add one newline; strip exactly one so deliberate whitespace survives.
        if text.endswith("\n"):
            text = text[:-1].removesuffix("\r")
        if not text:
            raise UnresolvableReference(f"secret file {path} is empty (from {reference})")
        return text
