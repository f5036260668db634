"""Compiled conditions: one small object per condition of a rule, built once at load.

Each condition answers ``test(statement, identity, connection, context) -> bool`` on the hot
path, and ``why_not(...)`` (slow, for ``explain``) says in words why it did not hold. All the
work that does not depend on the command happens in the constructors: globs become one
compiled regular expression (exact names a frozenset), networks are parsed, time zones
loaded, regexes compiled. What remains per decision is set intersections and a few regex
matches over short names.

When a condition cannot tell (the client address is unknown, or the statement text is longer
than ``MAX_TEXT_SCAN`` for a ``text`` regex), it answers ``unsure``: the compiler sets that to
whatever makes the rule more restrictive, so doubt never grants access (see docs/policy.md).
"""

from __future__ import annotations

from proctor.policy.conditions.base import Condition
from proctor.policy.conditions.connection import (
    ClientAddresses,
    Connections,
    IpAddress,
    Protocols,
    Tags,
    parse_address,
)
from proctor.policy.conditions.identity import Claims, Groups, Subjects, claim_values
from proctor.policy.conditions.patterns import NameSet, ObjectPatterns, glob_regex
from proctor.policy.conditions.statement import (
    MAX_TEXT_SCAN,
    Complete,
    Features,
    Functions,
    OnlyOperations,
    Operations,
    Settings,
    Tables,
    Text,
    Unfiltered,
    is_incomplete,
)
from proctor.policy.conditions.time_windows import Time

__all__ = [
    "MAX_TEXT_SCAN",
    "Claims",
    "ClientAddresses",
    "Complete",
    "Condition",
    "Connections",
    "Features",
    "Functions",
    "Groups",
    "IpAddress",
    "NameSet",
    "ObjectPatterns",
    "OnlyOperations",
    "Operations",
    "Protocols",
    "Settings",
    "Subjects",
    "Tables",
    "Tags",
    "Text",
    "Time",
    "Unfiltered",
    "claim_values",
    "glob_regex",
    "is_incomplete",
    "parse_address",
]
