"""The remembered ledger head: the latest signed tree head a check has seen, kept outside the
recordings storage (``<gateway.state_dir>/ledger-head.json``) so that a rollback of the
stored ledger shows up against it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from proctor.recording.leaves import TreeHead

HEAD_FILE = "ledger-head.json"


class HeadFileError(ValueError):
    """The remembered head cannot be read (the message is safe to show)."""


def read_head_file(path: Path) -> TreeHead | None:
    """The remembered head, None when there is none yet. A damaged file is an error, never
    ignored: it must not switch the rollback check off."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return TreeHead.decode(base64.b64decode(data["head"], validate=True))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HeadFileError(
            f"cannot read the remembered ledger head {path}: {exc} "
            "(restore it, or delete it to trust the stored ledger afresh)"
        ) from exc
