"""What a pack is built from besides the store: the signing key, the recordings and the
public keys that verify them, and the remembered ledger head (rollback check)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from proctor.config import ProctorConfig
from proctor.evidence.pack import PackError, Recordings
from proctor.recording.head_file import HEAD_FILE, HeadFileError, read_head_file
from proctor.recording.keys import SigningKey
from proctor.recording.keystore import KeyStoreError, ensure_keys, load_keys
from proctor.recording.leaves import TreeHead
from proctor.recording.storage import StorageError
from proctor.recording.storage.factory import open_blob_storage


def remembered_head(state_dir: Path) -> TreeHead | None:
    """The latest ledger head a check remembered (None: none yet)."""
    try:
        return read_head_file(state_dir / HEAD_FILE)
    except HeadFileError as exc:
        raise PackError(str(exc)) from exc


def pack_inputs(
    cfg: ProctorConfig, trusted: Sequence[TreeHead] = ()
) -> tuple[SigningKey, Recordings | None]:
    """The manifest's signing key (the recordings' current one; made if the gateway has
    none yet, so a gateway that records nothing still signs its packs) and the recordings to
    verify (None when recording is disabled)."""
    rec = cfg.recordings
    keys_dir = Path(rec.keys_dir)
    try:
        ensure_keys(keys_dir, encrypt=False)
        keys = load_keys(keys_dir, encrypt=False)
    except (KeyStoreError, OSError, ValueError) as exc:
        raise PackError(f"cannot load the signing key: {exc}") from exc
    if not rec.enabled:
        return keys.signer, None
    try:
        storage = open_blob_storage(rec, check=True)
    except StorageError as exc:
        raise PackError(f"cannot open the recordings storage: {exc}") from exc
    return keys.signer, Recordings(storage, keys.public, tuple(trusted))
