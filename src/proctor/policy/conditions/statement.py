"""Conditions on what the command does, as the analyzer saw it: operations, tables, functions,
features, settings, unfiltered writes, completeness, and a regex over the text."""

from __future__ import annotations

import re
from collections.abc import Iterable

from proctor.model import Access, Connection, Identity, Operation, Statement
from proctor.policy.conditions.base import Condition, _listed
from proctor.policy.conditions.patterns import NameSet, ObjectPatterns
from proctor.policy.context import DecisionContext
from proctor.policy.fields import OPERATION_GROUPS
from proctor.policy.schema import TablesCondition

MAX_TEXT_SCAN = 64 * 1024  # characters of statement text a `text` regex looks at

_UNKNOWN = Operation.UNKNOWN  # a module constant: Enum class attributes are slow to look up


def is_incomplete(statement: Statement) -> bool:
    """Whether the analyzer could not see everything the command may do."""
    return (
        not statement.complete or statement.operation is _UNKNOWN or _UNKNOWN in statement.effects
    )


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
