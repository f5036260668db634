"""The gateway's ledger: appending from the frontier alone, and restarting from a saved one
(recording/ledger.py). Storage is the real local blob store; the counting subclass only
notes which blobs a restart reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from proctor.recording import layout
from proctor.recording.keys import PublicKeys, SigningKey
from proctor.recording.ledger import Ledger
from proctor.recording.merkle import CompactRange, leaf_hash, root_of
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.verify import verify_ledger

NOW = datetime(2026, 4, 1, tzinfo=UTC)


class CountingStorage(LocalBlobStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read: list[str] = []
        self.listed: list[str] = []

    def get(self, key: str) -> bytes:
        self.read.append(key)
        return super().get(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        self.listed.append(prefix)
        return super().list(prefix)


def _grow(ledger: Ledger, commits: int, per_commit: int = 3, start: int = 0) -> None:
    """Tombstones are the leaves a ledger can make on its own; any leaf does here."""
    for c in range(commits):
        for k in range(per_commit):
            n = start + c * per_commit + k
            ledger.tombstone(f"s{n}", "retention", "test", NOW + timedelta(seconds=n))
        ledger.commit(NOW + timedelta(seconds=start + c))


def _full(storage: LocalBlobStorage, signer: SigningKey) -> Ledger:
    return Ledger(storage, signer)  # keeps every leaf: the reference


def test_a_ledger_without_its_leaves_signs_the_same_tree(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path / "rec")
    signer = SigningKey.generate()
    lean = Ledger(storage, signer, keep_leaves=False)
    _grow(lean, commits=7)
    full = _full(storage, signer)
    assert lean.size == full.size == 21
    assert lean.root() == full.root() == root_of(full.leaf_hashes())
    assert lean.head == full.head
    assert verify_ledger(storage, PublicKeys([signer.public])).ok
    with pytest.raises(RuntimeError, match="without its leaves"):
        lean.leaves()
    with pytest.raises(RuntimeError):
        lean.inclusion_proof(0)
    # Reopened without a frontier file: read from storage, still without the leaves.
    again = Ledger(storage, signer, keep_leaves=False)
    assert (again.size, again.root()) == (21, full.root())


def test_a_restart_from_the_saved_frontier_reads_no_old_batch(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path / "rec")
    signer = SigningKey.generate()
    frontier = tmp_path / "state" / "ledger-frontier.json"
    first = Ledger(storage, signer, keep_leaves=False, frontier_file=frontier)
    _grow(first, commits=9)
    saved = json.loads(frontier.read_text())
    assert saved["size"] == 27 and len(saved["frontier"]) == bin(27).count("1")

    storage.read.clear()
    storage.listed.clear()
    restarted = Ledger(storage, signer, keep_leaves=False, frontier_file=frontier)
    assert (restarted.size, restarted.root(), restarted.head) == (27, first.root(), first.head)
    assert storage.listed == []  # nothing listed
    assert not any(key.startswith(layout.LEAVES) and key != layout.batch_key(27)
                   for key in storage.read)  # fmt: skip
    # It appends where the ledger ends, and the whole ledger verifies.
    _grow(restarted, commits=2, start=100)
    full = _full(storage, signer)
    assert (restarted.size, restarted.root()) == (full.size, full.root()) == (33, full.root())
    assert verify_ledger(storage, PublicKeys([signer.public])).ok


def test_a_restart_catches_up_with_what_another_writer_appended(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path / "rec")
    signer = SigningKey.generate()
    frontier = tmp_path / "ledger-frontier.json"
    _grow(Ledger(storage, signer, keep_leaves=False, frontier_file=frontier), commits=3)
    other = Ledger(storage, signer)  # another worker, saving no frontier
    _grow(other, commits=4, start=50)
    restarted = Ledger(storage, signer, keep_leaves=False, frontier_file=frontier)
    assert (restarted.size, restarted.root()) == (other.size, other.root()) == (21, other.root())
    assert restarted.head == other.head


@pytest.mark.parametrize(
    "damage",
    [
        "edited root",
        "size without a head",
        "garbage",
        "wrong count",
        "absurd size",
        "frontier not a list",
        "other storage",
    ],
)
def test_a_frontier_that_does_not_match_storage_costs_a_full_read(
    tmp_path: Path, damage: str
) -> None:
    storage = LocalBlobStorage(tmp_path / "rec")
    signer = SigningKey.generate()
    frontier = tmp_path / "ledger-frontier.json"
    _grow(Ledger(storage, signer, keep_leaves=False, frontier_file=frontier), commits=5)
    saved = json.loads(frontier.read_text())
    if damage == "edited root":
        h = saved["frontier"][0]
        saved["frontier"][0] = ("0" if h[0] != "0" else "1") + h[1:]
    elif damage == "size without a head":
        saved["size"] = 14  # a size the ledger passed, but signed no head at
        saved["frontier"] = [CompactRange().root().hex()] * 3
    elif damage == "wrong count":
        saved["frontier"] = saved["frontier"][:-1]
    elif damage == "absurd size":
        saved["size"] = float("inf")  # written as Infinity, read back as a float
    elif damage == "frontier not a list":
        saved["frontier"] = None
    if damage == "garbage":
        frontier.write_text("{not json")
    else:
        frontier.write_text(json.dumps(saved))
    if damage == "other storage":
        storage = LocalBlobStorage(tmp_path / "another")
        _grow(Ledger(storage, signer), commits=1)
    reference = _full(storage, signer)
    reopened = Ledger(storage, signer, keep_leaves=False, frontier_file=frontier)
    assert (reopened.size, reopened.root(), reopened.head) == (
        reference.size,
        reference.root(),
        reference.head,
    )


def test_compact_range_resumes_only_from_a_well_formed_frontier() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(11)]
    whole = CompactRange()
    for h in hashes:
        whole.append(h)
    resumed = CompactRange.resume(11, whole.frontier)
    assert resumed.root() == whole.root() == root_of(hashes)
    extra = leaf_hash(b"more")
    resumed.append(extra)
    assert resumed.root() == root_of([*hashes, extra])
    with pytest.raises(ValueError):
        CompactRange.resume(11, whole.frontier[:-1])
    with pytest.raises(ValueError):
        CompactRange.resume(11, [b"short", *whole.frontier[1:]])
