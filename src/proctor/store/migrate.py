"""Alembic, run from code: users never need an alembic.ini.

The migration scripts ship inside the package (``migrations/``). Every run happens on a
connection the caller opened, inside one transaction that holds the store's migration lock,
so several gateway processes starting at once upgrade the schema exactly once: the others
wait, then find it at head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

# pg_advisory_xact_lock key: the bytes of "proctor" (any constant unique to us would do).
_PG_MIGRATION_LOCK = int.from_bytes(b"proctor", "big")


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    # Config values go through configparser interpolation: escape "%" in the path.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        # env.py runs on this connection instead of opening its own.
        cfg.attributes["connection"] = connection
    return cfg


def lock_for_migration(connection: Connection) -> None:
    """Serialize migrations across processes, until the current transaction ends.

    SQLite needs nothing here: the caller's transaction began with BEGIN IMMEDIATE, which
    already holds the database's only write lock.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def upgrade(connection: Connection, revision: str = "head") -> None:
    lock_for_migration(connection)
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    lock_for_migration(connection)
    command.downgrade(alembic_config(connection), revision)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
