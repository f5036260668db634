"""Each way of tampering with recordings is detected, with a precise reason."""

from __future__ import annotations

from datetime import UTC, datetime

from proctor.recording.format import SEGMENT_MAGIC, frame, iter_frames
from proctor.recording.keys import PublicKeys, SigningKey
from proctor.recording.ledger import Ledger
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.verify import Reason, Status, verify_all, verify_ledger, verify_session

from .helpers import Gateway, sample_events


def keys(gw: Gateway) -> PublicKeys:
    return PublicKeys([gw.signer.public])


def records(blob: bytes) -> list[bytes]:
    return [f.raw for f in iter_frames(blob)]


def rebuild(raws: list[bytes]) -> bytes:
    return SEGMENT_MAGIC + b"".join(frame(r) for r in raws)


def replace(storage: LocalBlobStorage, key: str, data: bytes) -> None:
    storage.delete(key)
    storage.put(key, data)


SEG0 = "sessions/s1/000000.seg"
SEG1 = "sessions/s1/000001.seg"


def recorded(gw: Gateway) -> None:
    gw.record("s1", sample_events(12), checkpoint_at=[5])


def test_untouched_session_verifies(gw: Gateway) -> None:
    recorded(gw)
    report = verify_session(gw.storage, "s1", keys(gw))
    assert report.ok, report.problems
    assert report.status is Status.SEALED
    assert report.checkpoints == 2
    assert report.key_ids == [gw.signer.id.hex()]
    assert verify_all(gw.storage, keys(gw)).ok


def test_flip_a_ciphertext_byte(gw: Gateway) -> None:
    recorded(gw)
    raws = records(gw.storage.get(SEG0))
    bad = bytearray(raws[3])
    bad[-5] ^= 0x01  # inside the encrypted body of record 3
    raws[3] = bytes(bad)
    replace(gw.storage, SEG0, rebuild(raws))
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.HASH_MISMATCH
    assert problem.event == 3


def test_flip_a_byte_in_the_checkpoint_signature(gw: Gateway) -> None:
    recorded(gw)
    blob = bytearray(gw.storage.get(SEG0))
    blob[-3] ^= 0x40  # the signature is the last field of the checkpoint record
    replace(gw.storage, SEG0, bytes(blob))
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.BAD_SIGNATURE
    assert gw.signer.id.hex() in problem.message


def test_drop_an_event(gw: Gateway) -> None:
    recorded(gw)
    raws = records(gw.storage.get(SEG0))
    del raws[2]
    replace(gw.storage, SEG0, rebuild(raws))
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.DROPPED
    assert problem.event == 2


def test_reorder_two_events(gw: Gateway) -> None:
    recorded(gw)
    raws = records(gw.storage.get(SEG0))
    raws[2], raws[3] = raws[3], raws[2]
    replace(gw.storage, SEG0, rebuild(raws))
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.REORDERED
    assert problem.event == 2


def test_truncate_a_segment_mid_record(gw: Gateway) -> None:
    recorded(gw)
    blob = gw.storage.get(SEG1)
    replace(gw.storage, SEG1, blob[: len(blob) // 2])
    report = verify_session(gw.storage, "s1", keys(gw))
    assert report.first_problem is not None
    assert report.first_problem.reason is Reason.TRUNCATED
    assert report.first_problem.segment == 1
    assert report.verified_through == 7  # the first checkpoint still vouches for 0..7


def test_truncate_at_a_record_boundary_loses_the_signature(gw: Gateway) -> None:
    recorded(gw)
    raws = records(gw.storage.get(SEG1))
    replace(gw.storage, SEG1, rebuild(raws[:-1]))
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.TRUNCATED
    assert "not covered by a signature" in problem.message


def test_delete_the_last_segment_is_caught_by_the_ledger(gw: Gateway) -> None:
    recorded(gw)
    gw.storage.delete(SEG1)
    alone = verify_session(gw.storage, "s1", keys(gw))
    assert alone.status is Status.UNSEALED  # on its own it looks like a crash...
    audit = verify_all(gw.storage, keys(gw))
    (report,) = audit.sessions
    assert report.first_problem is not None  # ...the ledger knows it was sealed
    assert report.first_problem.reason is Reason.TRUNCATED
    assert not audit.ok


def test_delete_a_middle_segment(gw: Gateway) -> None:
    gw.record("s1", sample_events(12), checkpoint_at=[3, 7])
    gw.storage.delete(SEG1)
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.MISSING_SEGMENT
    assert problem.segment == 1


def test_delete_a_whole_session(gw: Gateway) -> None:
    recorded(gw)
    gw.record("s2", sample_events(3))
    for key in list(gw.storage.list("sessions/s1/")):
        gw.storage.delete(key)
    audit = verify_all(gw.storage, keys(gw))
    by_id = {r.session_id: r for r in audit.sessions}
    assert by_id["s2"].ok
    problem = by_id["s1"].first_problem
    assert problem is not None
    assert problem.reason is Reason.MISSING_SESSION
    assert "no tombstone" in problem.message


def test_replace_a_session_resigned_by_an_unknown_key(gw: Gateway) -> None:
    recorded(gw)
    for key in list(gw.storage.list("sessions/s1/")):
        gw.storage.delete(key)
    forger = Gateway(gw.storage, SigningKey.generate(), gw.kek, gw.ledger)
    forger.record("s1", sample_events(4), commit=False)
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.UNKNOWN_KEY
    assert "not in the keyring" in problem.message


def test_replace_a_session_resigned_by_a_known_key(gw: Gateway) -> None:
    """An insider holding a keyring key re-records the session: its signatures are
    valid, but the ledger committed to the original seal."""
    recorded(gw)
    for key in list(gw.storage.list("sessions/s1/")):
        gw.storage.delete(key)
    other = SigningKey.generate()
    insider = Gateway(gw.storage, other, gw.kek, Ledger(gw.storage, other))
    insider.record("s1", sample_events(4), commit=False)
    both = PublicKeys([gw.signer.public, other.public])
    assert verify_session(gw.storage, "s1", both).ok  # fine in isolation
    audit = verify_all(gw.storage, both)
    problem = audit.sessions[0].first_problem
    assert problem is not None
    assert problem.reason is Reason.LEDGER_MISMATCH


def test_splice_events_from_another_session(gw: Gateway) -> None:
    recorded(gw)
    gw.record("s2", sample_events(12), checkpoint_at=[5])
    mine = records(gw.storage.get(SEG0))
    theirs = records(gw.storage.get("sessions/s2/000000.seg"))
    mine[3] = theirs[3]
    replace(gw.storage, SEG0, rebuild(mine))
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.FOREIGN_EVENT
    assert problem.event == 3


def test_splice_a_whole_segment_from_another_session(gw: Gateway) -> None:
    recorded(gw)
    gw.record("s2", sample_events(12), checkpoint_at=[5])
    replace(gw.storage, SEG1, gw.storage.get("sessions/s2/000001.seg"))
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.FOREIGN_EVENT
    assert problem.segment == 1


def test_swap_segments(gw: Gateway) -> None:
    recorded(gw)
    a, b = gw.storage.get(SEG0), gw.storage.get(SEG1)
    replace(gw.storage, SEG0, b)
    replace(gw.storage, SEG1, a)
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason in (Reason.REORDERED, Reason.DROPPED)


def test_roll_the_ledger_back(gw: Gateway) -> None:
    recorded(gw)
    seen = gw.ledger.head
    assert seen is not None
    gw.record("s2", sample_events(3))
    latest = gw.ledger.head
    assert latest is not None
    assert verify_ledger(gw.storage, keys(gw), [seen, latest]).ok
    # Delete the newest batch and head, and the session they named.
    for key in ("ledger/leaves/000000000002.leaves", f"ledger/heads/{latest.size:012d}.sth"):
        gw.storage.delete(key)
    for key in list(gw.storage.list("sessions/s2/")):
        gw.storage.delete(key)
    assert verify_ledger(gw.storage, keys(gw)).ok  # consistent with itself...
    report = verify_ledger(gw.storage, keys(gw), [latest])  # ...not with what we saw
    assert report.problems[0].reason is Reason.LEDGER_ROLLED_BACK


def test_rewrite_ledger_history(gw: Gateway) -> None:
    recorded(gw)
    seen = gw.ledger.head
    assert seen is not None
    # Rebuild the whole ledger from scratch with different content, same size.
    for key in list(gw.storage.list("ledger/")):
        gw.storage.delete(key)
    fresh = Ledger(gw.storage, gw.signer)
    stone_at = datetime(2025, 1, 1, tzinfo=UTC)
    fresh.tombstone("s1", "cover-up", "mallory", stone_at)
    fresh.tombstone("s1", "cover-up", "mallory", stone_at)
    fresh.commit(stone_at)
    report = verify_ledger(gw.storage, keys(gw), [seen])
    assert report.problems[0].reason is Reason.LEDGER_INCONSISTENT


def test_stored_tree_head_with_missing_leaves(gw: Gateway) -> None:
    recorded(gw)
    gw.record("s2", sample_events(3))
    gw.storage.delete("ledger/leaves/000000000002.leaves")
    report = verify_ledger(gw.storage, keys(gw))
    assert report.problems[0].reason is Reason.LEDGER_ROLLED_BACK


def test_crash_leaves_a_verifiable_unsealed_prefix(gw: Gateway) -> None:
    events = sample_events(20)
    w = gw.record("s1", events, checkpoint_at=[4, 9], seal=False)
    # More events were appended after the last checkpoint; the process then died.
    assert w.pending == 10
    report = verify_session(gw.storage, "s1", keys(gw))
    assert report.intact
    assert report.status is Status.UNSEALED
    assert not report.ok
    assert report.verified_through == 12  # start, 5 events, checkpoint, 5 events, checkpoint
    audit = verify_all(gw.storage, keys(gw))
    assert audit.sessions[0].status is Status.UNSEALED
    assert audit.sessions[0].intact


def test_events_after_the_seal(gw: Gateway) -> None:
    recorded(gw)
    extra = records(gw.storage.get(SEG0))[1]
    gw.storage.put("sessions/s1/000002.seg", rebuild([extra]))
    problem = verify_session(gw.storage, "s1", keys(gw)).first_problem
    assert problem is not None
    assert problem.reason is Reason.AFTER_SEAL
