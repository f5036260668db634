"""The store on SQLite: the shared contract, plus what only SQLite has (a file, pragmas)."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from proctor.store import SqlStore, UnsupportedStoreURL, open_store
from proctor.store.engine import SQLITE_BUSY_TIMEOUT_MS, normalize_url
from proctor.store.migrate import head_revision

from .store_contract import StoreContract, end, start, stmt


@pytest.fixture
def blank_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


class TestSqliteStore(StoreContract):
    pass


def test_secret_never_reaches_the_database_files(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = open_store(f"sqlite:///{db}", migrate=True)
    secrets = [
        store.create_token("alice", frozenset(), timedelta(hours=1)).secret for _ in range(5)
    ]
    store.session_started(start())

    def everything_on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())

    on_disk = everything_on_disk()  # database, and the WAL while it is open
    store.close()
    on_disk += everything_on_disk()
    assert b"alice" in on_disk  # we are looking at the right bytes
    for secret in secrets:
        assert secret.encode() not in on_disk
        assert secret[4:].encode() not in on_disk


def test_every_connection_gets_the_pragmas(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as store:
        engine = store._engine
        together = threading.Barrier(4)

        def pragmas(_: int) -> tuple[object, ...]:
            with engine.connect() as conn:
                together.wait()  # four connections open at once: four distinct connections
                return tuple(
                    conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "foreign_keys", "busy_timeout")
                )

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(pragmas, range(4)))
        assert results == [("wal", 1, SQLITE_BUSY_TIMEOUT_MS)] * 4
        assert engine.pool.checkedin() >= 4


def test_timestamps_are_stored_as_utc(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with open_store(f"sqlite:///{db}", migrate=True) as store:
        from .store_contract import CEST, T0

        store.session_started(start(started_at=T0.astimezone(CEST)))
    with sqlite3.connect(db) as raw:
        (stored,) = raw.execute("SELECT started_at FROM sessions").fetchone()
    raw.close()
    assert stored == "2025-03-01 12:00:00.123456"


def test_database_file_is_private_and_its_directory_created(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "state.db"
    with open_store(f"sqlite:///{db}", migrate=True):
        pass
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_in_memory_store_is_shared_across_threads() -> None:
    with open_store("sqlite://", migrate=True) as store:
        store.session_started(start())

        def record(n: int) -> None:
            store.statements_recorded([stmt(n)])
            assert store.get_session("ses_1") is not None

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(record, range(40)))
        assert len(store.get_statements("ses_1")) == 40


def test_writers_in_several_processes(tmp_path: Path) -> None:
    """Gateway processes sharing one file: migrate at once, then write at once."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    script = textwrap.dedent(
        """
        import sys
        from datetime import timedelta
        from proctor.store import open_store
        url, n = sys.argv[1], int(sys.argv[2])
        sys.stdin.readline()  # start together
        with open_store(url, migrate=True) as store:
            for _ in range(20):
                store.create_token(f"user{n}", frozenset(), timedelta(hours=1))
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(n)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with open_store(url) as store:
        assert len(store.list_tokens()) == 80
        assert store.schema_revision() == head_revision()


def test_a_reader_does_not_block_a_writer(tmp_path: Path) -> None:
    """WAL: an open read transaction in one store does not stop another store writing."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url, migrate=True) as reader, open_store(url) as writer:
        reader.session_started(start())
        with reader._tx() as conn:
            conn.execute(sa.text("SELECT count(*) FROM sessions")).scalar()
            done = threading.Event()

            def write() -> None:
                writer.statements_recorded([stmt(1)])
                writer.session_ended(end())
                done.set()

            t = threading.Thread(target=write)
            t.start()
            assert done.wait(5)
            t.join()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////var/lib/proctor/state.db", "sqlite:////var/lib/proctor/state.db"),
        ("sqlite+pysqlite:///state.db", "sqlite+pysqlite:///state.db"),
        ("postgresql://u:p@db:5432/proctor", "postgresql+psycopg://u:***@db:5432/proctor"),
        ("postgres://u:p@db/proctor", "postgresql+psycopg://u:***@db/proctor"),
        ("postgresql+psycopg://u@db/proctor", "postgresql+psycopg://u@db/proctor"),
    ],
)
def test_url_normalization(url: str, expected: str) -> None:
    assert normalize_url(url).render_as_string(hide_password=True) == expected


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:hunter2@db/proctor",
        "postgresql+psycopg2://u:hunter2@db/proctor",
        "sqlite+aiosqlite:///state.db",
        "not a url",
        "postgresql://u:hunter2@db:port/proctor",
    ],
)
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(UnsupportedStoreURL) as info:
        SqlStore(url)
    assert "hunter2" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_store_url_hides_the_password() -> None:
    store = SqlStore("postgresql://u:hunter2@127.0.0.1:1/proctor")
    try:
        assert store.url == "postgresql+psycopg://u:***@127.0.0.1:1/proctor"
        assert store.dialect == "postgresql"
    finally:
        store.close()


def test_open_store_fails_on_an_unreachable_database() -> None:
    with pytest.raises(sa.exc.OperationalError):
        open_store("postgresql://u:p@127.0.0.1:1/proctor", migrate=True)
