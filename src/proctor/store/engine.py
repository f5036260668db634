"""Engines for the two supported backends, configured so that concurrent use is safe.

SQLite theory of operation. Several gateway processes, each with worker threads, may share one
database file. WAL lets readers proceed while one writer writes; ``busy_timeout`` makes a
writer wait for the lock instead of failing at once. That wait only happens when a
transaction *starts* as a writer: a deferred transaction that read first and then tries to
write gets SQLITE_BUSY immediately (waiting could deadlock), whatever the timeout. So we take
transaction control away from the sqlite3 module (``isolation_level = None``) and emit BEGIN
ourselves: ``BEGIN IMMEDIATE`` for connections marked with the ``WRITE`` execution option,
plain (deferred) ``BEGIN`` for readers.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from proctor.store.errors import UnsupportedStoreURL

# Execution option that asks for a write transaction (BEGIN IMMEDIATE on SQLite).
WRITE = "proctor_write"

SQLITE_BUSY_TIMEOUT_MS = 10_000

_POSTGRES_NAMES = ("postgresql", "postgres")
_EXPECTED = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB"


def normalize_url(url: str | URL) -> URL:
    """The URL with a driver we ship: psycopg 3 for PostgreSQL, the stdlib one for SQLite."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        # Not chained, and the text not quoted: a malformed URL may still hold a password.
        raise UnsupportedStoreURL(f"the store URL is not a database URL; {_EXPECTED}") from None
    # Split drivername by hand: asking SQLAlchemy for the driver would load the dialect,
    # which fails for aliases ("postgres") and drivers we do not ship.
    backend, _, driver = parsed.drivername.partition("+")
    if backend in _POSTGRES_NAMES and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise UnsupportedStoreURL(
        f"unsupported store URL {parsed.render_as_string(hide_password=True)!r}; {_EXPECTED}"
    )


def is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_store_engine(url: str | URL) -> Engine:
    u = normalize_url(url)
    if u.get_backend_name() != "sqlite":
        # pre_ping: a gateway outlives database restarts and failovers.
        return create_engine(u, pool_pre_ping=True)
    if is_sqlite_memory(u):
        # One shared connection, or every pooled connection would see its own empty
        # database. The store serializes access to it (see SqlStore).
        engine = create_engine(u, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        assert u.database is not None
        _prepare_sqlite_file(Path(u.database))
        # Pooled connections are used by one thread at a time; sqlite3's own check would
        # refuse a connection handed to another thread by the pool.
        engine = create_engine(u, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _prepare_sqlite_file(path: Path) -> None:
    """Create the directory and an owner-only file: it holds token hashes and statements.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # See the module docstring: SQLAlchemy, not sqlite3, decides when a transaction begins.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching a new file to WAL may itself have to wait for a lock.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _switch_to_wal(cursor)
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """``journal_mode = WAL`` needs an exclusive lock on a file not yet in WAL mode, and SQLite
    does not always run its busy handler for it: several processes opening a fresh file at
    once can get "database is locked" at once. Retry for as long as busy_timeout allows."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_on_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")
