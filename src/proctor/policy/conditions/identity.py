"""Conditions on who sends the command: the identity's subject, groups and claims."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from proctor.model import Connection, Identity, Statement
from proctor.policy.conditions.base import Condition, _listed
from proctor.policy.conditions.patterns import NameSet
from proctor.policy.context import DecisionContext


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
