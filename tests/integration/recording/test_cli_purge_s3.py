"""``recordings purge`` on S3 with Object Lock (SeaweedFS): a session still under retention
is reported and skipped before its tombstone is written, never half-deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from proctor.cli.recordings_purge import Action, purge
from proctor.config.retention import RetentionConfig
from proctor.recording.events import SessionEnded, SessionStarted, StatementEvent
from proctor.recording.keys import FileKeyEncryptionKey, PublicKeys, SigningKey
from proctor.recording.ledger import Ledger
from proctor.recording.session_writer import SessionRecordingWriter
from proctor.recording.storage.s3 import S3BlobStorage
from proctor.recording.verify import Status, verify_all

from .conftest import MakeStorage

pytestmark = pytest.mark.integration

OLD = datetime.now(UTC) - timedelta(days=40)


def record(
    storage: S3BlobStorage,
    ledger: Ledger,
    signer: SigningKey,
    kek: FileKeyEncryptionKey,
    sid: str,
    retain_until: datetime | None,
) -> None:
    start = SessionStarted(OLD, "alice", frozenset(), "shop", "postgres", "10.0.0.7:1")
    w = SessionRecordingWriter(sid, start, signer, kek)
    w.append(StatementEvent(OLD + timedelta(seconds=1), "SELECT 1", "select", "allow"))
    first = w.checkpoint(OLD + timedelta(seconds=1))
    assert first is not None
    storage.put(*first.blob)  # the first segment: not locked
    ledger.append(first.leaf)
    flush = w.seal(SessionEnded(OLD + timedelta(seconds=2), "client-closed"))
    storage.put(*flush.blob, retain_until=retain_until)  # the seal: maybe locked
    ledger.append(flush.leaf)
    ledger.commit()


def test_a_locked_session_is_skipped_whole(
    locked_bucket: str, make_storage: MakeStorage, tmp_path: Path
) -> None:
    storage = make_storage(locked_bucket)
    assert storage.enforces_retention
    signer = SigningKey.generate()
    kek = FileKeyEncryptionKey.generate(tmp_path / "kek.key")
    ledger = Ledger(storage, signer)
    record(storage, ledger, signer, kek, "locked", datetime.now(UTC) + timedelta(days=1))
    record(storage, ledger, signer, kek, "free", None)
    public = PublicKeys([signer.public])

    result = purge(
        storage,
        public=public,
        keks=[kek],
        retention=RetentionConfig.model_validate({"retain": "30d"}),
        connection_tags={"shop": {}},
        holds_on=lambda sid, conn: [],
        now=datetime.now(UTC),
        dry_run=False,
        signer=signer,
    )
    by_id = {i.session_id: i for i in result.items}
    assert by_id["locked"].action is Action.LOCKED
    assert (
        "sessions/locked/000001.seg is under COMPLIANCE retention until" in by_id["locked"].detail
    )
    assert by_id["free"].action is Action.DELETED
    # The locked session is whole and has no tombstone; the other is deleted by policy.
    assert list(storage.list("sessions/locked/")) == [
        "sessions/locked/000000.seg",
        "sessions/locked/000001.seg",
    ]
    audit = verify_all(storage, public)
    assert audit.ok, [s.describe() for s in audit.sessions]
    statuses = {s.session_id: s.status for s in audit.sessions}
    assert statuses == {"locked": Status.SEALED, "free": Status.DELETED}
