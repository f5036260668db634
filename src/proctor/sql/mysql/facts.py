"""What the MySQL analysis finds, collected while walking trees and reading tokens."""

from __future__ import annotations

from proctor.model import Access, Operation


class _Facts:
    def __init__(self) -> None:
        self.effects: set[Operation] = set()
        self.relations: dict[tuple[str | None, str, Access], None] = {}
        self.functions: set[str] = set()
        self.unfiltered: set[Operation] = set()
        self.settings: set[str] = set()
        self.features: set[str] = set()
        self.notes: list[str] = []
        self.complete = True
        self.secrets: list[tuple[int, int]] = []  # inclusive character spans to mask

    def incomplete(self, note: str) -> None:
        self.complete = False
        if note not in self.notes:
            self.notes.append(note)

    def relation(self, schema: str | None, name: str, access: Access) -> None:
        self.relations.setdefault((schema, name, access), None)
