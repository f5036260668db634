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

import functools
import ipaddress
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import datetime

from proctor.model import Access, Connection, Identity, Operation, Statement
from proctor.policy.context import DecisionContext
from proctor.policy.fields import DAYS, OPERATION_GROUPS
from proctor.policy.schema import TablesCondition, TimeWindow

MAX_TEXT_SCAN = 64 * 1024  # characters of statement text a `text` regex looks at
_SEPARATOR = "\x1f"  # between schema and name when matching "schema.name" globs

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


_UNKNOWN = Operation.UNKNOWN  # a module constant: Enum class attributes are slow to look up


def is_incomplete(statement: Statement) -> bool:
    """Whether the analyzer could not see everything the command may do."""
    return (
        not statement.complete or statement.operation is _UNKNOWN or _UNKNOWN in statement.effects
    )


def glob_regex(pattern: str, *, any_text: str = ".*", one_char: str = ".") -> str:
    """``*`` and ``?`` as wildcards, everything else literal."""
    return "".join(
        any_text if char == "*" else one_char if char == "?" else re.escape(char)
        for char in pattern
    )


def _listed(values: Iterable[object], limit: int = 8) -> str:
    items = [str(value) for value in values]
    if len(items) > limit:
        items = [*items[:limit], f"... ({len(items) - limit} more)"]
    return ", ".join(items) if items else "-"


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


class Condition:
    """One condition of a rule. Subclasses set ``key`` (its name in the policy language)."""

    __slots__ = ()
    key = ""
    # True: the outcome depends on the statement alone, so it can be computed once per
    # (cached) statement and reused for every identity and connection.
    about_statement = False

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        raise NotImplementedError

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class Subjects(Condition):
    __slots__ = ("_names",)
    key = "subjects"

    def __init__(self, patterns: Iterable[str]) -> None:
        self._names = NameSet(patterns)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return identity.subject in self._names

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return f"subject {identity.subject!r} is not one of {_listed(self._names.patterns)}"

    def describe(self) -> str:
        return f"subjects: {_listed(self._names.patterns)}"


class Groups(Condition):
    __slots__ = ("_groups",)
    key = "groups"

    def __init__(self, groups: Iterable[str]) -> None:
        self._groups = frozenset(groups)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return not self._groups.isdisjoint(identity.groups)

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return (
            f"{identity.subject} is in none of the groups {_listed(sorted(self._groups))} "
            f"(their groups: {_listed(sorted(identity.groups))})"
        )

    def describe(self) -> str:
        return f"groups: {_listed(sorted(self._groups))}"


def claim_values(value: object) -> frozenset[str]:
    """An identity's claim as the set of strings a ``claims`` condition compares."""
    items = value if isinstance(value, list | tuple | set | frozenset) else (value,)
    texts: set[str] = set()
    for item in items:
        if isinstance(item, bool):
            texts.add("true" if item else "false")
        elif isinstance(item, str | int | float):
            texts.add(str(item))
    return frozenset(texts)


class Claims(Condition):
    __slots__ = ("_claims",)
    key = "claims"

    def __init__(self, claims: Mapping[str, Iterable[str]]) -> None:
        self._claims = tuple((key, frozenset(values)) for key, values in claims.items())

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        claims = identity.claims
        for key, wanted in self._claims:
            value = claims.get(key)
            if value is None:
                return False
            if isinstance(value, str):
                if value not in wanted:
                    return False
            elif wanted.isdisjoint(claim_values(value)):
                return False
        return True

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        for key, wanted in self._claims:
            value = identity.claims.get(key)
            if value is None:
                return f"{identity.subject} has no claim {key!r}"
            if wanted.isdisjoint(claim_values(value)):
                return f"claim {key!r} is {value!r}, not one of {_listed(sorted(wanted))}"
        return "claims hold"  # pragma: no cover - only asked when test() failed

    def describe(self) -> str:
        return "claims: " + "; ".join(f"{k}={_listed(sorted(v))}" for k, v in self._claims)


class Connections(Condition):
    __slots__ = ("_names",)
    key = "connections"

    def __init__(self, patterns: Iterable[str]) -> None:
        self._names = NameSet(patterns)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return connection.name in self._names

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return f"connection {connection.name!r} is not one of {_listed(self._names.patterns)}"

    def describe(self) -> str:
        return f"connections: {_listed(self._names.patterns)}"


class Tags(Condition):
    __slots__ = ("_tags",)
    key = "tags"

    def __init__(self, tags: Mapping[str, Iterable[str]]) -> None:
        self._tags = tuple((key, frozenset(values)) for key, values in tags.items())

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        tags = connection.tags
        for key, wanted in self._tags:  # noqa: SIM110 - a loop is faster than all()
            if tags.get(key) not in wanted:
                return False
        return True

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        for key, wanted in self._tags:
            value = connection.tags.get(key)
            if value is None:
                return f"connection {connection.name!r} has no tag {key!r}"
            if value not in wanted:
                return f"tag {key} is {value!r}, not one of {_listed(sorted(wanted))}"
        return "tags hold"  # pragma: no cover

    def describe(self) -> str:
        return "tags: " + "; ".join(f"{k}={_listed(sorted(v))}" for k, v in self._tags)


class Protocols(Condition):
    __slots__ = ("_protocols",)
    key = "protocols"

    def __init__(self, protocols: Iterable[str]) -> None:
        self._protocols = frozenset(protocols)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return context.protocol in self._protocols

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return f"protocol {context.protocol} is not one of {_listed(sorted(self._protocols))}"

    def describe(self) -> str:
        return f"protocols: {_listed(sorted(self._protocols))}"


def _operations(names: Iterable[str]) -> frozenset[Operation]:
    """Operation names and group names (ddl, dml, write) -> the operations they stand for."""
    operations: set[Operation] = set()
    for name in names:
        group = OPERATION_GROUPS.get(name)
        operations |= group if group is not None else {Operation(name)}
    return frozenset(operations)


class Operations(Condition):
    """Any of the statement's effects (not only its top-level operation)."""

    __slots__ = ("_names", "_operations")
    key = "operations"
    about_statement = True

    def __init__(self, names: Iterable[str]) -> None:
        self._names = tuple(names)
        self._operations = _operations(self._names)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return statement.operation in self._operations or not self._operations.isdisjoint(
            statement.effects
        )

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        effects = sorted({statement.operation, *statement.effects})
        return f"its effects ({_listed(effects)}) include none of {_listed(self._names)}"

    def describe(self) -> str:
        return f"operations: {_listed(self._names)}"


class OnlyOperations(Condition):
    """Every effect of the statement is one of these: for allow-lists."""

    __slots__ = ("_names", "_operations")
    key = "only_operations"
    about_statement = True

    def __init__(self, names: Iterable[str]) -> None:
        self._names = tuple(names)
        self._operations = _operations(self._names)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return statement.operation in self._operations and statement.effects <= self._operations

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        outside = sorted({statement.operation, *statement.effects} - self._operations)
        return f"it also does {_listed(outside)}, which is not among {_listed(self._names)}"

    def describe(self) -> str:
        return f"only_operations: {_listed(self._names)}"


class Tables(Condition):
    __slots__ = ("_access", "_patterns")
    key = "tables"
    about_statement = True

    def __init__(self, condition: TablesCondition) -> None:
        self._patterns = ObjectPatterns(condition.names, default_schemas=("public",))
        self._access = None if condition.access == "any" else Access(condition.access)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        access = self._access
        for relation in statement.relations:
            if (access is None or relation.access is access) and self._patterns.matches(
                relation.schema, relation.name
            ):
                return True
        return False

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        seen = _listed(f"{r.qualified} ({r.access})" for r in statement.relations)
        how = f" with {self._access} access" if self._access else ""
        return f"no table{how} matches {_listed(self._patterns.patterns)} (tables: {seen})"

    def describe(self) -> str:
        how = f" ({self._access})" if self._access else ""
        return f"tables: {_listed(self._patterns.patterns)}{how}"


class Functions(Condition):
    __slots__ = ("_patterns",)
    key = "functions"
    about_statement = True

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = ObjectPatterns(patterns, default_schemas=("pg_catalog", "public"))

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        matches = self._patterns.matches_qualified
        for function in statement.functions:  # noqa: SIM110 - a loop is faster than any()
            if matches(function):
                return True
        return False

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        seen = _listed(sorted(statement.functions))
        return f"no function matches {_listed(self._patterns.patterns)} (functions: {seen})"

    def describe(self) -> str:
        return f"functions: {_listed(self._patterns.patterns)}"


class Features(Condition):
    __slots__ = ("_features",)
    key = "features"
    about_statement = True

    def __init__(self, features: Iterable[str]) -> None:
        self._features = frozenset(features)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return not self._features.isdisjoint(statement.features)

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return (
            f"it uses none of {_listed(sorted(self._features))} "
            f"(features: {_listed(sorted(statement.features))})"
        )

    def describe(self) -> str:
        return f"features: {_listed(sorted(self._features))}"


class Settings(Condition):
    """Server settings the command changes (``search_path``, ``role``, ``system:*`` ...)."""

    __slots__ = ("_names",)
    key = "settings"
    about_statement = True

    def __init__(self, patterns: Iterable[str]) -> None:
        self._names = NameSet(patterns, ignore_case=True)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        names = self._names
        for setting in statement.settings:  # noqa: SIM110 - a loop is faster than any()
            if setting in names:
                return True
        return False

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return (
            f"it changes no setting matching {_listed(self._names.patterns)} "
            f"(settings: {_listed(sorted(statement.settings))})"
        )

    def describe(self) -> str:
        return f"settings: {_listed(self._names.patterns)}"


class Unfiltered(Condition):
    """``true``: an UPDATE/DELETE without WHERE; a list: one of those; ``false``: none."""

    __slots__ = ("_operations", "_wanted")
    key = "unfiltered"
    about_statement = True

    def __init__(self, value: bool | tuple[str, ...]) -> None:
        self._wanted = value is not False
        chosen = value if isinstance(value, tuple) else ("update", "delete")
        self._operations = frozenset(Operation(name) for name in chosen)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        unfiltered = not self._operations.isdisjoint(statement.unfiltered)
        return unfiltered is self._wanted

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        if self._wanted:
            return f"no {'/'.join(sorted(self._operations)).upper()} without WHERE"
        return f"it has {_listed(sorted(statement.unfiltered))} without WHERE"

    def describe(self) -> str:
        if not self._wanted:
            return "unfiltered: false"
        return f"unfiltered: {_listed(sorted(self._operations))}"


class Complete(Condition):
    __slots__ = ("_complete",)
    key = "complete"
    about_statement = True

    def __init__(self, complete: bool) -> None:
        self._complete = complete

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return is_incomplete(statement) is not self._complete

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return (
            "the statement was fully analyzed"
            if not self._complete
            else ("the statement could not be fully analyzed")
        )

    def describe(self) -> str:
        return f"complete: {str(self._complete).lower()}"


@functools.lru_cache(maxsize=4096)
def parse_address(text: str) -> IpAddress | None:
    """A client address as an IP address; IPv4-mapped IPv6 (::ffff:a.b.c.d) as IPv4."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ClientAddresses(Condition):
    __slots__ = ("_networks", "_unsure")
    key = "client_addresses"

    def __init__(self, networks: Iterable[str], *, unsure: bool) -> None:
        self._networks = tuple(ipaddress.ip_network(n) for n in networks)
        self._unsure = unsure

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        text = context.client_addr
        address = parse_address(text) if text else None
        if address is None:
            return self._unsure
        return any(address in network for network in self._networks)

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        if not context.client_addr or parse_address(context.client_addr) is None:
            return "the client address is unknown (counted as not matching for this rule)"
        return f"client address {context.client_addr} is in none of {_listed(self._networks)}"

    def describe(self) -> str:
        return f"client_addresses: {_listed(self._networks)}"


class _Window:
    __slots__ = ("days", "hours", "zone")

    def __init__(self, window: TimeWindow) -> None:
        self.days = frozenset(day for span in window.days for day in span)
        self.hours = tuple(window.hours)
        self.zone = zoneinfo.ZoneInfo(window.timezone)

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        if local.weekday() not in self.days:
            return False
        minute = local.hour * 60 + local.minute
        for start, end in self.hours:
            if start < end:
                if start <= minute < end:
                    return True
            elif minute >= start or minute < end:  # wraps past midnight: 22:00-06:00
                return True
        return False

    def describe(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days))
        hours = ",".join(
            f"{s // 60:02}:{s % 60:02}-{e // 60:02}:{e % 60:02}" for s, e in self.hours
        )
        return f"{days} {hours} {self.zone.key}"


class Time(Condition):
    __slots__ = ("_windows",)
    key = "time"

    def __init__(self, windows: Iterable[TimeWindow]) -> None:
        self._windows = tuple(_Window(window) for window in windows)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        now = context.now
        return any(window.contains(now) for window in self._windows)

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return (
            f"{context.now.isoformat()} is outside {_listed(w.describe() for w in self._windows)}"
        )

    def describe(self) -> str:
        return f"time: {_listed(w.describe() for w in self._windows)}"


class Text(Condition):
    """A regular expression searched in the statement text: the last resort."""

    __slots__ = ("_regex", "_unsure")
    key = "text"
    about_statement = True

    def __init__(self, pattern: str, *, unsure: bool) -> None:
        self._regex = re.compile(pattern)
        self._unsure = unsure

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        text = statement.text
        if len(text) > MAX_TEXT_SCAN:
            return self._unsure
        return self._regex.search(text) is not None

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        if len(statement.text) > MAX_TEXT_SCAN:
            return f"the text is longer than {MAX_TEXT_SCAN} characters (counted as not matching)"
        return f"the text does not match /{self._regex.pattern}/"

    def describe(self) -> str:
        return f"text: /{self._regex.pattern}/"
