"""A throwaway local PostgreSQL cluster: the demo's database and the test suite's.

Uses the Debian ``postgresql`` server binaries. PostgreSQL refuses to run as root, so when we
are root the cluster directory is handed to the ``postgres`` system user and every server
binary runs through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class PgClusterError(RuntimeError):
    pass


def find_pg_bin() -> Path:
    """The directory holding initdb/pg_ctl/postgres: $PROCTOR_PG_BIN, else the newest Debian one."""
    env = os.environ.get("PROCTOR_PG_BIN")
    candidates = [Path(env)] if env else list(PG_BIN_CANDIDATES)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise PgClusterError(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin); "
        "install them with: apt-get install postgresql"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    """The user server binaries must run as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PgClusterError(
            "running as root, and there is no 'postgres' system user to run PostgreSQL as"
        ) from exc
    return "postgres"


@dataclass
class PgCluster:
    data_dir: Path
    port: int
    password: str
    superuser: str = "postgres"
    host: str = "127.0.0.1"
    bin_dir: Path | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self._bin = self.bin_dir or find_pg_bin()
        self._user = _run_as()

    @property
    def socket_dir(self) -> Path:
        return self.data_dir

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def _cmd(self, tool: str, *args: str) -> list[str]:
        argv = [str(self._bin / tool), *args]
        if self._user:
            return ["runuser", "-u", self._user, "--", *argv]
        return argv

    def _chown(self, path: Path) -> None:
        if self._user:
            pw = pwd.getpwnam(self._user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _check(self, argv: Sequence[str]) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise PgClusterError(
                f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        return proc.stdout

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self, extra_conf: dict[str, str] | None = None) -> None:
        """initdb with SCRAM auth for TCP, so upstream authentication is exercised for real."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._chown(self.data_dir)
        pwfile = self.data_dir.parent / f".{self.data_dir.name}.pw"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._chown(pwfile)
        try:
            self._check(
                self._cmd(
                    "initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.superuser,
                    "-A",
                    "scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                )
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "max_connections": "200",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
        }
        conf.update(extra_conf or {})
        with (self.data_dir / "postgresql.auto.conf").open("a") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")

    def start(self, timeout: float = 30.0) -> None:
        self.log_file.touch(exist_ok=True)
        self._chown(self.log_file)
        self._check(
            self._cmd(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            )
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1):
                return
            time.sleep(0.05)
        raise PgClusterError(f"PostgreSQL did not listen on {self.host}:{self.port}")

    def stop(self, mode: str = "fast") -> None:
        if not self.is_running():
            return
        self._check(self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop"))

    def is_running(self) -> bool:
        if not self.initialized:
            return False
        proc = subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data_dir), "status"),
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        return (
            f"host={self.host} port={self.port} dbname={dbname} "
            f"user={user or self.superuser} password={self.password}"
        )

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.superuser}:{self.password}@{self.host}:{self.port}/{dbname}"
