"""What the rest of Proctor needs from the state store.

Implementations are synchronous (SQLAlchemy); async callers run them off the event loop.
Only ``cli`` picks an implementation; everything else receives these interfaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from proctor.model import IssuedToken, SessionEnd, SessionStart, StatementRecord, TokenRecord


class TokenStore(Protocol):
    def create_token(
        self,
        subject: str,
        groups: frozenset[str],
        ttl: timedelta,
        connections: frozenset[str] = frozenset(),
        description: str | None = None,
    ) -> IssuedToken:
        """Mint a new random token (>= 256 bits); store only its hash."""
        ...

    def verify_token(self, secret: str, now: datetime | None = None) -> TokenRecord | None:
        """The record for a presented secret if it exists, is unexpired and unrevoked."""
        ...

    def get_token(self, token_id: str) -> TokenRecord | None: ...

    def list_tokens(self, include_inactive: bool = False) -> Sequence[TokenRecord]: ...

    def revoke_token(self, token_id: str) -> bool:
        """Mark revoked; False when no such token or already revoked."""
        ...


class SessionRow(Protocol):
    """A stored session as listed by ``proctor sessions``."""

    @property
    def start(self) -> SessionStart: ...
    @property
    def end(self) -> SessionEnd | None: ...


class SessionStore(Protocol):
    def session_started(self, start: SessionStart) -> None: ...

    def statements_recorded(self, records: Sequence[StatementRecord]) -> None: ...

    # ``statements_recorded`` in two steps, for a writer that converts on one thread and
    # inserts on another: ``statement_row`` checks and converts one record (raises
    # ValueError for a bad one), ``insert_statement_rows`` writes rows it made, all or none.
    def statement_row(self, record: StatementRecord) -> tuple[object, ...]: ...

    def insert_statement_rows(self, rows: Sequence[tuple[object, ...]]) -> None: ...

    def session_ended(self, end: SessionEnd) -> None: ...

    def list_sessions(
        self, limit: int = 100, subject: str | None = None, connection: str | None = None
    ) -> Sequence[SessionRow]: ...

    def get_session(self, session_id: str) -> SessionRow | None: ...

    def get_statements(self, session_id: str) -> Sequence[StatementRecord]: ...


class Store(TokenStore, SessionStore, Protocol):
    """The whole state store (tokens and sessions now; approvals and grants later)."""

    def close(self) -> None: ...
