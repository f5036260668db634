"""The base of the feature stores (identities, approvals, legal holds) that keep their tables
next to their methods and share one ``SqlStore``'s database and connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from proctor.store.sql import SqlStore


class TablesOnStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Connection]:
        # SqlStore's transaction helper: one short transaction on its pooled engine (and, for
        # SQLite, BEGIN IMMEDIATE for writers). Shared so every feature sees one database.
        with self._store._tx(write=write) as conn:
            yield conn
