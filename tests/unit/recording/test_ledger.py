from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from proctor.recording.keys import PublicKeys, SigningKey
from proctor.recording.leaves import SessionLeaf, Tombstone, TreeHead, decode_leaf
from proctor.recording.ledger import Ledger, delete_session
from proctor.recording.merkle import leaf_hash, verify_consistency, verify_inclusion
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.verify import Reason, Status, verify_all, verify_ledger

from .helpers import Gateway, sample_events

NOW = datetime(2026, 4, 1, tzinfo=UTC)


def test_leaves_and_heads_persist_and_reload(gw: Gateway) -> None:
    gw.record("s1", sample_events(3), checkpoint_at=[0])
    gw.record("s2", sample_events(3))
    head = gw.ledger.head
    assert head is not None and head.size == 3
    reloaded = Ledger(gw.storage, gw.signer)
    assert reloaded.size == 3
    assert reloaded.root() == head.root == gw.ledger.root()
    assert reloaded.head == head
    kinds = [
        (leaf.session_id, isinstance(leaf, SessionLeaf) and leaf.sealed)
        for leaf in reloaded.leaves()
    ]
    assert kinds == [("s1", False), ("s1", True), ("s2", True)]
    assert list(gw.storage.list("ledger/")) == [
        "ledger/heads/000000000002.sth",
        "ledger/heads/000000000003.sth",
        "ledger/leaves/000000000000.leaves",
        "ledger/leaves/000000000002.leaves",
    ]


def test_inclusion_and_consistency_proofs_from_the_ledger(gw: Gateway) -> None:
    for i in range(5):
        gw.record(f"s{i}", sample_events(2))
    ledger = gw.ledger
    hashes = ledger.leaf_hashes()
    for i in range(ledger.size):
        proof = ledger.inclusion_proof(i)
        assert verify_inclusion(i, ledger.size, hashes[i], proof, ledger.root())
    for old in range(ledger.size + 1):
        proof = ledger.consistency_proof(old)
        assert verify_consistency(old, ledger.size, ledger.root_at(old), ledger.root(), proof)
    assert leaf_hash(gw.ledger.leaf(0).encode()) == hashes[0]


def test_tombstone_tells_deleted_from_missing(gw: Gateway) -> None:
    gw.record("s1", sample_events(3))
    gw.record("s2", sample_events(3))
    stone = delete_session(gw.storage, gw.ledger, "s1", "retention 400d", "purge-job", NOW)
    assert not list(gw.storage.list("sessions/s1/"))
    audit = verify_all(gw.storage, PublicKeys([gw.signer.public]))
    assert audit.ok, [r.describe() for r in audit.sessions]
    s1 = next(r for r in audit.sessions if r.session_id == "s1")
    assert s1.status is Status.DELETED
    assert s1.tombstone == stone
    assert s1.describe() == "s1: deleted by purge-job on 2026-04-01 (retention 400d)"


def test_forged_tombstone_is_rejected(gw: Gateway) -> None:
    gw.record("s1", sample_events(3))
    mallory = SigningKey.generate()
    forged = Ledger(gw.storage, mallory)
    forged.tombstone("s1", "retention", "mallory", NOW)
    forged.commit(NOW)
    for key in list(gw.storage.list("sessions/s1/")):
        gw.storage.delete(key)
    audit = verify_all(gw.storage, PublicKeys([gw.signer.public]))
    assert not audit.ok
    reasons = {p.reason for p in audit.ledger.problems}
    assert Reason.UNKNOWN_KEY in reasons  # the tombstone and mallory's tree head
    (s1,) = audit.sessions
    assert s1.first_problem is not None and s1.first_problem.reason is Reason.MISSING_SESSION


def test_tombstone_with_session_still_present(gw: Gateway) -> None:
    gw.record("s1", sample_events(3))
    gw.ledger.tombstone("s1", "retention", "purge-job", NOW)
    gw.ledger.commit(NOW)
    (s1,) = verify_all(gw.storage, PublicKeys([gw.signer.public])).sessions
    assert s1.first_problem is not None
    assert s1.first_problem.reason is Reason.TOMBSTONED_BUT_PRESENT


def test_session_not_in_ledger(gw: Gateway) -> None:
    gw.record("s1", sample_events(3))
    gw.record("s2", sample_events(3), commit=False)
    gw.ledger._pending.clear()  # the gateway died before committing s2's leaf
    by_id = {
        r.session_id: r for r in verify_all(gw.storage, PublicKeys([gw.signer.public])).sessions
    }
    assert by_id["s1"].ok
    problem = by_id["s2"].first_problem
    assert problem is not None and problem.reason is Reason.NOT_IN_LEDGER


def test_two_writers_racing_do_not_lose_leaves(
    storage: LocalBlobStorage, signer: SigningKey
) -> None:
    a, b = Ledger(storage, signer), Ledger(storage, signer)
    stone_a = a.tombstone("x", "r", "a", NOW)
    stone_b = b.tombstone("y", "r", "b", NOW)
    a.commit(NOW)
    b.commit(NOW)  # its first choice of key exists: reload, rebase, retry
    final = Ledger(storage, signer)
    assert [decode_leaf(leaf.encode()) for leaf in final.leaves()] == [stone_a, stone_b]
    assert verify_ledger(storage, PublicKeys([signer.public])).ok


def test_unsigned_leaves_are_reported(gw: Gateway) -> None:
    gw.record("s1", sample_events(3))
    head = gw.ledger.head
    assert head is not None
    gw.storage.delete(f"ledger/heads/{head.size:012d}.sth")
    report = verify_ledger(gw.storage, PublicKeys([gw.signer.public]))
    assert report.ok and report.unsigned_leaves == 1


def test_tree_head_round_trip(signer: SigningKey) -> None:
    head = TreeHead.create(signer, 3, b"r" * 32, NOW)
    assert TreeHead.decode(head.encode()) == head
    assert head.signature_valid(PublicKeys([signer.public]))
    assert not head.signature_valid(PublicKeys([SigningKey.generate().public]))


def test_tombstone_round_trip(signer: SigningKey) -> None:
    stone = Tombstone.create(signer, "s1", "retention", "job", NOW)
    assert decode_leaf(stone.encode()) == stone
    assert stone.signature_valid(PublicKeys([signer.public]))


def test_ledger_refuses_a_gap(storage: LocalBlobStorage, signer: SigningKey) -> None:
    ledger = Ledger(storage, signer)
    ledger.tombstone("x", "r", "a", NOW)
    ledger.commit(NOW)
    storage.put(
        "ledger/leaves/000000000005.leaves", storage.get("ledger/leaves/000000000000.leaves")
    )
    from proctor.recording.ledger import LedgerCorrupt

    with pytest.raises(LedgerCorrupt, match="gap"):
        Ledger(storage, signer)
    assert (
        verify_ledger(storage, PublicKeys([signer.public])).problems[0].reason is Reason.LEDGER_GAP
    )


def test_two_writers_catch_up_without_relisting(
    storage: LocalBlobStorage, signer: SigningKey
) -> None:
    """A writer that loses the race reads only the batches it missed, then appends."""
    one, two = Ledger(storage, signer), Ledger(storage, signer)
    one.tombstone("a", "r", "x", NOW)
    one.commit(NOW)
    two.tombstone("b", "r", "x", NOW)

    listed = []
    real_list = storage.list

    def counting_list(prefix: str = "") -> Any:
        listed.append(prefix)
        return real_list(prefix)

    storage.list = counting_list  # type: ignore[method-assign]
    head = two.commit(NOW)
    storage.list = real_list  # type: ignore[method-assign]
    assert listed == []  # caught up by key, no listing of the ledger
    assert head is not None and head.size == 2 and two.size == 2
    report = verify_ledger(storage, PublicKeys([signer.public]))
    assert report.ok and report.size == 2 and report.unsigned_leaves == 0


def test_unsigned_commits_are_covered_by_the_next_head(
    storage: LocalBlobStorage, signer: SigningKey
) -> None:
    ledger = Ledger(storage, signer)
    ledger.tombstone("a", "r", "x", NOW)
    assert ledger.commit(NOW, sign=False) is None
    report = verify_ledger(storage, PublicKeys([signer.public]))
    assert report.ok and report.size == 1 and report.unsigned_leaves == 1
    head = ledger.commit(NOW)  # nothing pending: just the head
    assert head is not None and head.size == 1
    assert ledger.commit(NOW) is None  # already covered: no second head
    report = verify_ledger(storage, PublicKeys([signer.public]))
    assert report.ok and report.unsigned_leaves == 0
