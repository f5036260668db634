from __future__ import annotations

from pathlib import Path

import pytest

from proctor.recording.keys import FileKeyEncryptionKey, SigningKey
from proctor.recording.ledger import Ledger
from proctor.recording.storage.local import LocalBlobStorage

from .helpers import Gateway


@pytest.fixture
def signer() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def kek(tmp_path: Path) -> FileKeyEncryptionKey:
    return FileKeyEncryptionKey.generate(tmp_path / "kek.key")


@pytest.fixture
def storage(tmp_path: Path) -> LocalBlobStorage:
    return LocalBlobStorage(tmp_path / "recordings")


@pytest.fixture
def gw(storage: LocalBlobStorage, signer: SigningKey, kek: FileKeyEncryptionKey) -> Gateway:
    return Gateway(storage, signer, kek, Ledger(storage, signer))
