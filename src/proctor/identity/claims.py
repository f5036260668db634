"""Reading claims: paths into a token's payload, conditions on them, templates over them.

A *claim path* names a value inside the claims: ``groups``, ``realm_access.roles`` (Keycloak),
``resource_access.proctor.roles``. Providers also use claim names that contain dots
(``https://acme.example/groups``, Kubernetes' ``kubernetes.io``): at each level the longest
run of path parts that is a key wins, so both forms work without any quoting.

A *condition* compares the value at a path with what the configuration expects (exact text,
one of several texts, a glob, or a regular expression). A claim holding a list (``groups``,
``amr``) satisfies a condition when any of its items does. Values that are not strings or
numbers (mappings, nested lists) never satisfy one: a condition says what a string must be.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_MISSING = object()


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at ``path``, or None when there is none."""
    value = _lookup(claims, path)
    return None if value is _MISSING else value


def _lookup(node: Any, path: str) -> Any:
    return _walk(node, path.split("."))


def _walk(node: Any, parts: list[str]) -> Any:
    # Longest key first at each level: "kubernetes.io.namespace" finds the "kubernetes.io"
    # key of a Kubernetes token, then "namespace" inside it.
    if not parts:
        return node
    if not isinstance(node, Mapping):
        return _MISSING
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut])
        if key in node:
            found = _walk(node[key], parts[cut:])
            if found is not _MISSING:
                return found
    return _MISSING


def claim_strings(claims: Mapping[str, Any], path: str) -> list[str]:
    """The value at ``path`` as a list of strings: a string, a number or a list of them.

    Some providers send one group as a string and several as a list, and some send a
    space-separated string for ``scope``-like claims; only the first two are normalized here
    (splitting on spaces would turn a group named "Domain Users" into two groups).
    """
    value = claim_at(claims, path)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        text = _scalar_text(item)
        if text is not None:
            out.append(text)
    return out


def _scalar_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class Match:
    """What a claim must be: one of ``exact`` texts, or a ``glob``, or a full ``regex`` match.

    Globs use ``fnmatchcase`` (case-sensitive; ``*`` also crosses ``/``, so write
    ``acme/*`` knowing that it matches ``acme/a/b`` too). Regular expressions must match the
    whole value.
    """

    exact: tuple[str, ...] = ()
    glob: str | None = None
    regex: re.Pattern[str] | None = None

    def accepts(self, text: str) -> bool:
        if self.exact:
            return text in self.exact
        if self.glob is not None:
            return fnmatch.fnmatchcase(text, self.glob)
        if self.regex is not None:
            return self.regex.fullmatch(text) is not None
        return False

    def describe(self) -> str:
        if self.exact:
            return " or ".join(repr(e) for e in self.exact)
        if self.glob is not None:
            return f"glob {self.glob!r}"
        assert self.regex is not None
        return f"regex {self.regex.pattern!r}"


@dataclass(frozen=True, slots=True)
class Condition:
    path: str
    match: Match

    def holds(self, claims: Mapping[str, Any]) -> bool:
        return any(self.match.accepts(text) for text in claim_strings(claims, self.path))


def all_hold(conditions: Iterable[Condition], claims: Mapping[str, Any]) -> bool:
    return all(condition.holds(claims) for condition in conditions)


def first_failing(conditions: Iterable[Condition], claims: Mapping[str, Any]) -> Condition | None:
    for condition in conditions:
        if not condition.holds(claims):
            return condition
    return None


class TemplateError(Exception):
    """A template names a claim the token does not have, or one with unsafe characters."""


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
# What a claim may contribute to a subject: no spaces, quotes, control characters or '{'.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9@._:/+=-]{1,200}")


def render_template(template: str, claims: Mapping[str, Any]) -> str:
    """``"svc:{kubernetes.io.namespace}"`` with the claim's value put in.

    The value must be a single short string of safe characters: a subject is shown in logs,
    recordings and error messages, and must not be able to impersonate another format.
    """

    def value(match: re.Match[str]) -> str:
        path = match.group(1)
        strings = claim_strings(claims, path)
        if len(strings) != 1:
            raise TemplateError(f"the token has no single value for claim {path!r}")
        text = strings[0]
        if not _SAFE_VALUE.fullmatch(text):
            raise TemplateError(f"claim {path!r} holds characters a subject may not contain")
        return text

    return _PLACEHOLDER.sub(value, template)


def template_paths(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)
