"""The interface every compiled condition implements, and how conditions list values in
their explanations."""

from __future__ import annotations

from collections.abc import Iterable

from proctor.model import Connection, Identity, Statement
from proctor.policy.context import DecisionContext


def _listed(values: Iterable[object], limit: int = 8) -> str:
    items = [str(value) for value in values]
    if len(items) > limit:
        items = [*items[:limit], f"... ({len(items) - limit} more)"]
    return ", ".join(items) if items else "-"


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
