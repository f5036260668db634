"""`proctor demo` end to end, driven exactly as a reviewer's script would drive it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PROCTOR = [sys.executable, "-m", "proctor"]


def proctor(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PROCTOR, *args], capture_output=True, text=True, check=check, timeout=300
    )


def exports(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        assert line.startswith("export "), line
        key, _, value = line[len("export ") :].partition("=")
        env[key] = shlex.split(value)[0]
    return env


def psql(env: dict[str, str], sql: str) -> str:
    res = subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_demo_detach_env_stop(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    started = proctor("demo", "--detach", "--dir", str(demo))
    try:
        assert "Proctor demo is running" in started.stdout
        assert (demo / "proctor.yaml").exists() and (demo / "recordings").is_dir()
        pid = int((demo / "gateway.pid").read_text())
        os.kill(pid, 0)
        # The gateway's credential is a reference, never a literal.
        config = (demo / "proctor.yaml").read_text()
        assert "${file:secrets/shop.pw}" in config
        assert (demo / "secrets" / "shop.pw").read_text().strip() not in config

        alice = exports(proctor("demo", "--env", "--dir", str(demo), "--as", "alice").stdout)
        assert set(alice) >= {
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGPASSWORD",
            "PGDATABASE",
            "PGSSLMODE",
            "PROCTOR_URL",
            "PROCTOR_TOKEN",
        }
        assert alice["PGUSER"] == "alice" and alice["PGDATABASE"] == "shop"
        assert alice["PGPASSWORD"].startswith("prt_")
        assert int(psql(alice, "select count(*) from customers")) >= 10_000
        assert int(psql(alice, "select count(*) from payments")) >= 10_000
        assert psql(alice, "select current_user") == "proctor_gateway"

        bob = exports(proctor("demo", "--env", "--dir", str(demo), "--as", "bob").stdout)
        assert bob["PGPASSWORD"] != alice["PGPASSWORD"]
        assert psql(bob, "select 1") == "1"

        direct = exports(proctor("demo", "--env", "--dir", str(demo), "--direct").stdout)
        assert direct["PGPORT"] != alice["PGPORT"]
        assert int(psql(direct, "select count(*) from orders")) >= 10_000

        sessions = proctor("sessions", "list", "--config", str(demo / "proctor.yaml"), "--json")
        assert '"alice"' in sessions.stdout and '"bob"' in sessions.stdout

        # The evidence pack of today, as the demo's admin (alice may not export).
        admin = exports(proctor("demo", "--env", "--dir", str(demo), "--as", "admin").stdout)
        assert admin["PROCTOR_CONFIG"] == str(demo.resolve() / "proctor.yaml")
        today = datetime.now(UTC).date().isoformat()
        evidence = [*PROCTOR, "evidence", "export", "--from", today, "--to", today]
        done = subprocess.run(
            [*evidence, "--out", str(tmp_path / "pack")],
            env={**os.environ, **admin},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "sessions" in done.stdout and (tmp_path / "pack" / "index.html").exists()
        refused = subprocess.run(
            [*evidence, "--out", str(tmp_path / "by-alice")],
            env={**os.environ, **alice},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert refused.returncode == 1 and "may not export" in refused.stderr
        checked = subprocess.run(
            [*PROCTOR, "evidence", "verify", str(tmp_path / "pack")],
            env={**os.environ, **admin},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert checked.returncode == 0, checked.stderr

        again = proctor("demo", "--detach", "--dir", str(demo))
        assert "already running" in again.stderr
    finally:
        stopped = proctor("demo", "--stop", "--dir", str(demo), check=False)
    assert stopped.returncode == 0, stopped.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    res = subprocess.run(
        ["psql", "-X", "-c", "select 1"], env={**os.environ, **direct}, capture_output=True
    )
    assert res.returncode != 0  # the database is stopped too
    data = proctor("demo", "--stop", "--purge", "--dir", str(demo))
    assert "Deleted" in data.stderr and not demo.exists()


def test_demo_env_without_demo_is_a_clear_error(tmp_path: Path) -> None:
    res = proctor("demo", "--env", "--dir", str(tmp_path / "none"), check=False)
    assert res.returncode == 1 and "no demo in" in res.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root keeps the cluster outside the directory")
def test_a_demo_directory_deleted_by_hand_starts_afresh(tmp_path: Path) -> None:
    # As root the cluster lives under /var/tmp (socket path length, ownership): deleting the
    # demo directory leaves it behind, with the old port and password.
    demo = tmp_path / "demo"
    proctor("demo", "--detach", "--dir", str(demo))
    proctor("demo", "--stop", "--dir", str(demo))
    shutil.rmtree(demo)
    try:
        started = proctor("demo", "--detach", "--dir", str(demo))
        assert "Removing a leftover demo cluster" in started.stderr
        alice = exports(proctor("demo", "--env", "--dir", str(demo), "--as", "alice").stdout)
        assert int(psql(alice, "select count(*) from customers")) >= 10_000
    finally:
        proctor("demo", "--stop", "--purge", "--dir", str(demo), check=False)
