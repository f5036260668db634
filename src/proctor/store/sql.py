"""``SqlStore``: the state store on SQLite or PostgreSQL.

Every method is one short transaction on a pooled connection, so the store is safe to call
from many threads at once (the gateway calls it from worker threads) and from several
processes sharing one database (see ``engine`` for how SQLite copes with that).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from itertools import chain
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from proctor.model import IssuedToken, SessionEnd, SessionStart, StatementRecord, TokenRecord
from proctor.store import migrate as migrations
from proctor.store.engine import WRITE, create_store_engine, is_sqlite_memory, normalize_url
from proctor.store.errors import StoreError, UnknownSessionError
from proctor.store.schema import sessions, statements, tokens
from proctor.store.sessions import (
    SessionRow,
    end_values,
    session_from_row,
    start_values,
    statement_from_row,
    storable_text,
)
from proctor.store.tokens import (
    hash_secret,
    looks_like_secret,
    new_secret,
    new_token_id,
    record_from_row,
)

# A statement as ``SqlStore.statement_row`` makes it, in column order.
StatementRow = tuple[object, ...]
_COLUMNS = "statements (session_id, seq, at, text, kind, verdict, error, rule)"
_PG_INSERT = f"INSERT INTO {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
_SQLITE_ROW = "(?, ?, ?, ?, ?, ?, NULLIF(?, 0), NULLIF(?, 0))"
# Rows per multi-row INSERT on SQLite: 8 parameters a row keeps a statement under 999, the
# limit of SQLite builds before 3.32.
_ROWS_PER_INSERT = 120


def _sqlite_insert(rows: int) -> str:
    return f"INSERT INTO {_COLUMNS} VALUES " + ", ".join([_SQLITE_ROW] * rows)


_SQLITE_INSERT = _sqlite_insert(_ROWS_PER_INSERT)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, name: str) -> datetime:
    # Checked here, at the API, for a plain ValueError; the column type refuses them too.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


class SqlStore:
    """Tokens and sessions in a SQL database. Implements ``proctor.store.interfaces.Store``."""

    def __init__(self, url: str) -> None:
        parsed = normalize_url(url)
        self.url = parsed.render_as_string(hide_password=True)
        self._engine: Engine = create_store_engine(parsed)
        self._sqlite = self._engine.dialect.name == "sqlite"
        # An in-memory SQLite database is one shared connection: take turns using it.
        self._lock: AbstractContextManager[object] = (
            threading.Lock() if is_sqlite_memory(parsed) else nullcontext()
        )

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Connection]:
        with self._lock, self._engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    # -- schema -------------------------------------------------------------------------------

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema (to the newest revision by default)."""
        if revision == "head" and self.schema_revision() == migrations.head_revision():
            # The usual case, checked without the write lock that every other process
            # starting at the same moment would queue behind.
            return
        with self._tx(write=True) as conn:
            migrations.upgrade(conn, revision)

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema; ``"base"`` drops every table. For tests and operators."""
        with self._tx(write=True) as conn:
            migrations.downgrade(conn, revision)

    def schema_revision(self) -> str | None:
        """The schema's current Alembic revision; None for an empty database."""
        with self._tx() as conn:
            return migrations.current_revision(conn)

    # -- tokens -------------------------------------------------------------------------------

    def create_token(
        self,
        subject: str,
        groups: frozenset[str],
        ttl: timedelta,
        connections: frozenset[str] = frozenset(),
        description: str | None = None,
    ) -> IssuedToken:
        if ttl <= timedelta(0):
            raise ValueError("a token's ttl must be positive")
        if not subject:
            raise ValueError("a token needs a subject")
        now = _utc_now()
        try:
            expires_at = now + ttl
        except OverflowError:
            raise ValueError("a token's ttl must end before the year 10000") from None
        secret = new_secret()
        record = TokenRecord(
            id=new_token_id(),
            subject=subject,
            groups=frozenset(groups),
            created_at=now,
            expires_at=expires_at,
            connections=frozenset(connections),
            description=description,
        )
        with self._tx(write=True) as conn:
            conn.execute(
                insert(tokens).values(
                    id=record.id,
                    secret_hash=hash_secret(secret),
                    subject=record.subject,
                    groups=sorted(record.groups),
                    connections=sorted(record.connections),
                    description=record.description,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                )
            )
        return IssuedToken(secret=secret, record=record)

    def verify_token(self, secret: str, now: datetime | None = None) -> TokenRecord | None:
        now = _aware(now, "now") if now is not None else _utc_now()
        if not looks_like_secret(secret):
            return None
        with self._tx() as conn:
            row = (
                conn.execute(select(tokens).where(tokens.c.secret_hash == hash_secret(secret)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        record = record_from_row(row)
        return record if record.is_valid_at(now) else None

    def get_token(self, token_id: str) -> TokenRecord | None:
        with self._tx() as conn:
            row = conn.execute(select(tokens).where(tokens.c.id == token_id)).mappings().first()
        return None if row is None else record_from_row(row)

    def list_tokens(
        self, include_inactive: bool = False, now: datetime | None = None
    ) -> Sequence[TokenRecord]:
        """Newest first; only usable tokens unless ``include_inactive``."""
        query = select(tokens).order_by(tokens.c.created_at.desc(), tokens.c.id)
        if not include_inactive:
            now = _aware(now, "now") if now is not None else _utc_now()
            query = query.where(tokens.c.revoked_at.is_(None), tokens.c.expires_at > now)
        with self._tx() as conn:
            return [record_from_row(row) for row in conn.execute(query).mappings()]

    def revoke_token(self, token_id: str) -> bool:
        with self._tx(write=True) as conn:
            result = conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=_utc_now())
            )
        return result.rowcount == 1

    # -- sessions -----------------------------------------------------------------------------

    def session_started(self, start: SessionStart) -> None:
        _aware(start.started_at, "started_at")
        try:
            with self._tx(write=True) as conn:
                conn.execute(insert(sessions).values(**start_values(start)))
        except IntegrityError as exc:
            raise StoreError(f"session {start.id!r} is already recorded") from exc

    def statements_recorded(self, records: Sequence[StatementRecord]) -> None:
        """Insert a batch in one transaction: all of it is recorded, or none."""
        self.insert_statement_rows([self.statement_row(record) for record in records])

    def statement_row(self, record: StatementRecord) -> StatementRow:
        """``record`` checked and converted to the row ``insert_statement_rows`` writes.

        Split from the insert so that a writer can convert on one thread (the gateway's
        event loop, as each statement is recorded) and insert on another with next to no
        Python left to run there (``BatchingStoreWriter``). The values are those the Core
        table would write (``statement_values``), the timestamp in the form ``UtcDateTime``
        stores on each backend."""
        at = _aware(record.at, "at")
        if at.tzinfo is not UTC:
            at = at.astimezone(UTC)
        text = storable_text(record.text)
        error = None if record.error is None else storable_text(record.error)
        if self._sqlite:
            # "+00:00" cut off: SQLite keeps naive UTC text, as UtcDateTime writes it. A
            # missing error or rule is bound as 0 and turned into NULL by the INSERT
            # (``_SQLITE_ROW``): Python's sqlite3 binds None through its adapter protocol,
            # which looks up (and fails to find) two hooks, formatting an AttributeError
            # each time — most of a row's binding cost. No text equals the integer 0.
            return (
                record.session_id,
                record.seq,
                # As isoformat(" ", "microseconds") without the offset, in half its time
                # (an f-string is no faster): this runs on the event loop per statement.
                "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # noqa: UP031
                % (at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond),
                text,
                record.kind,
                record.verdict,
                0 if error is None else error,
                0 if record.rule is None else record.rule,
            )
        return (
            record.session_id,
            record.seq,
            at,
            text,
            record.kind,
            record.verdict,
            error,
            record.rule,
        )

    def insert_statement_rows(self, rows: Sequence[StatementRow]) -> None:
        """Insert rows made by ``statement_row``, in one transaction: all or none.

        This runs for every statement a gateway relays, in the gateway's own process: going
        through SQLAlchemy's per-row bind processing cost more CPU than relaying the
        statement, so rows go straight to the driver."""
        if not rows:
            return
        try:
            with self._tx(write=True) as conn:
                if not self._sqlite:
                    conn.exec_driver_sql(_PG_INSERT, list(rows))
                    return
                # Many rows per INSERT rather than ``executemany``: Python's sqlite3
                # releases the GIL around every statement step, and with one step per row
                # the writer thread and the event loop traded the GIL (a futex wake and a
                # context switch each side) once per relayed statement.
                for first in range(0, len(rows), _ROWS_PER_INSERT):
                    chunk = rows[first : first + _ROWS_PER_INSERT]
                    sql = (
                        _SQLITE_INSERT
                        if len(chunk) == _ROWS_PER_INSERT
                        else _sqlite_insert(len(chunk))
                    )
                    conn.exec_driver_sql(sql, tuple(chain.from_iterable(chunk)))
        except IntegrityError as exc:
            # A foreign-key miss (unknown session) or a repeated (session_id, seq).
            raise StoreError(
                f"statements not recorded (unknown session or repeated seq): {exc.orig}"
            ) from exc

    def session_ended(self, end: SessionEnd) -> None:
        """Record how a session ended. The first end wins; a repeated end changes nothing."""
        _aware(end.ended_at, "ended_at")
        with self._tx(write=True) as conn:
            result = conn.execute(
                update(sessions)
                .where(sessions.c.id == end.id, sessions.c.ended_at.is_(None))
                .values(**end_values(end))
            )
            if result.rowcount == 0:
                exists = conn.execute(select(sessions.c.id).where(sessions.c.id == end.id))
                if exists.first() is None:
                    raise UnknownSessionError(end.id)

    def list_sessions(
        self, limit: int = 100, subject: str | None = None, connection: str | None = None
    ) -> Sequence[SessionRow]:
        """Newest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(sessions).order_by(sessions.c.started_at.desc(), sessions.c.id.desc())
        if subject is not None:
            query = query.where(sessions.c.subject == subject)
        if connection is not None:
            query = query.where(sessions.c.connection == connection)
        with self._tx() as conn:
            rows = conn.execute(query.limit(limit)).mappings()
            return [session_from_row(row) for row in rows]

    def get_session(self, session_id: str) -> SessionRow | None:
        with self._tx() as conn:
            row = (
                conn.execute(select(sessions).where(sessions.c.id == session_id)).mappings().first()
            )
        return None if row is None else session_from_row(row)

    def get_statements(self, session_id: str) -> Sequence[StatementRecord]:
        """In ``seq`` order."""
        query = (
            select(statements)
            .where(statements.c.session_id == session_id)
            .order_by(statements.c.seq)
        )
        with self._tx() as conn:
            return [statement_from_row(row) for row in conn.execute(query).mappings()]

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_store(url: str, migrate: bool = False) -> SqlStore:
    """Open the store at ``url``; with ``migrate``, first upgrade its schema to the newest."""
    store = SqlStore(url)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


if TYPE_CHECKING:
    from proctor.store.interfaces import Store

    def _implements_store(store: SqlStore) -> Store:
        # mypy proves SqlStore satisfies the Protocol; nothing runs this.
        return store
