"""What the evidence pack reads from the store, streamed, and the configuration versions table.

An audit period can hold millions of statements: every reader here yields rows in batches
(``yield_per``) inside one read transaction instead of loading the period into memory.

``config_versions`` remembers each distinct configuration and policy a gateway ran with (by
SHA-256) and when it was first and last started with it; the pack's ``config_changes.csv``
shows which versions were in force during the period.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    ColumnElement,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, RowMapping

from proctor.model import AccessGrant, ApprovalRequest, StatementRecord
from proctor.store.approvals import (
    ApprovalStore,
    _grant,
    _request,
    access_grants,
    approval_requests,
)
from proctor.store.schema import UtcDateTime, metadata, sessions, statements
from proctor.store.sessions import SessionRow, session_from_row, statement_from_row
from proctor.store.tables import TablesOnStore

BATCH = 1000

config_versions = Table(
    "config_versions",
    metadata,
    Column("kind", String(16), nullable=False),  # "config" or "policy"
    Column("sha256", String(64), nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    # Where it was read from (a path) — never the content, which may name secret references.
    Column("source", Text),
    PrimaryKeyConstraint("kind", "sha256"),
)


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    kind: str
    sha256: str
    first_seen_at: datetime
    last_seen_at: datetime
    source: str | None = None


class EvidenceStore(TablesOnStore):
    """Period readers for the evidence pack, on the same database as a ``SqlStore``."""

    # -- configuration versions -------------------------------------------------------------

    def config_seen(
        self, kind: str, sha256: str, source: str | None = None, at: datetime | None = None
    ) -> None:
        """A gateway started with this configuration (or policy): remember when."""
        when = at or datetime.now(UTC)
        c = config_versions.c
        with self._tx(write=True) as conn:
            updated = conn.execute(
                update(config_versions)
                .where(c.kind == kind, c.sha256 == sha256)
                .values(last_seen_at=when, source=source)
            )
            if not updated.rowcount:
                conn.execute(
                    insert(config_versions).values(
                        kind=kind,
                        sha256=sha256,
                        first_seen_at=when,
                        last_seen_at=when,
                        source=source,
                    )
                )

    def config_versions(self) -> list[ConfigVersion]:
        """Every version ever seen, oldest first."""
        c = config_versions.c
        with self._tx() as conn:
            rows = conn.execute(
                select(config_versions).order_by(c.first_seen_at, c.kind, c.sha256)
            ).mappings()
            return [
                ConfigVersion(
                    r["kind"], r["sha256"], r["first_seen_at"], r["last_seen_at"], r["source"]
                )
                for r in rows
            ]

    # -- the period -------------------------------------------------------------------------

    def sessions_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> Iterator[SessionRow]:
        """Sessions started in ``[start, end)``, oldest first."""
        query = (
            select(sessions)
            .where(*_session_scope(start, end, connections))
            .order_by(sessions.c.started_at, sessions.c.id)
        )
        with self._tx() as conn:
            for row in conn.execution_options(yield_per=BATCH).execute(query).mappings():
                yield session_from_row(row)

    def statements_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> Iterator[tuple[StatementRecord, str, str]]:
        """The statements of the sessions in scope, each with its session's subject and
        connection, by session then sequence."""
        query = (
            select(
                statements,
                sessions.c.subject.label("session_subject"),
                sessions.c.connection.label("session_connection"),
            )
            .join(sessions, sessions.c.id == statements.c.session_id)
            .where(*_session_scope(start, end, connections))
            .order_by(sessions.c.started_at, statements.c.session_id, statements.c.seq)
        )
        with self._tx() as conn:
            for row in conn.execution_options(yield_per=BATCH).execute(query).mappings():
                yield statement_from_row(row), row["session_subject"], row["session_connection"]

    def count_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> tuple[int, int]:
        """(sessions, statements) in scope: the length of a progress bar."""
        where = _session_scope(start, end, connections)
        with self._tx() as conn:
            n_sessions = conn.execute(select(func.count()).select_from(sessions).where(*where))
            n_statements = conn.execute(
                select(func.count())
                .select_from(statements.join(sessions, sessions.c.id == statements.c.session_id))
                .where(*where)
            )
            return int(n_sessions.scalar_one()), int(n_statements.scalar_one())

    def requests_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> Iterator[ApprovalRequest]:
        """Approval and access requests made in ``[start, end)``, with their decisions."""
        c = approval_requests.c
        where: list[ColumnElement[bool]] = [c.created_at >= start, c.created_at < end]
        if connections:
            where.append(c.connection.in_(list(connections)))
        query = select(approval_requests).where(*where).order_by(c.created_at, c.id)
        with self._tx() as conn:
            batch: list[RowMapping] = []
            for row in conn.execution_options(yield_per=BATCH).execute(query).mappings():
                batch.append(row)
                if len(batch) == BATCH:
                    yield from _with_decisions(conn, batch)
                    batch = []
            yield from _with_decisions(conn, batch)

    def grants_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> Iterator[AccessGrant]:
        """Access grants whose window overlaps ``[start, end)``, oldest first."""
        c = access_grants.c
        where: list[ColumnElement[bool]] = [c.starts_at < end, c.expires_at > start]
        if connections:
            where.append(c.connection.in_(list(connections)))
        query = select(access_grants).where(*where).order_by(c.starts_at, c.id)
        with self._tx() as conn:
            for row in conn.execution_options(yield_per=BATCH).execute(query).mappings():
                yield _grant(row)


def _session_scope(
    start: datetime, end: datetime, connections: Sequence[str]
) -> list[ColumnElement[bool]]:
    c = sessions.c
    where: list[ColumnElement[bool]] = [c.started_at >= start, c.started_at < end]
    if connections:
        where.append(c.connection.in_(list(connections)))
    return where


def _with_decisions(conn: Connection, rows: list[RowMapping]) -> Iterator[ApprovalRequest]:
    decisions = ApprovalStore._decisions(conn, [r["id"] for r in rows])
    for row in rows:
        yield _request(row, decisions.get(row["id"], ()))
