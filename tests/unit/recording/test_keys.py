from __future__ import annotations

from pathlib import Path

import pytest

from proctor.recording.keys import (
    FileKeyEncryptionKey,
    Keyring,
    PublicKeys,
    RecordingKeyError,
    SigningKey,
)
from proctor.recording.ledger import Ledger
from proctor.recording.reader import read_session
from proctor.recording.verify import Reason, verify_all, verify_session

from .helpers import Gateway, sample_events


def test_rotation_keeps_old_sessions_verifiable(gw: Gateway) -> None:
    ring = Keyring(gw.signer)
    old_id = gw.signer.id.hex()
    gw.record("old", sample_events(3))
    ring.rotate(SigningKey.generate())
    gw.signer = ring.current
    gw.ledger = Ledger(gw.storage, ring.current)
    gw.record("new", sample_events(3))
    keys = ring.public_keys()
    assert len(keys) == 2
    audit = verify_all(gw.storage, keys)
    assert audit.ok, [r.describe() for r in audit.sessions]
    assert {r.session_id: r.key_ids for r in audit.sessions} == {
        "old": [old_id],
        "new": [ring.current.id.hex()],
    }
    # Without the retired key, the old session names its unknown key.
    only_new = PublicKeys([ring.current.public])
    problem = verify_session(gw.storage, "old", only_new).first_problem
    assert problem is not None and problem.reason is Reason.UNKNOWN_KEY


def test_content_needs_the_kek_verification_does_not(gw: Gateway, tmp_path: Path) -> None:
    gw.record("s1", sample_events(6))
    blobs = b"".join(gw.storage.get(k) for k in gw.storage.list("sessions/"))
    for secret in (b"SELECT 0", b"alice@example.com", b"***@example.com", b"permission denied"):
        assert secret not in blobs
    assert verify_session(gw.storage, "s1", PublicKeys([gw.signer.public])).ok
    with pytest.raises(RecordingKeyError, match="not given"):
        list(read_session(gw.storage, "s1"))
    other = FileKeyEncryptionKey.generate(tmp_path / "other.key")
    with pytest.raises(RecordingKeyError):
        list(read_session(gw.storage, "s1", [_Renamed(other, gw.kek.id)]))  # type: ignore[union-attr]
    assert gw.kek is not None
    events = list(read_session(gw.storage, "s1", [FileKeyEncryptionKey.load(tmp_path / "kek.key")]))
    assert len(events) == 8


class _Renamed:
    """A wrong KEK presenting the right id: unwrap must fail, not return garbage."""

    def __init__(self, inner: FileKeyEncryptionKey, kid: str) -> None:
        self.inner, self.id = inner, kid

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        return self.inner.wrap(data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        return self.inner.unwrap(wrapped, context)


def test_signing_key_pem_round_trip() -> None:
    key = SigningKey.generate()
    again = SigningKey.from_pem(key.to_pem())
    assert again.id == key.id
    assert PublicKeys.from_pems([key.public_pem()]).keys() == {key.id}


def test_kek_file_is_private_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    FileKeyEncryptionKey.generate(path)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        FileKeyEncryptionKey.generate(path)
    (tmp_path / "bad").write_text("zz")
    with pytest.raises(RecordingKeyError):
        FileKeyEncryptionKey.load(tmp_path / "bad")


def test_unwrap_is_bound_to_the_session() -> None:
    kek = FileKeyEncryptionKey(b"\x01" * 32)
    wrapped = kek.wrap(b"d" * 32, b"session-a")
    assert kek.unwrap(wrapped, b"session-a") == b"d" * 32
    with pytest.raises(RecordingKeyError):
        kek.unwrap(wrapped, b"session-b")
