"""Where recording blobs live in a ``BlobStorage`` (docs/recording-format.md §Storage).

    sessions/<session_id>/<segment:06d>.seg   one per checkpoint, the last one sealed
    ledger/leaves/<first_index:012d>.leaves   one per appended batch of ledger leaves
    ledger/heads/<tree_size:012d>.sth         one signed tree head per commit

Zero-padded numbers make lexicographic order (what ``BlobStorage.list`` returns) the
numeric order. Write-once keys double as a lock: two writers racing for the next ledger
batch collide on the same key and one of them gets ``BlobExists``.
"""

from __future__ import annotations

import re

from proctor.recording.format import check_session_id

SESSIONS = "sessions/"
LEAVES = "ledger/leaves/"
HEADS = "ledger/heads/"

_SEGMENT = re.compile(r"(\d{6})\.seg")
_BATCH = re.compile(r"(\d{12})\.leaves")
_HEAD = re.compile(r"(\d{12})\.sth")


def session_prefix(session_id: str) -> str:
    return f"{SESSIONS}{check_session_id(session_id)}/"


def segment_key(session_id: str, index: int) -> str:
    return f"{session_prefix(session_id)}{index:06d}.seg"


def segment_index(key: str) -> int | None:
    m = _SEGMENT.fullmatch(key.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def session_of(key: str) -> str | None:
    parts = key.split("/")
    return parts[1] if len(parts) == 3 and key.startswith(SESSIONS) else None


def batch_key(first_index: int) -> str:
    return f"{LEAVES}{first_index:012d}.leaves"


def batch_index(key: str) -> int | None:
    m = _BATCH.fullmatch(key[len(LEAVES) :]) if key.startswith(LEAVES) else None
    return int(m.group(1)) if m else None


def head_key(size: int) -> str:
    return f"{HEADS}{size:012d}.sth"


def head_size(key: str) -> int | None:
    m = _HEAD.fullmatch(key[len(HEADS) :]) if key.startswith(HEADS) else None
    return int(m.group(1)) if m else None
