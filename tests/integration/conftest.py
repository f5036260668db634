"""Real servers on loopback for the integration tests: PostgreSQL and the Proctor gateway.

Nothing here is mocked: the gateway runs as its own process (`python -m proctor gateway`),
exactly as deployed, in front of a real PostgreSQL cluster seeded with the demo's shop data.
When a component is missing, the tests fail under CI (CI=true) instead of skipping: a test
that skips has not run.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from proctor.demo.pgcluster import PgCluster, free_port
from proctor.demo.runner import DEMO_APPROVALS, DEMO_MASKING_PROFILE
from tests.pg import throwaway_cluster

APP_ROLE = "proctor_app"


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until ``check`` returns something truthy (session writes are batched)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    with throwaway_cluster("proctor-it-pg-") as cluster:
        yield cluster


@dataclass
class ShopDb:
    cluster: PgCluster
    app_password: str = field(repr=False)

    def admin_dsn(self, dbname: str = "shop") -> str:
        return self.cluster.dsn(dbname)

    def app_dsn(self, dbname: str = "shop") -> str:
        c = self.cluster
        return (
            f"host={c.host} port={c.port} dbname={dbname} user={APP_ROLE} "
            f"password={self.app_password}"
        )


@pytest.fixture(scope="session")
def shop_db(pg_cluster: PgCluster) -> ShopDb:
    from proctor.demo.seed import create_app_role, create_database, seed_shop

    create_database(pg_cluster.dsn(), "shop")
    seed_shop(pg_cluster.dsn("shop"), customers=2000, orders=3000, payments=2500)
    password = secrets.token_urlsafe(16)
    create_app_role(pg_cluster.dsn(), APP_ROLE, password, "shop")
    return ShopDb(pg_cluster, password)


@dataclass
class Gateway:
    dir: Path
    port: int
    http_port: int
    proc: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict, repr=False)
    host: str = "127.0.0.1"

    @property
    def config_path(self) -> Path:
        return self.dir / "proctor.yaml"

    @property
    def ca_file(self) -> Path:
        return self.dir / "state" / "tls" / "ca.crt"

    def dsn(
        self,
        identity: str = "alice",
        dbname: str = "shop",
        sslmode: str = "verify-full",
        password: str | None = None,
        **extra: str,
    ) -> str:
        parts = {
            "host": self.host,
            "port": str(self.port),
            "dbname": dbname,
            "user": identity,
            "password": password if password is not None else self.tokens.get(identity, ""),
            "sslmode": sslmode,
            "sslrootcert": str(self.ca_file),
            **extra,
        }
        return " ".join(f"{k}='{v}'" for k, v in parts.items())

    def url(
        self, identity: str = "alice", dbname: str = "shop", sslmode: str = "verify-full"
    ) -> str:
        from urllib.parse import quote

        token = quote(self.tokens.get(identity, ""))
        root = quote(str(self.ca_file))
        return (
            f"postgresql://{quote(identity)}:{token}@{self.host}:{self.port}/"
            f"{quote(dbname, safe='')}?sslmode={sslmode}&sslrootcert={root}"
        )

    def env(self, identity: str = "alice", sslmode: str = "verify-full") -> dict[str, str]:
        return {
            **os.environ,
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": identity,
            "PGPASSWORD": self.tokens[identity],
            "PGDATABASE": "shop",
            "PGSSLMODE": sslmode,
            "PGSSLROOTCERT": str(self.ca_file),
        }

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                f"http://{self.host}:{self.http_port}{path}", timeout=5
            ) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def create_token(self, subject: str, groups: tuple[str, ...] = (), **kw: Any) -> str:
        from proctor.store import open_store

        with open_store(f"sqlite:///{self.dir / 'state.db'}") as store:
            ttl = kw.pop("ttl", timedelta(hours=1))
            return store.create_token(subject, frozenset(groups), ttl, **kw).secret

    def store(self):  # type: ignore[no-untyped-def]
        from proctor.store import open_store

        return open_store(f"sqlite:///{self.dir / 'state.db'}")

    def log(self) -> str:
        return (self.dir / "gateway.log").read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


ALLOW_ALL_POLICY = Path(__file__).resolve().parents[1] / "policies" / "allow_all.yaml"


def write_config(
    directory: Path,
    shop: ShopDb,
    port: int,
    http_port: int,
    policy: Path | None = ALLOW_ALL_POLICY,
    **gateway: Any,
) -> None:
    """A gateway config in ``directory``. ``policy``: a policy file (None: the built-in one)."""
    (directory / "secrets").mkdir(mode=0o700, exist_ok=True)
    (directory / "secrets" / "shop.pw").write_text(shop.app_password + "\n")
    listener_extra = gateway.pop("postgres_listener", {})
    extra_connections = gateway.pop("connections", [])
    # The demo's profile, so policies that name it (the demo policy does) load.
    masking = gateway.pop("masking", {"profiles": {"pii": DEMO_MASKING_PROFILE}})
    approvals = gateway.pop("approvals", DEMO_APPROVALS)
    identity = gateway.pop("identity", None)  # e.g. access rules and API roles
    recordings = {"dir": "recordings", **gateway.pop("recordings", {})}
    config = {
        "version": 1,
        "gateway": {"workers": 1, "state_dir": "state", "drain_timeout": "5s", **gateway},
        "listeners": {
            "postgres": {
                "address": "127.0.0.1",
                "port": port,
                "tls": {"mode": "auto"},
                **listener_extra,
            },
            "http": {"address": "127.0.0.1", "port": http_port},
        },
        "store": {"url": "sqlite:///state.db"},
        "recordings": recordings,
        "connections": [
            {
                "name": "shop",
                "protocol": "postgres",
                "host": shop.cluster.host,
                "port": shop.cluster.port,
                "database": "shop",
                "tls": {"mode": "disable"},
                "credential": {"username": APP_ROLE, "password": "${file:secrets/shop.pw}"},
                "tags": {"env": "test"},
            },
            *extra_connections,
        ],
    }
    if policy is not None:
        config["policy"] = {"file": str(policy)}
    config["masking"] = masking
    config["approvals"] = approvals
    if identity is not None:
        config["identity"] = identity
    (directory / "proctor.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def launch_gateway(
    directory: Path,
    shop: ShopDb,
    workers: int = 1,
    policy: Path | None = ALLOW_ALL_POLICY,
    **gateway: Any,
) -> Gateway:
    port, http_port = free_port(), free_port()
    write_config(directory, shop, port, http_port, policy=policy, workers=workers, **gateway)
    with (directory / "gateway.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proctor",
                "gateway",
                "--config",
                str(directory / "proctor.yaml"),
            ],
            cwd=directory,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    gw = Gateway(directory, port, http_port, proc)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited ({proc.returncode}):\n{gw.log()[-3000:]}")
        try:
            if gw.http("/readyz")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            gw.stop()
            raise RuntimeError(f"gateway not ready:\n{gw.log()[-3000:]}")
        time.sleep(0.1)
    gw.tokens = {
        "alice": gw.create_token("alice", ("analyst",)),
        "bob": gw.create_token("bob", ("approver",)),
        "admin": gw.create_token("admin", ("admin",)),
    }
    return gw


@pytest.fixture(scope="session")
def gateway(shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = launch_gateway(tmp_path_factory.mktemp("gateway"), shop_db)
    yield gw
    gw.stop()


@pytest.fixture
def start_gateway(shop_db: ShopDb, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def start(**gateway: Any) -> Gateway:
        directory = tmp_path / f"gw{len(started)}"
        directory.mkdir()
        gw = launch_gateway(directory, shop_db, **gateway)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()
