"""``proctor demo``: a throwaway PostgreSQL with fake shop data behind a running gateway.

Layout of the demo directory (default ``./.proctor-demo``):

    proctor.yaml          the gateway's config (credentials only as ${file:…} references)
    demo.json             ports and paths of this demo
    secrets/              0700: database passwords (the gateway's credential lives here)
    tokens/<name>.token   0600: demo identities' access tokens
    recordings/           session recordings
    state.db              the SQLite state store
    gateway.pid, gateway.log   when detached
    pgdata/               the PostgreSQL cluster (under /var/tmp when running as root, so the
                          ``postgres`` user can reach it whatever the directory's parents allow)
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import yaml

from proctor.demo.pgcluster import PgCluster, free_port

DEFAULT_DIR = Path(".proctor-demo")
APP_ROLE = "proctor_gateway"
DEMO_DATABASE = "shop"
CONNECTION = "shop"
IDENTITIES: dict[str, tuple[str, ...]] = {
    "alice": ("analyst",),
    "bob": ("approver",),
    "admin": ("admin",),
}
TOKEN_TTL = timedelta(days=30)
Log = Callable[[str], object]


class DemoError(Exception):
    pass


@dataclass
class DemoState:
    dir: str
    pg_data: str
    pg_port: int
    gateway_port: int
    http_port: int
    host: str = "127.0.0.1"

    @classmethod
    def load(cls, directory: Path) -> DemoState:
        path = directory / "demo.json"
        if not path.exists():
            raise DemoError(
                f"no demo in {directory} (start one with: proctor demo --dir {directory})"
            )
        return cls(**json.loads(path.read_text()))

    def save(self) -> None:
        (Path(self.dir) / "demo.json").write_text(json.dumps(asdict(self), indent=2) + "\n")


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _pick_port(preferred: int) -> int:
    return preferred if _port_free(preferred) else free_port()


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def _read_or_make_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    _write_secret(path, value)
    return value


def _pg_data_dir(directory: Path) -> Path:
    if os.geteuid() != 0:
        return directory / "pgdata"
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    base = Path("/var/tmp") / f"proctor-demo-{digest}"  # noqa: S108 - ownership checked below
    base.mkdir(parents=True, exist_ok=True)
    if base.stat().st_uid != 0:
        raise DemoError(f"{base} exists and is not owned by root; remove it")
    base.chmod(0o755)
    return base / "pgdata"


def _cluster(state: DemoState, directory: Path) -> PgCluster:
    password = _read_or_make_secret(directory / "secrets" / "pg-superuser.pw")
    return PgCluster(Path(state.pg_data), state.pg_port, password)


DEMO_MASKING_PROFILE: dict[str, object] = {
    "entities": {
        "card": "partial",  # **** **** **** 1111
        "ssn": "partial",  # ***-**-6789
        "email": "partial",  # j***@example.com
        "phone": "partial",
        "iban": "partial",
        "dob": "partial",  # the year only
    },
}


DEMO_APPROVALS: dict[str, object] = {
    "workflows": {
        "shop-writes": {"approvers": {"groups": ["approver"]}, "expires": "15m"},
    },
    "access": {"workflow": "shop-writes", "max_duration": "8h"},
}


DEMO_ROLES: dict[str, object] = {
    "admin": {"groups": ["admin"]},
    "auditor": {"groups": ["auditor"]},
    "approver": {"groups": ["approver"]},
}


def _config(state: DemoState, workers: int) -> dict[str, object]:
    return {
        "version": 1,
        "gateway": {"workers": workers, "state_dir": ".proctor", "log_level": "info"},
        "listeners": {
            "postgres": {
                "address": state.host,
                "port": state.gateway_port,
                "tls": {"mode": "auto"},
            },
            "http": {"address": state.host, "port": state.http_port},
        },
        "store": {"url": "sqlite:///state.db"},
        "recordings": {"dir": "recordings"},
        "policy": {"file": "policy.yaml"},
        # The masking profile the demo policy gives every session (docs/masking.md).
        "masking": {"profiles": {"pii": DEMO_MASKING_PROFILE}},
        # Who approves what the demo policy holds (docs/approvals.md): bob approves alice's.
        "approvals": DEMO_APPROVALS,
        # API roles: admin administers (and may export evidence), bob approves.
        "identity": {"roles": DEMO_ROLES},
        "connections": [
            {
                "name": CONNECTION,
                "protocol": "postgres",
                "host": state.host,
                "port": state.pg_port,
                "database": DEMO_DATABASE,
                "tls": {"mode": "disable"},
                "credential": {"username": APP_ROLE, "password": "${file:secrets/shop.pw}"},
                "tags": {"env": "demo", "data": "pii"},
            }
        ],
    }


def prepare(
    directory: Path, *, workers: int = 1, fresh: bool = False, log: Log = print
) -> DemoState:
    """Create (or reuse) the demo database, config and tokens. Starts PostgreSQL."""
    from proctor.demo.seed import create_app_role, create_database, seed_shop

    directory = directory.resolve()
    if fresh and (directory / "demo.json").exists():
        stop(directory, log=log)
        old = DemoState.load(directory)
        PgCluster(Path(old.pg_data), old.pg_port, "x").destroy()
        for name in (
            "demo.json",
            "state.db",
            "state.db-wal",
            "state.db-shm",
            "proctor.yaml",
            "policy.yaml",
        ):
            (directory / name).unlink(missing_ok=True)
        for token in (directory / "tokens").glob("*.token"):
            token.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "recordings").mkdir(exist_ok=True)
    if (directory / "demo.json").exists():
        state = DemoState.load(directory)
    else:
        pg_data = _pg_data_dir(directory)
        leftover = PgCluster(pg_data, 0, "x")
        if leftover.initialized:
            # Kept under /var/tmp for a directory that was since deleted: its port, password
            # and data belong to that demo, and the new one could neither start nor seed it.
            log(f"Removing a leftover demo cluster in {pg_data} ...")
            leftover.destroy()
        state = DemoState(
            dir=str(directory),
            pg_data=str(pg_data),
            pg_port=free_port(),
            gateway_port=_pick_port(15432),
            http_port=_pick_port(18080),
        )
    cluster = _cluster(state, directory)
    if not cluster.initialized:
        log(f"Creating a throwaway PostgreSQL cluster in {state.pg_data} ...")
        cluster.init()
    if not cluster.is_running():
        if not _port_free(state.pg_port):
            state.pg_port = free_port()
            cluster = _cluster(state, directory)
            _rewrite_port(cluster)
        cluster.start()
    state.save()
    marker = directory / ".seeded"
    if not marker.exists():
        log("Seeding database 'shop' with fake customers, payments and orders (Faker) ...")
        create_database(cluster.dsn(), DEMO_DATABASE)
        summary = seed_shop(cluster.dsn(DEMO_DATABASE))
        log(
            f"  {summary.customers} customers, {summary.payments} payments, {summary.orders} orders"
        )
        marker.write_text("seeded\n")
    app_password = _read_or_make_secret(directory / "secrets" / "shop.pw")
    create_app_role(cluster.dsn(), APP_ROLE, app_password, DEMO_DATABASE)
    policy = directory / "policy.yaml"
    if not policy.exists():
        # A copy the user may edit; `proctor demo --fresh` restores the shipped one.
        policy.write_text((Path(__file__).parent / "policy.yaml").read_text())
    config = _config(state, workers)
    (directory / "proctor.yaml").write_text(
        "# Written by `proctor demo`. Secrets are ${file:…} references, never literals.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    _ensure_tokens(directory)
    return state


def _rewrite_port(cluster: PgCluster) -> None:
    with (cluster.data_dir / "postgresql.auto.conf").open("a") as f:
        f.write(f"port = {cluster.port}\n")


def _ensure_tokens(directory: Path) -> None:
    from proctor.config import load_config
    from proctor.store import open_store

    cfg = load_config(directory / "proctor.yaml")
    with open_store(cfg.store.url, migrate=True) as store:
        for name, groups in IDENTITIES.items():
            path = directory / "tokens" / f"{name}.token"
            if path.exists() and store.verify_token(path.read_text().strip()) is not None:
                continue
            issued = store.create_token(
                name, frozenset(groups), TOKEN_TTL, description="proctor demo identity"
            )
            _write_secret(path, issued.secret)


def token_for(directory: Path, name: str) -> str:
    path = directory.resolve() / "tokens" / f"{name}.token"
    if not path.exists():
        raise DemoError(f"no token for {name!r} in {directory}")
    return path.read_text().strip()


def gateway_pid(directory: Path) -> int | None:
    path = directory.resolve() / "gateway.pid"
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def wait_ready(
    state: DemoState, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    url = f"http://{state.host}:{state.http_port}/readyz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DemoError(f"the gateway exited with status {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise DemoError(f"the gateway did not become ready within {timeout:g}s")


def gateway_argv(directory: Path) -> list[str]:
    return [sys.executable, "-m", "proctor", "gateway", "--config", str(directory / "proctor.yaml")]


def start_detached(directory: Path, state: DemoState) -> int:
    directory = directory.resolve()
    log_file = (directory / "gateway.log").open("ab")
    proc = subprocess.Popen(
        gateway_argv(directory),
        cwd=directory,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=log_file,
        start_new_session=True,
    )
    (directory / "gateway.pid").write_text(f"{proc.pid}\n")
    try:
        wait_ready(state, proc=proc)
    except DemoError:
        proc.terminate()
        (directory / "gateway.pid").unlink(missing_ok=True)
        raise
    return proc.pid


def run_foreground(directory: Path, state: DemoState) -> int:
    directory = directory.resolve()
    proc = subprocess.Popen(gateway_argv(directory), cwd=directory, stdin=subprocess.DEVNULL)
    (directory / "gateway.pid").write_text(f"{proc.pid}\n")
    try:
        wait_ready(state, proc=proc)
        print(connect_help(directory, state), flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
    finally:
        (directory / "gateway.pid").unlink(missing_ok=True)
        _cluster(state, directory).stop()
        print("Stopped the gateway and the demo database.", flush=True)


def stop(directory: Path, log: Log = print) -> None:
    directory = directory.resolve()
    state = DemoState.load(directory)
    pid = gateway_pid(directory)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        log(f"Stopped the gateway (pid {pid}).")
    (directory / "gateway.pid").unlink(missing_ok=True)
    cluster = _cluster(state, directory)
    if cluster.is_running():
        cluster.stop()
        log("Stopped the demo database.")


def purge(directory: Path, log: Log = print) -> None:
    """Delete the demo's database cluster and directory (after ``stop``)."""
    directory = directory.resolve()
    state = DemoState.load(directory)
    data = Path(state.pg_data)
    shutil.rmtree(data, ignore_errors=True)
    if data.parent.name.startswith("proctor-demo-"):
        shutil.rmtree(data.parent, ignore_errors=True)
    shutil.rmtree(directory, ignore_errors=True)
    log(f"Deleted {directory} and its database.")


def env_lines(directory: Path, identity: str = "alice", direct: bool = False) -> list[str]:
    directory = directory.resolve()
    state = DemoState.load(directory)
    if direct:
        values = {
            "PGHOST": state.host,
            "PGPORT": str(state.pg_port),
            "PGUSER": APP_ROLE,
            "PGPASSWORD": (directory / "secrets" / "shop.pw").read_text().strip(),
            "PGDATABASE": DEMO_DATABASE,
            "PGSSLMODE": "disable",
        }
    else:
        token = token_for(directory, identity)
        values = {
            "PGHOST": state.host,
            "PGPORT": str(state.gateway_port),
            "PGUSER": identity,
            "PGPASSWORD": token,
            "PGDATABASE": CONNECTION,
            "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": str(directory / ".proctor" / "tls" / "ca.crt"),
            "PROCTOR_URL": f"http://{state.host}:{state.http_port}",
            "PROCTOR_TOKEN": token,
            # Admin commands (sessions, verify, evidence export) find the demo's configuration.
            "PROCTOR_CONFIG": str(directory / "proctor.yaml"),
        }
    return [f"export {k}={shlex.quote(v)}" for k, v in values.items()]


def connect_help(directory: Path, state: DemoState) -> str:
    d = shlex.quote(str(directory))
    return f"""
Proctor demo is running.
  gateway (PostgreSQL protocol)  {state.host}:{state.gateway_port}   connection name: {CONNECTION}
  HTTP (health, metrics)          http://{state.host}:{state.http_port}/metrics
  demo identities                 alice (analyst), bob (approver), admin (admin)

Connect as alice through Proctor:
  eval "$(.venv/bin/proctor demo --env --dir {d} --as alice)"
  psql -c 'select count(*) from customers'

Try a guardrail (the session stays usable afterwards):
  psql -c 'drop table customers'

Then see what was recorded:
  .venv/bin/proctor sessions list --config {d}/proctor.yaml
"""
