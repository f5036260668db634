"""The store's tables as SQLAlchemy Core metadata.

The migrations under ``migrations/versions`` create these tables; they spell the schema out
literally (a migration must not change when this module does). A test compares the two with
Alembic's autogenerate on SQLite and PostgreSQL, so any drift fails the build.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Explicit constraint names make both backends (and every migration) agree on them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware in Python, UTC in the database.

    PostgreSQL stores ``timestamptz``; SQLite has no time type, so SQLAlchemy stores a
    fixed-width text that sorts and compares correctly only if every value is in one zone:
    we convert to UTC and drop the offset there, and re-attach UTC on the way out. Naive
    datetimes are refused: their zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ID = String(64)

tokens = Table(
    "tokens",
    metadata,
    Column("id", ID, primary_key=True),
    # SHA-256 hex of the secret; the secret itself is never stored.
    Column("secret_hash", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("groups", JSON, nullable=False),
    Column("connections", JSON, nullable=False),
    Column("description", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    UniqueConstraint("secret_hash"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject", Text, nullable=False),
    Column("groups", JSON, nullable=False),
    Column("connection", Text, nullable=False),
    Column("database", Text),
    Column("protocol", String(32), nullable=False),
    Column("client_addr", Text, nullable=False),
    # No foreign key: a session's history outlives the token it was opened with.
    Column("token_id", ID),
    Column("gateway_version", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    # The end columns stay NULL while the session is live.
    Column("ended_at", UtcDateTime),
    Column("end_reason", Text),
    Column("statements", Integer),
    Column("bytes_from_client", BigInteger),
    Column("bytes_to_client", BigInteger),
    Column("policy_hash", String(64)),
    # {where: {entity type: count}} of the values masked in the session's results.
    Column("masked", JSON),
    Index(None, "started_at"),
    Index(None, "subject"),
    Index(None, "connection"),
)

statements = Table(
    "statements",
    metadata,
    # CASCADE: pruning old sessions takes their statements with them.
    Column("session_id", ID, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("text", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("error", Text),
    # The policy rule that decided (None: the default action, or not a command).
    Column("rule", Text),
    PrimaryKeyConstraint("session_id", "seq"),
    Index("ix_statements_verdict", "verdict"),
)

# The identity and approvals tables are declared beside their store methods; importing those
# modules here puts them on `metadata`, so migrations and the schema-drift test see the whole
# schema.
import proctor.store.approvals  # noqa: E402, F401
from proctor.store import evidence as _evidence  # noqa: E402, F401
from proctor.store import holds as _holds  # noqa: E402, F401
from proctor.store import identities as _identities  # noqa: E402, F401
