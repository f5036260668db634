"""What a pack is built from besides the store: the signing key, the recordings and the
public keys that verify them, and the remembered ledger head (rollback check)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

from proctor.config import ProctorConfig
from proctor.evidence.pack import PackError, Recordings
from proctor.recording.keys import SigningKey
from proctor.recording.keystore import KeyStoreError, ensure_keys, load_keys
from proctor.recording.leaves import TreeHead
from proctor.recording.storage import StorageError
from proctor.recording.storage.factory import open_blob_storage

HEAD_FILE = "ledger-head.json"  # in gateway.state_dir, written by `proctor verify`


def remembered_head(state_dir: Path) -> TreeHead | None:
    """The latest ledger head a check remembered (None: none yet). A damaged file is an
    error, never ignored: it must not switch the rollback check off."""
    path = state_dir / HEAD_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return TreeHead.decode(base64.b64decode(data["head"], validate=True))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PackError(f"cannot read the remembered ledger head {path}: {exc}") from exc


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
