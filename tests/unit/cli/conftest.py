"""A configuration, recording keys, local recordings and a SQLite store in a tmp dir, and real
recordings written with the library the gateway uses (writer + ledger + local storage)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from proctor.cli.recordings_admin_cmd import COMMANDS as ADMIN_COMMANDS
from proctor.cli.recordings_cmd import COMMANDS
from proctor.recording.events import (
    ApprovalEvent,
    ErrorEvent,
    Event,
    MaskingEvent,
    ResultEvent,
    SessionEnded,
    SessionStarted,
    StatementEvent,
)
from proctor.recording.format import SEGMENT_MAGIC, frame, iter_frames
from proctor.recording.keys import SigningKey
from proctor.recording.keystore import ensure_keys, load_keys
from proctor.recording.ledger import Ledger
from proctor.recording.session_writer import SessionRecordingWriter
from proctor.recording.storage.local import LocalBlobStorage

CONFIG = """\
version: 1
gateway: {state_dir: state}
store: {url: "sqlite:///state.db"}
recordings:
  dir: recordings
  keys_dir: keys
  retention:
    retain: 400d
    rules:
      - {connections: [shop], retain: 30d}
      - {tags: {env: prod}, retain: 7y}
connections:
  - name: shop
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app}
    tags: {env: dev}
  - name: billing
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app}
    tags: {env: prod}
  - name: orders
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app}
"""

GROUP = click.Group("proctor", commands=[*COMMANDS, *ADMIN_COMMANDS])


def session_events(at: datetime) -> list[Event]:
    """What alice did: a query with masked rows, a held statement approved, a denial."""
    s = timedelta(seconds=1)
    return [
        StatementEvent(at + s, "SELECT id, email FROM customers", "select", "allow", "read", 1),
        ResultEvent(
            at + 2 * s,
            columns=[("id", "int4"), ("email", "text")],
            rows=[[b"1", b"a***@example.com"], [b"2", None]],
            row_count=2,
            masked={"email": {"email": 1}},
            statement=1,
        ),
        MaskingEvent(at + 2 * s, {"email": {"email": 1}}, 1),
        StatementEvent(at + 3 * s, "UPDATE payments SET x = 1", "update", "review", "hold", 2),
        ApprovalEvent(at + 5 * s, "approved", "bob", "ticket 7", 2),
        StatementEvent(at + 6 * s, "DROP TABLE customers", "ddl", "deny", "no-ddl", 3),
        ErrorEvent(at + 6 * s, "denied by policy", "42501", 3),
    ]


@dataclass
class Env:
    root: Path
    config: Path
    storage: LocalBlobStorage
    keys_dir: Path
    signer: SigningKey

    def ledger(self) -> Ledger:
        return Ledger(self.storage, load_keys(self.keys_dir, encrypt=False).signer)

    def record(
        self,
        sid: str,
        *,
        connection: str = "orders",
        at: datetime | None = None,
        events: Sequence[Event] | None = None,
        seal: bool = True,
        checkpoint_at: Sequence[int] = (),
        signer: SigningKey | None = None,
        storage: LocalBlobStorage | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        at = at or datetime.now(UTC) - timedelta(hours=1)
        keys = load_keys(self.keys_dir, encrypt=True)
        store = storage or self.storage
        led = ledger or (self.ledger() if storage is None else None)
        start = SessionStarted(
            at=at,
            subject="alice@example.com",
            groups=frozenset({"eng"}),
            connection=connection,
            protocol="postgres",
            client_addr="10.0.0.7:51234",
            database=connection,
            token_id="tok_1",
            policy_hash="sha256:abcd",
            gateway_version="0.1.0",
        )
        w = SessionRecordingWriter(
            sid, start, signer or keys.signer, keys.kek, checkpoint_interval=1e9
        )
        evs = list(session_events(at) if events is None else events)
        for i, event in enumerate(evs):
            w.append(event)
            if i in checkpoint_at:
                flush = w.checkpoint(event.at)
                assert flush is not None
                store.put(*flush.blob)
                if led is not None:
                    led.append(flush.leaf)
        if seal:
            end_at = (evs[-1].at if evs else at) + timedelta(seconds=1)
            flush = w.seal(SessionEnded(end_at, "client-closed", 3, 100, 2000))
            store.put(*flush.blob)
            if led is not None:
                led.append(flush.leaf)
        if led is not None:
            led.commit()

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(GROUP, [*args, "--config", str(self.config)])

    def run_bare(self, *args: str) -> Result:
        """Without --config (auditor mode: --recordings and --keys)."""
        return CliRunner().invoke(GROUP, list(args))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.delenv("PROCTOR_CONFIG", raising=False)
    config = tmp_path / "proctor.yaml"
    config.write_text(textwrap.dedent(CONFIG))
    keys_dir = tmp_path / "keys"
    ensure_keys(keys_dir, encrypt=True)
    storage = LocalBlobStorage(tmp_path / "recordings")
    return Env(tmp_path, config, storage, keys_dir, load_keys(keys_dir, encrypt=False).signer)


# -- raw tampering --------------------------------------------------------------------------


def records(blob: bytes) -> list[bytes]:
    return [f.raw for f in iter_frames(blob)]


def rebuild(raws: list[bytes]) -> bytes:
    return SEGMENT_MAGIC + b"".join(frame(r) for r in raws)


def replace(storage: LocalBlobStorage, key: str, data: bytes) -> None:
    storage.delete(key)
    storage.put(key, data)
