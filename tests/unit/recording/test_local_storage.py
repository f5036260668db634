from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from proctor.recording.storage import BlobExists, BlobMissing, StorageError
from proctor.recording.storage.local import LocalBlobStorage


def test_put_get_list_delete(storage: LocalBlobStorage) -> None:
    storage.put("sessions/a/000001.seg", b"two")
    storage.put("sessions/a/000000.seg", b"one")
    storage.put("ledger/heads/000000000001.sth", b"h")
    assert storage.get("sessions/a/000000.seg") == b"one"
    assert storage.exists("sessions/a/000001.seg")
    assert not storage.exists("sessions/a/000002.seg")
    assert list(storage.list("sessions/")) == ["sessions/a/000000.seg", "sessions/a/000001.seg"]
    assert list(storage.list("sessions/a/000001")) == ["sessions/a/000001.seg"]
    assert list(storage.list()) == [
        "ledger/heads/000000000001.sth",
        "sessions/a/000000.seg",
        "sessions/a/000001.seg",
    ]
    assert list(storage.list("nothing/")) == []
    storage.delete("sessions/a/000000.seg")
    with pytest.raises(BlobMissing):
        storage.get("sessions/a/000000.seg")
    with pytest.raises(BlobMissing):
        storage.delete("sessions/a/000000.seg")


def test_blobs_are_write_once(storage: LocalBlobStorage) -> None:
    storage.put("a/b", b"1")
    with pytest.raises(BlobExists):
        storage.put("a/b", b"2")
    assert storage.get("a/b") == b"1"
    assert not [p for p in storage.root.rglob(".tmp-*")]  # no temporary files left behind


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a/../b", "..", "a//b", "a/./b", ".hidden", "a/.tmp-x", "a\\b", "a/b\x00", "a/"],
)
def test_bad_keys_are_refused(storage: LocalBlobStorage, key: str) -> None:
    with pytest.raises(StorageError):
        storage.put(key, b"x")
    with pytest.raises(StorageError):
        storage.get(key)


def test_retention_is_not_enforced_and_says_so(
    storage: LocalBlobStorage, caplog: pytest.LogCaptureFixture
) -> None:
    assert storage.enforces_retention is False
    with caplog.at_level(logging.WARNING, "proctor.recording.storage"):
        storage.put("a", b"1", retain_until=datetime(2030, 1, 1, tzinfo=UTC))
        storage.put("b", b"1", retain_until=datetime(2030, 1, 1, tzinfo=UTC))
    assert len(caplog.records) == 1
    storage.delete("a")  # nothing stops a local delete: the ledger is what notices


def test_temporary_files_are_not_listed(storage: LocalBlobStorage, tmp_path: Path) -> None:
    storage.put("a/b", b"1")
    (storage.root / "a" / ".tmp-123").write_bytes(b"partial")
    assert list(storage.list()) == ["a/b"]
