"""Store table and methods of legal holds: recordings that retention must not delete.

A hold names one session or a whole connection (every session of it, past and future, until
released). Releasing keeps the row, with who released it and when: the history of holds is
itself audit evidence ("was this session under hold when it was purged?").

The table is declared on the store's ``metadata`` (``schema`` imports this module), so the
migrations and the schema-drift test see one schema.
"""

from __future__ import annotations

import builtins
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, ColumnElement, Index, Table, Text, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from proctor.store.schema import ID, UtcDateTime, metadata
from proctor.store.tables import TablesOnStore

if TYPE_CHECKING:
    pass

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", ID, primary_key=True),
    # Exactly one of session_id / connection is set (checked by ``LegalHoldStore.hold``).
    # No foreign key to sessions: a hold must outlive pruning of the SQL session rows, and
    # may name a session the store never saw (recordings are the authority).
    Column("session_id", ID),
    Column("connection", Text),
    Column("reason", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("released_at", UtcDateTime),  # NULL while the hold is active
    Column("released_by", Text),
    Index(None, "session_id"),
    Index(None, "connection"),
)


@dataclass(frozen=True, slots=True)
class LegalHold:
    id: str
    session_id: str | None
    connection: str | None
    reason: str
    created_by: str
    created_at: datetime
    released_at: datetime | None = None
    released_by: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    @property
    def target(self) -> str:
        return f"session {self.session_id}" if self.session_id else f"connection {self.connection}"


def new_hold_id() -> str:
    return "hld_" + secrets.token_hex(6)


def _now() -> datetime:
    return datetime.now(UTC)


class LegalHoldStore(TablesOnStore):
    """The legal holds table, on the same database (and connections) as a ``SqlStore``."""

    def hold(
        self,
        *,
        reason: str,
        created_by: str,
        session_id: str | None = None,
        connection: str | None = None,
        at: datetime | None = None,
    ) -> LegalHold:
        if (session_id is None) == (connection is None):
            raise ValueError("a legal hold names either a session or a connection")
        if not reason.strip():
            raise ValueError("a legal hold needs a reason")
        hold = LegalHold(new_hold_id(), session_id, connection, reason, created_by, at or _now())
        with self._tx(write=True) as conn:
            conn.execute(
                insert(legal_holds).values(
                    id=hold.id,
                    session_id=hold.session_id,
                    connection=hold.connection,
                    reason=hold.reason,
                    created_by=hold.created_by,
                    created_at=hold.created_at,
                )
            )
        return hold

    def release(
        self,
        *,
        released_by: str,
        hold_id: str | None = None,
        session_id: str | None = None,
        connection: str | None = None,
        at: datetime | None = None,
    ) -> list[LegalHold]:
        """Release the active holds matching exactly one of ``hold_id``, ``session_id``,
        ``connection``; returns those released (empty: none was active)."""
        if sum(x is not None for x in (hold_id, session_id, connection)) != 1:
            raise ValueError("release one hold id, one session or one connection")
        c = legal_holds.c
        where: builtins.list[ColumnElement[bool]] = [c.released_at.is_(None)]
        if hold_id is not None:
            where.append(c.id == hold_id)
        elif session_id is not None:
            where.append(c.session_id == session_id)
        else:
            where.append(c.connection == connection)
        when = at or _now()
        with self._tx(write=True) as conn:
            ids = conn.execute(select(c.id).where(*where)).scalars().all()
            if ids:
                conn.execute(
                    update(legal_holds)
                    .where(c.id.in_(ids), c.released_at.is_(None))
                    .values(released_at=when, released_by=released_by)
                )
            rows = conn.execute(select(legal_holds).where(c.id.in_(ids))).mappings().all()
        return [_hold(r) for r in rows]

    def list(self, *, include_released: bool = False) -> builtins.list[LegalHold]:
        query = select(legal_holds).order_by(legal_holds.c.created_at)
        if not include_released:
            query = query.where(legal_holds.c.released_at.is_(None))
        with self._tx() as conn:
            return [_hold(r) for r in conn.execute(query).mappings()]

    def holds_on(self, session_id: str, connection: str | None) -> builtins.list[LegalHold]:
        """The active holds that keep this session: on it, or on its connection."""
        c = legal_holds.c
        target: ColumnElement[bool] = c.session_id == session_id
        if connection is not None:
            target = or_(target, c.connection == connection)
        query = select(legal_holds).where(c.released_at.is_(None), target)
        with self._tx() as conn:
            return [_hold(r) for r in conn.execute(query).mappings()]


def _hold(row: RowMapping) -> LegalHold:
    return LegalHold(
        id=row["id"],
        session_id=row["session_id"],
        connection=row["connection"],
        reason=row["reason"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        released_at=row["released_at"],
        released_by=row["released_by"],
    )
