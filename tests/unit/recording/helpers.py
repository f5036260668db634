"""Building recordings for the tests: sample events and a small gateway assembly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from proctor.recording.events import (
    ApprovalEvent,
    ErrorEvent,
    Event,
    MaskingEvent,
    ResultEvent,
    SessionEnded,
    SessionStarted,
    StatementEvent,
    TerminalOutput,
)
from proctor.recording.keys import KeyEncryptionKey, SigningKey
from proctor.recording.leaves import SessionLeaf
from proctor.recording.ledger import Ledger
from proctor.recording.session_writer import SessionRecordingWriter
from proctor.recording.storage.local import LocalBlobStorage

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def started(at: datetime = T0) -> SessionStarted:
    return SessionStarted(
        at=at,
        subject="alice@example.com",
        groups=frozenset({"dba", "eng"}),
        connection="orders-db",
        protocol="postgres",
        client_addr="10.0.0.7:51234",
        database="orders",
        token_id="tok_1",
        policy_hash="sha256:abcd",
        gateway_version="0.1.0",
    )


def sample_events(n: int = 6) -> list[Event]:
    out: list[Event] = []
    for i in range(n):
        at = T0 + timedelta(seconds=i + 1)
        match i % 6:
            case 0:
                out.append(StatementEvent(at, f"SELECT {i}", "simple", "allow", "r1", i))
            case 1:
                out.append(
                    ResultEvent(
                        at,
                        columns=[("id", "int4"), ("email", "text")],
                        rows=[[b"1", b"***@example.com"], [b"2", None]],
                        row_count=2,
                        masked={"email": {"email": 1}},
                        statement=i,
                    )
                )
            case 2:
                out.append(ApprovalEvent(at, "approved", "bob", "ticket 7", i))
            case 3:
                out.append(ErrorEvent(at, "permission denied", "42501", i))
            case 4:
                out.append(MaskingEvent(at, {"email": {"email": 3}}, i))
            case _:
                out.append(TerminalOutput(at, b"$ ls\r\n", "o"))
    return out


def ended(at: datetime = T0 + timedelta(hours=1)) -> SessionEnded:
    return SessionEnded(at, "client-closed", 3, 100, 2000)


@dataclass
class Gateway:
    """A writer + ledger + storage, as the gateway will assemble them."""

    storage: LocalBlobStorage
    signer: SigningKey
    kek: KeyEncryptionKey | None
    ledger: Ledger
    leaves: list[SessionLeaf] = field(default_factory=list)

    def record(
        self,
        session_id: str,
        events: Sequence[Event],
        *,
        checkpoint_at: Sequence[int] = (),
        seal: bool = True,
        signer: SigningKey | None = None,
        commit: bool = True,
    ) -> SessionRecordingWriter:
        w = SessionRecordingWriter(
            session_id, started(), signer or self.signer, self.kek, checkpoint_interval=1e9
        )
        for i, event in enumerate(events):
            w.append(event)
            if i in checkpoint_at:
                flush = w.checkpoint(T0)
                assert flush is not None
                self.storage.put(*flush.blob)
                self.ledger.append(flush.leaf)
        if seal:
            flush = w.seal(ended())
            self.storage.put(*flush.blob)
            self.ledger.append(flush.leaf)
        if commit:
            self.ledger.commit(T0)
        return w
