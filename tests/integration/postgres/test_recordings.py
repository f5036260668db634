"""Sessions through the gateway are recorded tamper-evidently: verify, read, crash, fail closed.

Real gateway processes and psql/psycopg sessions; the recordings are then checked offline
with only the public keys (and read with the key-encryption key), as an auditor would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from proctor.recording import layout
from proctor.recording.events import MaskingEvent, ResultEvent, SessionStarted, StatementEvent
from proctor.recording.keystore import keks, public_keys
from proctor.recording.reader import read_session
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.verify import Status, verify_all, verify_session
from tests.integration.conftest import ShopDb, eventually, launch_gateway

pytestmark = pytest.mark.integration

DEMO_POLICY = Path(__file__).resolve().parents[3] / "src" / "proctor" / "demo" / "policy.yaml"


def _storage(directory: Path) -> LocalBlobStorage:
    return LocalBlobStorage(directory / "recordings")


def test_sessions_are_sealed_verified_and_readable(shop_db: ShopDb, tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path, shop_db, policy=DEMO_POLICY)
    try:
        with psycopg.connect(shop_db.admin_dsn()) as admin:
            emails = admin.execute("SELECT email FROM customers ORDER BY id LIMIT 3").fetchall()
        with psycopg.connect(gw.dsn("alice")) as conn:
            conn.execute("SELECT email FROM customers ORDER BY id LIMIT 3").fetchall()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DROP TABLE customers")
    finally:
        assert gw.stop() == 0
    storage = _storage(tmp_path)
    keys = public_keys(tmp_path / "recording-keys")
    report = verify_all(storage, keys)
    assert report.ok, [s.describe() for s in report.sessions]
    assert report.sessions and all(s.status is Status.SEALED for s in report.sessions)
    (session,) = [s.session_id for s in report.sessions]
    events = [e.event for e in read_session(storage, session, keks(tmp_path / "recording-keys"))]
    start = events[0]
    assert isinstance(start, SessionStarted) and start.subject == "alice"
    assert start.policy_hash  # the policy version in force
    assert start.clock is not None and start.clock.source == "adjtimex"  # Linux
    statements = [e for e in events if isinstance(e, StatementEvent)]
    assert any("DROP TABLE customers" in s.text and s.verdict == "deny" for s in statements)
    masked = [e for e in events if isinstance(e, MaskingEvent)]
    assert masked and masked[0].counts["email"]["email"] == 3
    # Content is encrypted at rest: no statement text or value appears in the blobs.
    blobs = b"".join(storage.get(k) for k in storage.list("sessions/"))
    assert b"DROP TABLE" not in blobs
    assert all(str(e[0]).encode() not in blobs for e in emails)
    # The CLI: everything verifies; replay shows what alice ran and the masked rows she saw.
    config = str(tmp_path / "proctor.yaml")
    verify = _cli("verify", "--all", "--config", config)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    replay = _cli("replay", session, "--speed", "0", "--config", config)
    assert replay.returncode == 0, replay.stderr
    assert "SELECT email FROM customers" in replay.stdout
    assert "clock synchronized" in replay.stdout or "clock NOT synchronized" in replay.stdout
    assert "RESULT 3 rows (email) -> SELECT 3" in replay.stdout
    assert "***@" in replay.stdout
    assert all(str(e[0]) not in replay.stdout for e in emails)
    assert "DROP TABLE customers" in replay.stdout and "deny" in replay.stdout


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_crash_leaves_a_verifiable_prefix(shop_db: ShopDb, tmp_path: Path) -> None:
    # Checkpoints every half second: the most a crash may lose.
    gw = launch_gateway(
        tmp_path, shop_db, policy=DEMO_POLICY, recordings={"checkpoint_interval": "0.5s"}
    )
    try:
        with psycopg.connect(gw.dsn("alice")) as conn:
            for i in range(5):
                conn.execute(f"SELECT {i}")
            time.sleep(1.5)  # at least one checkpoint written
            _kill_hard(gw.proc.pid)
    except psycopg.OperationalError:
        pass  # the connection died with the gateway
    finally:
        gw.stop()
    storage = _storage(tmp_path)
    keys = public_keys(tmp_path / "recording-keys")
    reports = verify_all(storage, keys).sessions
    crashed = [r for r in reports if r.status is Status.UNSEALED]
    assert crashed, [r.describe() for r in reports]
    report = verify_session(storage, crashed[0].session_id, keys)
    assert report.intact and report.status is Status.UNSEALED
    texts = [
        e.event.text
        for e in read_session(storage, report.session_id, keks(tmp_path / "recording-keys"))
        if isinstance(e.event, StatementEvent)
    ]
    assert "SELECT 4" in texts  # the prefix up to the last checkpoint is there


def test_tree_heads_are_signed_at_most_once_per_head_interval(
    shop_db: ShopDb, tmp_path: Path
) -> None:
    """With ``recordings.head_interval`` an hour, a session whose checkpoints commit leaves
    round after round leaves one tree head: the one its worker signs when it stops (at the
    default second, these three seconds would leave several)."""
    gw = launch_gateway(
        tmp_path, shop_db, recordings={"checkpoint_interval": "0.5s", "head_interval": "1h"}
    )
    try:
        with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
            for i in range(6):
                conn.execute(f"SELECT {i}")
                time.sleep(0.5)
    finally:
        assert gw.stop() == 0
    storage = _storage(tmp_path)
    assert len(list(storage.list("ledger/leaves/"))) >= 3  # leaves committed in many rounds
    report = verify_all(storage, public_keys(tmp_path / "recording-keys"))
    assert report.ok and report.ledger.unsigned_leaves == 0
    # The empty ledger's head (signed when the worker started), then the one at its stop.
    sizes = [layout.head_size(k) for k in storage.list(layout.HEADS)]
    assert sizes == [0, report.ledger.size]


def _kill_hard(pid: int) -> None:
    """kill -9 the gateway: its workers first (they hold the recorder), then the supervisor."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in children:
        os.kill(int(child), signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)


def test_commands_are_refused_while_recordings_cannot_be_written(
    shop_db: ShopDb, tmp_path: Path
) -> None:
    gw = launch_gateway(tmp_path, shop_db)
    recordings = tmp_path / "recordings"
    try:
        with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            # The storage goes away: the next write round fails.
            recordings.rename(tmp_path / "recordings.away")
            recordings.write_text("not a directory\n")
            conn.execute("SELECT 2")  # recorded before forward; its segment cannot be written
            # A statement prepared before the failure must not run either (Bind/Execute only).
            for _ in range(6):
                conn.execute("SELECT 5", prepare=True)

            def refused() -> bool:
                try:
                    conn.execute("SELECT 3", prepare=False)
                except psycopg.Error as exc:
                    seen.append(f"{exc.sqlstate} {exc}")
                    return exc.sqlstate == "58030" and "recording" in str(exc)
                return False

            seen: list[str] = []

            assert eventually(refused, timeout=15), seen
            with pytest.raises(psycopg.Error) as info:
                conn.execute("SELECT 5", prepare=True)
            assert info.value.sqlstate == "58030"
            # Storage back: commands run again, and nothing recorded was lost.
            recordings.unlink()
            (tmp_path / "recordings.away").rename(recordings)
            eventually(lambda: _runs(conn), timeout=15)
    finally:
        gw.stop()
    report = verify_all(_storage(tmp_path), public_keys(tmp_path / "recording-keys"))
    assert report.ok, [s.describe() for s in report.sessions]


def _runs(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        return conn.execute("SELECT 4").fetchone() == (4,)
    except psycopg.Error:
        return False


def test_a_result_beyond_the_recording_backlog_waits_for_the_recorder(
    shop_db: ShopDb, tmp_path: Path
) -> None:
    # A 1 MiB backlog and an 8 MB result: the session must stop reading the server while the
    # recorder catches up (a round every 200 ms), and still deliver and record every byte.
    gw = launch_gateway(tmp_path, shop_db, recordings={"max_backlog_mb": 1})
    sql = "SELECT g, repeat('x', 1000) FROM generate_series(1, 8000) g"
    try:
        with psycopg.connect(gw.dsn("alice")) as conn:
            rows = conn.execute(sql).fetchall()
        assert [r[0] for r in rows] == list(range(1, 8001))
        assert all(r[1] == "x" * 1000 for r in rows)
        status, metrics = gw.http("/metrics")
        assert status == 200
        (waits,) = [
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("proctor_recording_backlog_waits_total")
        ]
        assert waits >= 1
    finally:
        assert gw.stop() == 0
    storage = _storage(tmp_path)
    report = verify_all(storage, public_keys(tmp_path / "recording-keys"))
    assert report.ok, [s.describe() for s in report.sessions]
    (session,) = [s.session_id for s in report.sessions]
    recorded = b"".join(
        e.event.raw or b""
        for e in read_session(storage, session, keks(tmp_path / "recording-keys"))
        if isinstance(e.event, ResultEvent)
    )
    assert recorded.count(b"x" * 1000) == 8000


def test_a_result_waiting_on_a_recorder_that_cannot_store_ends_the_session(
    shop_db: ShopDb, tmp_path: Path
) -> None:
    # The storage breaks while a session is open: a file where the recorder must create its
    # session directories. A large result then fills the backlog with a segment that cannot
    # be stored: the session must end (fail closed), not hang or be delivered unrecorded.
    # Mid-row, the client can only see the connection close (a FATAL 58030 is sent when the
    # relay is between messages).
    gw = launch_gateway(tmp_path, shop_db, recordings={"max_backlog_mb": 1})
    sql = "SELECT g, repeat('x', 1000) FROM generate_series(1, 20000) g"
    try:
        with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
            conn.execute("SELECT 1")
            sessions = tmp_path / "recordings" / "sessions"
            if sessions.exists():
                shutil.rmtree(sessions)
            sessions.write_text("not a directory\n")
            with pytest.raises(psycopg.OperationalError) as failure:
                conn.execute(sql).fetchall()
        assert failure.value.sqlstate in ("58030", None)
        assert eventually(lambda: "recording_failed" in gw.log())
        assert gw.http("/readyz")[0] == 503
    finally:
        gw.stop()
