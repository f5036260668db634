"""Change notices between gateway processes: PostgreSQL ``NOTIFY proctor_approvals``.

Theory of operation. A held statement waits in one worker of one gateway; its request may be
decided, withdrawn or expired through any other (the REST API and Slack land on whichever
worker the load balancer picks; every worker expires requests). On PostgreSQL the store
method that makes such a change also runs ``pg_notify('proctor_approvals', id)`` *inside the
same transaction*: PostgreSQL delivers it at commit, and never for a rolled-back change, so
a listener that hears an id can re-read the row and find the change there. Each worker keeps
one ``LISTEN`` connection (``proctor.server.store_listener``) and wakes what waits on the id.

Payloads are the ids the store hands out: ``apr_…`` for approval requests (made, decided,
withdrawn, expired), ``grt_…`` for access grants (revoked). Nothing else is sent: a notice
says *what* changed, the row says how, and a process that missed notices (its LISTEN
connection dropped) re-reads everything it waits on. SQLite has no such channel; there the
waiting side polls, as it also does on PostgreSQL as a fallback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from proctor.store.sql import SqlStore

CHANNEL = "proctor_approvals"


def notify_change(conn: Connection, key: str) -> None:
    """Announce ``key`` (a request or grant id) when the transaction on ``conn`` commits.

    A no-op on SQLite. PostgreSQL folds identical notices of one transaction into one."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_notify(CHANNEL, key)))


def listen_conninfo(store: SqlStore) -> str | None:
    """A libpq connection string for the LISTEN connection to the store's database, or None
    when the store is not on PostgreSQL (the string holds the password: never log it)."""
    from psycopg.conninfo import make_conninfo

    url = store._engine.url  # the store's own engine: same server, database and credentials
    if url.get_backend_name() != "postgresql":
        return None
    args: dict[str, str | int] = {}
    for name, value in url.translate_connect_args(username="user", database="dbname").items():
        if value is not None:
            args[name] = value
    for name, value in url.query.items():
        # libpq options given in the URL's query (sslmode, sslrootcert, host=/socket/dir …).
        args[name] = value if isinstance(value, str) else value[-1]
    return make_conninfo("", **args)
