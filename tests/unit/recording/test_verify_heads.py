"""The ledger verifier checks every signed head, and does it in one pass over the leaves
(recording/verify.py). A gateway signs a head about once a second while it records, so a
ledger of a busy month has millions of them: a check costing a pass over the leaves per
head would never finish. Storage is the real local blob store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from proctor.recording import layout, merkle
from proctor.recording.keys import PublicKeys, SigningKey
from proctor.recording.leaves import TreeHead
from proctor.recording.ledger import Ledger
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.verify import Reason, verify_ledger

NOW = datetime(2026, 4, 1, tzinfo=UTC)
PER_COMMIT = 3


def _grow(ledger: Ledger, commits: int) -> None:
    """Tombstones are the leaves a ledger can make on its own; any leaf does here. Each
    commit signs a head."""
    for c in range(commits):
        for k in range(PER_COMMIT):
            n = c * PER_COMMIT + k
            ledger.tombstone(f"s{n}", "retention", "test", NOW + timedelta(seconds=n))
        ledger.commit(NOW + timedelta(seconds=c))


def _forge(storage: LocalBlobStorage, signer: SigningKey, size: int, root: bytes) -> None:
    """Replace the stored head of ``size`` by one the gateway's own key signed over another
    root: what a gateway showing different histories to different readers would leave."""
    key = layout.head_key(size)
    storage.delete(key)
    storage.put(key, TreeHead.create(signer, size, root, NOW + timedelta(days=1)).encode())


@pytest.mark.parametrize("which", ["first", "middle", "latest"])
def test_a_stored_head_over_another_history_is_caught_wherever_it_is(
    tmp_path: Path, which: str
) -> None:
    storage = LocalBlobStorage(tmp_path / "rec")
    signer = SigningKey.generate()
    ledger = Ledger(storage, signer)
    _grow(ledger, commits=6)
    keys = PublicKeys([signer.public])
    assert verify_ledger(storage, keys).ok
    sizes = [PER_COMMIT * (c + 1) for c in range(6)]
    size = {"first": sizes[0], "middle": sizes[2], "latest": sizes[-1]}[which]
    # A root the ledger really had, at another size: well-formed, signed, and wrong here.
    other = merkle.root_of(ledger.leaf_hashes()[: size - 1])
    _forge(storage, signer, size, other)

    report = verify_ledger(storage, keys)
    assert [p.reason for p in report.problems] == [Reason.LEDGER_INCONSISTENT]
    assert f"tree head of size {size} " in report.problems[0].message
    # The leaves themselves are intact: the same tree as before.
    assert report.root == ledger.root()


def test_a_trusted_head_and_the_latest_are_also_proven(tmp_path: Path) -> None:
    """The heads a reader relies on get the consistency proof a client without the leaves
    would check; a trusted head over another history fails it."""
    storage = LocalBlobStorage(tmp_path / "rec")
    signer = SigningKey.generate()
    ledger = Ledger(storage, signer)
    _grow(ledger, commits=4)
    keys = PublicKeys([signer.public])
    seen = TreeHead.create(signer, 6, merkle.root_of(ledger.leaf_hashes()[:6]), NOW)
    assert verify_ledger(storage, keys, [seen]).ok
    lied = TreeHead.create(signer, 6, merkle.root_of(ledger.leaf_hashes()[:5]), NOW)
    report = verify_ledger(storage, keys, [lied])
    assert [p.reason for p in report.problems] == [Reason.LEDGER_INCONSISTENT]
    assert report.problems[0].message.startswith("trusted tree head of size 6 ")


def test_heads_cost_no_pass_over_the_leaves_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted in node hashes, not timed: the tree once, the prefix roots in the same pass
    (a few hashes per head), and one consistency proof (for the latest head). Checking each
    of the 150 heads by a proof and a full recomputation, as before, took ~200 times more."""
    storage = LocalBlobStorage(tmp_path / "rec")
    signer = SigningKey.generate()
    _grow(Ledger(storage, signer, keep_leaves=False), commits=150)
    leaves = 150 * PER_COMMIT
    calls = 0
    node_hash = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return node_hash(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    report = verify_ledger(storage, PublicKeys([signer.public]))
    assert report.ok and report.size == leaves and len(report.heads) == 150
    # The tree (n - 1), the compact range (< n merges, < log2(n) per root asked) and one
    # proof (~n): well under 10 n. Per-head passes would be ~2 n per head.
    assert calls < 10 * leaves
