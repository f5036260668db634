"""Alembic environment for the Proctor store.

Normally run by ``proctor.store.migrate`` on a connection it opened (and locked). Developers
can also run the alembic CLI with ``alembic -c src/proctor/store/migrations/alembic.ini ...``;
the URL then comes from $PROCTOR_STORE_URL or the ini file.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from proctor.store.engine import WRITE, create_store_engine
from proctor.store.migrate import lock_for_migration
from proctor.store.schema import metadata

config = context.config


def _url() -> str:
    url = os.environ.get("PROCTOR_STORE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set PROCTOR_STORE_URL (or sqlalchemy.url) to the store's database")
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: autogenerate "move and copy" batch operations there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        _run(shared)
        return
    engine = create_store_engine(_url())
    try:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE: True})
            with connection.begin():
                lock_for_migration(connection)
                _run(connection)
    finally:
        engine.dispose()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
