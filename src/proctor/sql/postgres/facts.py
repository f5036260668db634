"""What the PostgreSQL walker carries down with each node (``_Ctx``) and what it finds
(``_Facts``), and the state every walker of one analysis shares (``_Batch``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from proctor.model import Access, Operation, Statement

Op = Operation


class _Ctx(NamedTuple):
    scope: frozenset[str]  # CTE names visible here
    effective: bool  # False under plain EXPLAIN: nothing executes
    schema: str | None  # CREATE SCHEMA: where unqualified new objects go
    prefix: str  # "" for session SETs; "function:", "role:", "database:" otherwise


_ROOT = _Ctx(frozenset(), True, None, "")


class _Facts:
    """What a walk found; merged upwards for PREPARE and EXECUTE."""

    __slots__ = (
        "complete",
        "effects",
        "features",
        "functions",
        "notes",
        "relations",
        "settings",
        "unfiltered",
    )

    def __init__(self) -> None:
        self.effects: set[Operation] = set()
        self.relations: dict[tuple[str | None, str, Access], None] = {}
        self.functions: set[str] = set()
        self.unfiltered: set[Operation] = set()
        self.settings: set[str] = set()
        self.features: set[str] = set()
        self.notes: list[str] = []
        self.complete = True

    def incomplete(self, note: str) -> None:
        self.complete = False
        if note not in self.notes:
            self.notes.append(note)

    def note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def merge(self, other: _Facts, *, effective: bool = True) -> None:
        if effective:
            self.effects |= other.effects - {Op.PREPARE}
            self.unfiltered |= other.unfiltered
            self.settings |= other.settings
            self.features |= other.features
            for key in other.relations:
                self.relations.setdefault(key, None)
        else:  # under plain EXPLAIN: what the statement touches, read-only
            for schema, name, _access in other.relations:
                self.relations.setdefault((schema, name, Access.READ), None)
        self.functions |= other.functions
        for note in other.notes:
            self.note(note)
        if not other.complete:
            self.complete = False

    @classmethod
    def of(cls, statement: Statement) -> _Facts:
        facts = cls()
        facts.effects = set(statement.effects)
        facts.relations = {(r.schema, r.name, r.access): None for r in statement.relations}
        facts.functions = set(statement.functions)
        facts.unfiltered = set(statement.unfiltered)
        facts.settings = set(statement.settings)
        facts.features = set(statement.features)
        facts.notes = list(statement.notes)
        facts.complete = statement.complete and statement.operation is not Op.UNKNOWN
        return facts


class _Batch:
    """State shared by every walker of one analysis: SQL-level prepared statements."""

    __slots__ = ("all_deallocated", "deallocated", "defined", "depends", "prepared")

    def __init__(self, prepared: Mapping[str, Statement] | None) -> None:
        self.prepared = prepared
        self.defined: dict[str, _Facts] = {}  # PREPAREd earlier in this text
        self.deallocated: set[str] = set()
        self.all_deallocated = False
        self.depends = False  # the result used ``prepared``: do not cache it
