"""From a provider's claims (OIDC) or attributes (SAML) to Proctor groups, and other helpers
every kind of people-provider shares: one mapping, so a rule means the same everywhere.

``GroupMapper`` applies a ``groups:`` section: values of the listed claim paths are mapped
(``map``), kept as they are (no map, or ``keep_unmapped``) when they are safe to show, and
``rules`` add groups when every condition holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from proctor.config.identity import ClaimMatch, GroupsConfig
from proctor.identity.claims import Condition, Match, all_hold, claim_strings

# Provider group names passed through unmapped: printable, no separators that could confuse
# a policy or a log line.
PASSABLE_GROUP = re.compile(r"[^\s\x00-\x1f\x7f,;]{1,128}")
# What may name a person: it becomes the PostgreSQL user name and appears in recordings.
SAFE_SUBJECT = re.compile(r"[A-Za-z0-9@._:/+=|-]{1,200}")


def to_match(config: ClaimMatch) -> Match:
    return Match(
        exact=config.exact,
        glob=config.glob,
        regex=re.compile(config.regex) if config.regex is not None else None,
    )


def to_conditions(conditions: Mapping[str, ClaimMatch]) -> tuple[Condition, ...]:
    return tuple(Condition(path, to_match(match)) for path, match in conditions.items())


class GroupMapper:
    def __init__(self, config: GroupsConfig) -> None:
        self.config = config
        self._rules = [(to_conditions(r.when), r.groups) for r in config.rules]

    def groups(self, claims: Mapping[str, Any]) -> set[str]:
        cfg = self.config
        out: set[str] = set()
        for path in cfg.claims:
            for value in claim_strings(claims, path):
                mapped = cfg.map.get(value)
                if mapped is not None:
                    out.update(mapped)
                elif cfg.keeps_unmapped and PASSABLE_GROUP.fullmatch(value):
                    out.add(value)
        for conditions, groups in self._rules:
            if all_hold(conditions, claims):
                out.update(groups)
        return out


def string_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
