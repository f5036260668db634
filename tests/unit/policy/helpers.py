"""Building blocks for policy tests: statements, identities, connections, policies."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from proctor.model import Access, Connection, Identity, Operation, RelationRef, Statement
from proctor.policy import DecisionContext, Policy, make_connection

# A Tuesday, 10:00 UTC.
TUESDAY = datetime(2025, 1, 7, 10, 0, tzinfo=UTC)


def stmt(
    operation: str = "select",
    *,
    effects: Iterable[str] = (),
    reads: Iterable[str] = (),
    writes: Iterable[str] = (),
    functions: Iterable[str] = (),
    features: Iterable[str] = (),
    settings: Iterable[str] = (),
    unfiltered: Iterable[str] = (),
    complete: bool = True,
    text: str | None = None,
) -> Statement:
    """A Statement built by hand; tables as 'name' or 'schema.name'."""
    op = Operation(operation)
    return Statement(
        text=text if text is not None else f"{operation} ...",
        operation=op,
        effects=frozenset({op, *(Operation(e) for e in effects)}),
        relations=tuple(
            [_relation(name, Access.READ) for name in reads]
            + [_relation(name, Access.WRITE) for name in writes]
        ),
        functions=frozenset(functions),
        features=frozenset(features),
        settings=frozenset(settings),
        unfiltered=frozenset(Operation(u) for u in unfiltered),
        complete=complete,
    )


def _relation(name: str, access: Access) -> RelationRef:
    schema, dot, table = name.rpartition(".")
    return RelationRef(table, schema if dot else None, access)


def who(subject: str = "alice", *groups: str, **claims: Any) -> Identity:
    return Identity(subject, frozenset(groups), claims=MappingProxyType(claims))


def conn(name: str = "shop", **tags: str) -> Connection:
    return make_connection(name, tags)


def ctx(
    *, client_addr: str | None = None, now: datetime = TUESDAY, protocol: str = "postgres"
) -> DecisionContext:
    return DecisionContext(client_addr=client_addr, now=now, protocol=protocol)


def policy(rules: Iterable[Mapping[str, Any]] = (), **top: Any) -> Policy:
    """A policy from rule dicts; ``default`` is allow unless given."""
    data: dict[str, Any] = {"version": 1, "default": "allow", **top, "rules": list(rules)}
    return Policy.from_dict(data)


def rule(name: str, action: str = "deny", **match: Any) -> dict[str, Any]:
    """A rule dict; a message is added for deny and review."""
    unless = match.pop("unless", None)
    data: dict[str, Any] = {"name": name, "action": action, "match": match}
    if action in ("deny", "review"):
        data["message"] = f"{name} says no"
    if unless is not None:
        data["unless"] = unless
    return data


def write_policy(directory: Path, text: str, name: str = "policy.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path
