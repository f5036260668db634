"""Offline verification: sessions, the ledger, and both together. Needs only public keys.

Each check reports the *first* thing wrong with a precise reason (which event, which
segment, which key), because "verification failed" helps nobody investigate. A session
walk stops at its first problem: what follows an inconsistency cannot be trusted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from proctor.recording import layout
from proctor.recording.format import (
    BATCH_FORMAT,
    FORMAT_VERSIONS,
    SIGNED_TYPES,
    FormatError,
    Frame,
    Record,
    RecordType,
    Truncated,
    decode_record,
    genesis,
    iter_frames,
    session_tag,
    signature_input,
)
from proctor.recording.keys import PublicKeys
from proctor.recording.leaves import (
    Leaf,
    SessionLeaf,
    Tombstone,
    TreeHead,
    decode_leaf,
    iter_batch,
)
from proctor.recording.merkle import (
    CompactRange,
    consistency_proof,
    leaf_hash,
    root_of,
    verify_consistency,
)
from proctor.recording.storage.base import BlobMissing, BlobStorage


class Reason(StrEnum):
    HASH_MISMATCH = "hash-mismatch"
    BAD_SIGNATURE = "bad-signature"
    UNKNOWN_KEY = "unknown-key"
    MISSING_SEGMENT = "missing-segment"
    TRUNCATED = "truncated"
    REORDERED = "reordered"
    DROPPED = "dropped"
    FOREIGN_EVENT = "foreign-event"
    MALFORMED = "malformed"
    AFTER_SEAL = "after-seal"
    MISSING_SESSION = "missing-session"
    NOT_IN_LEDGER = "not-in-ledger"
    LEDGER_MISMATCH = "ledger-mismatch"
    TOMBSTONED_BUT_PRESENT = "tombstoned-but-present"
    LEDGER_GAP = "ledger-gap"
    LEDGER_ROLLED_BACK = "ledger-rolled-back"
    LEDGER_INCONSISTENT = "ledger-inconsistent"


class Status(StrEnum):
    SEALED = "sealed"  # every record verified, closed by a valid seal
    UNSEALED = "unsealed"  # a verified prefix up to the last checkpoint, no seal (crash/live)
    DELETED = "deleted"  # gone from storage, with a valid tombstone in the ledger
    INVALID = "invalid"  # something is wrong: see problems


@dataclass(frozen=True, slots=True)
class Problem:
    reason: Reason
    message: str
    event: int | None = None  # the record's seq, where one is to blame
    segment: int | None = None

    def __str__(self) -> str:
        where = []
        if self.segment is not None:
            where.append(f"segment {self.segment}")
        if self.event is not None:
            where.append(f"event {self.event}")
        return f"{self.reason}: {self.message}" + (f" ({', '.join(where)})" if where else "")


@dataclass
class SessionReport:
    session_id: str
    status: Status = Status.INVALID
    records: int = 0  # records whose chain verified
    verified_through: int | None = None  # seq of the last record covered by a valid signature
    checkpoints: int = 0  # valid signed records (checkpoints and seal)
    segments: int = 0
    key_ids: list[str] = field(default_factory=list)
    seal_hash: bytes | None = None
    signed_hashes: dict[int, bytes] = field(default_factory=dict)  # segment → signed record
    tombstone: Tombstone | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """No sign of tampering (an unsealed session can be intact)."""
        return not self.problems

    @property
    def ok(self) -> bool:
        """Intact and complete: sealed, or deleted by policy."""
        return self.intact and self.status in (Status.SEALED, Status.DELETED)

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def describe(self) -> str:
        if self.status == Status.DELETED and self.tombstone:
            t = self.tombstone
            return f"{self.session_id}: deleted by {t.by} on {t.at:%Y-%m-%d} ({t.reason})"
        head = f"{self.session_id}: {self.status}, {self.records} records"
        if self.problems:
            return f"{head}; first problem: {self.problems[0]}"
        return head


@dataclass
class LedgerReport:
    size: int = 0
    root: bytes = b""
    head: TreeHead | None = None
    unsigned_leaves: int = 0  # leaves after the latest signed head (a commit cut short)
    problems: list[Problem] = field(default_factory=list)
    entries: dict[str, list[Leaf]] = field(default_factory=dict)
    # What the checks ran on, for callers that prove more (the evidence pack's period proof).
    leaf_hashes: list[bytes] = field(default_factory=list)
    heads: list[TreeHead] = field(default_factory=list)  # every stored head, good or not

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class AuditReport:
    ledger: LedgerReport
    sessions: list[SessionReport]

    @property
    def ok(self) -> bool:
        return self.ledger.ok and all(s.ok for s in self.sessions)


class _Stop(Exception):
    """Ends a session walk at its first problem."""


class _SessionWalk:
    def __init__(self, session_id: str, keys: PublicKeys, report: SessionReport) -> None:
        self.sid = session_id
        self.keys = keys
        self.r = report
        self.prev = genesis(session_id)
        self.stag = session_tag(session_id)
        self.seq = 0
        self.last_signed = True  # the chain head is the genesis, trivially "covered"
        self.sealed = False
        self.kids: set[bytes] = set()
        self.fmt = 0  # the start record's format version

    def fail(self, reason: Reason, msg: str, event: int | None, segment: int | None) -> None:
        self.r.problems.append(Problem(reason, msg, event, segment))
        raise _Stop

    def segment(self, index: int, blob: bytes) -> None:
        frames, error = _split_frames(blob)
        records: list[Record] = []
        for fr in frames:
            try:
                records.append(decode_record(fr.raw))
            except FormatError as exc:
                self._check_records(index, records)
                self.fail(
                    Reason.MALFORMED,
                    f"record at byte {fr.offset} is malformed: {exc}",
                    self.seq,
                    index,
                )
        self._check_records(index, records)
        if error is not None:
            reason = Reason.TRUNCATED if isinstance(error, Truncated) else Reason.MALFORMED
            self.fail(reason, str(error), self.seq, index)
        if not self.last_signed:
            self.fail(
                Reason.TRUNCATED,
                "segment does not end with a signed checkpoint or seal: records after "
                f"{self.r.verified_through} are not covered by a signature",
                self.seq,
                index,
            )

    def _check_records(self, index: int, records: list[Record]) -> None:
        for pos, rec in enumerate(records):
            self._check(index, rec, records[pos + 1 :])

    def _check(self, index: int, rec: Record, rest: list[Record]) -> None:
        n = self.seq
        if self.sealed:
            self.fail(Reason.AFTER_SEAL, "records follow the seal", rec.seq, index)
        if rec.prev == self.prev and (rec.seq != n or rec.stag != self.stag):
            # In its right place in the chain, yet its own fields disagree: edited.
            self.fail(
                Reason.HASH_MISMATCH,
                f"record {n} was altered (seq {rec.seq}, tag {rec.stag.hex()} in the record)",
                n,
                index,
            )
        if rec.stag != self.stag:
            self.fail(
                Reason.FOREIGN_EVENT,
                f"record belongs to another session (tag {rec.stag.hex()})",
                n,
                index,
            )
        if rec.seq != n:
            if rec.seq < n or any(r.seq == n for r in rest):
                self.fail(
                    Reason.REORDERED, f"record with seq {rec.seq} where {n} belongs", n, index
                )
            self.fail(
                Reason.DROPPED,
                f"records {n}..{rec.seq - 1} are missing (next stored record is {rec.seq})",
                n,
                index,
            )
        if rec.prev != self.prev:
            if n == 0:
                self.fail(
                    Reason.FOREIGN_EVENT,
                    "the first record does not start from this session's genesis",
                    0,
                    index,
                )
            # A signed record we already checked cannot be the altered one.
            blame = n if self.last_signed else n - 1
            self.fail(
                Reason.HASH_MISMATCH,
                f"hash of record {n - 1} does not match the prev of record {n}: "
                f"record {blame} was altered",
                blame,
                index,
            )
        if (rec.type == RecordType.START) != (n == 0):
            self.fail(Reason.MALFORMED, "the start record must be record 0, only", n, index)
        if rec.type == RecordType.START:
            fmt = rec.body.get("fmt")
            if fmt not in FORMAT_VERSIONS:
                self.fail(Reason.MALFORMED, f"unknown format version {fmt!r}", n, index)
            self.fmt = fmt
        elif rec.type == RecordType.BATCH and self.fmt < BATCH_FORMAT:
            self.fail(
                Reason.MALFORMED, f"a batch record in a format {self.fmt} recording", n, index
            )
        if rec.type in SIGNED_TYPES:
            self._check_signed(index, rec, rest)
        else:
            self.last_signed = False
        self.prev = rec.hash
        self.seq = n + 1
        self.r.records = self.seq

    def _check_signed(self, index: int, rec: Record, rest: list[Record]) -> None:
        body = dict(rec.body)
        sig, kid = body.pop("sig", None), body.get("kid")
        if not isinstance(sig, bytes) or not isinstance(kid, bytes):
            self.fail(Reason.MALFORMED, "signed record without kid/sig", rec.seq, index)
        assert isinstance(sig, bytes) and isinstance(kid, bytes)
        kind = "seal" if rec.type == RecordType.SEAL else "checkpoint"
        if body.get("sid") != self.sid:
            self.fail(
                Reason.FOREIGN_EVENT,
                f"{kind} was signed for session {body.get('sid')!r}",
                rec.seq,
                index,
            )
        if kid not in self.keys:
            self.fail(
                Reason.UNKNOWN_KEY,
                f"{kind} signed by key {kid.hex()}, which is not in the keyring "
                "(re-signed by someone else?)",
                rec.seq,
                index,
            )
        data = signature_input([rec.type, rec.seq, rec.at, rec.prev, rec.stag, body])
        if not self.keys.verify(kid, sig, data):
            self.fail(
                Reason.BAD_SIGNATURE,
                f"bad signature on {kind} {self.r.checkpoints} by key {kid.hex()}",
                rec.seq,
                index,
            )
        if body.get("segment") != index:
            self.fail(
                Reason.REORDERED,
                f"{kind} was signed for segment {body.get('segment')}, stored as {index}",
                rec.seq,
                index,
            )
        if rest:
            self.fail(Reason.MALFORMED, f"records follow the {kind} in its segment", rec.seq, index)
        self.last_signed = True
        self.kids.add(kid)
        self.r.checkpoints += 1
        self.r.verified_through = rec.seq
        self.r.signed_hashes[index] = rec.hash
        if rec.type == RecordType.SEAL:
            self.sealed = True
            self.r.seal_hash = rec.hash


def _split_frames(blob: bytes) -> tuple[list[Frame], FormatError | None]:
    """The well-formed frames, and the error that ended them (if any)."""
    got: list[Frame] = []
    try:
        for fr in iter_frames(blob):
            got.append(fr)
    except FormatError as exc:
        return got, exc
    return got, None


def _segments(storage: BlobStorage, session_id: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for key in storage.list(layout.session_prefix(session_id)):
        index = layout.segment_index(key)
        if index is not None:
            found[index] = key
    return found


def verify_session(
    storage: BlobStorage,
    session_id: str,
    public_keys: PublicKeys,
    *,
    ledger: LedgerReport | None = None,
) -> SessionReport:
    """Verify one session; with ``ledger`` (from ``verify_ledger``), also against what the
    ledger says the session was: sealed where, with which hash, or deleted by whom."""
    report = SessionReport(session_id)
    walk = _SessionWalk(session_id, public_keys, report)
    segments = _segments(storage, session_id)
    report.segments = len(segments)
    entries = ledger.entries.get(session_id, []) if ledger else []
    tomb = next((e for e in entries if isinstance(e, Tombstone)), None)
    if not segments:
        if tomb is not None:
            report.tombstone = tomb
            report.status = Status.DELETED
        elif entries:
            report.problems.append(
                Problem(
                    Reason.MISSING_SESSION,
                    "the ledger records this session but storage has none of it, "
                    "and there is no tombstone",
                )
            )
        else:
            report.problems.append(Problem(Reason.MISSING_SESSION, "no such session in storage"))
        return report
    try:
        for index in range(max(segments) + 1):
            key = segments.get(index)
            if key is None:
                walk.fail(
                    Reason.MISSING_SEGMENT,
                    f"segment {index} is missing (segments up to {max(segments)} exist)",
                    walk.seq,
                    index,
                )
            try:
                blob = storage.get(key)  # type: ignore[arg-type]
            except BlobMissing:
                walk.fail(Reason.MISSING_SEGMENT, f"segment {index} vanished", walk.seq, index)
            walk.segment(index, blob)
    except _Stop:
        pass
    report.key_ids = sorted(k.hex() for k in walk.kids)
    if ledger is not None and not report.problems:
        _check_against_ledger(report, entries, tomb, ledger)
    if not report.problems:
        report.status = Status.SEALED if walk.sealed else Status.UNSEALED
    return report


def _check_against_ledger(
    report: SessionReport, entries: list[Leaf], tomb: Tombstone | None, ledger: LedgerReport
) -> None:
    sid = report.session_id
    if tomb is not None:
        report.tombstone = tomb
        report.problems.append(
            Problem(
                Reason.TOMBSTONED_BUT_PRESENT,
                f"deleted by {tomb.by} on {tomb.at:%Y-%m-%d} ({tomb.reason}) but still stored",
            )
        )
        return
    session_leaves = [e for e in entries if isinstance(e, SessionLeaf)]
    if not session_leaves:
        if ledger.size:
            report.problems.append(
                Problem(Reason.NOT_IN_LEDGER, f"session {sid} has no entry in the ledger")
            )
        return
    # Storage was checked on its own above; now: is it what the ledger committed to?
    # Mismatches first: a replaced session usually also has a different segment count,
    # and "replaced" is the more useful diagnosis than "segment missing".
    for leaf in session_leaves:
        stored = report.signed_hashes.get(leaf.segment)
        replaced = stored is not None and stored != leaf.record_hash
        if replaced or (leaf.sealed and report.seal_hash not in (None, leaf.record_hash)):
            report.problems.append(
                Problem(
                    Reason.LEDGER_MISMATCH,
                    f"segment {leaf.segment} differs from the one the ledger committed to: "
                    "the session was replaced",
                    leaf.seq,
                    leaf.segment,
                )
            )
            return
    for leaf in session_leaves:
        if leaf.segment in report.signed_hashes:
            continue
        reason = Reason.TRUNCATED if leaf.sealed else Reason.MISSING_SEGMENT
        what = "a seal" if leaf.sealed else "a checkpoint"
        report.problems.append(
            Problem(
                reason,
                f"the ledger records {what} in segment {leaf.segment} (record {leaf.seq}) "
                f"but storage has {report.segments} segments",
                leaf.seq,
                leaf.segment,
            )
        )
        return


def _stored_session_ids(storage: BlobStorage) -> set[str]:
    return {sid for k in storage.list(layout.SESSIONS) if (sid := layout.session_of(k))}


def verify_ledger(
    storage: BlobStorage, public_keys: PublicKeys, trusted: Sequence[TreeHead] = ()
) -> LedgerReport:
    """Recompute the tree from the stored leaves; check every signed head against it and
    every ``trusted`` head (ones seen earlier, kept elsewhere) for rollback."""
    report = LedgerReport()
    # Each leaf is hashed and decoded as its batch is read, and its bytes dropped: the
    # report keeps the hashes and the decoded entries, not a third copy of the ledger.
    hashes: list[bytes] = []
    entries: dict[str, list[Leaf]] = defaultdict(list)
    leaf_problems: list[Problem] = []  # reported after the batches' own problems
    for key in storage.list(layout.LEAVES):
        first = layout.batch_index(key)
        if first is None:
            continue
        if first != len(hashes):
            report.problems.append(
                Problem(
                    Reason.LEDGER_GAP,
                    f"leaf batch {key} starts at {first}, expected {len(hashes)}",
                )
            )
            break
        try:
            for d in iter_batch(storage.get(key)):
                _add_leaf(d, len(hashes), public_keys, entries, leaf_problems)
                hashes.append(leaf_hash(d))
        except FormatError as exc:
            report.problems.append(Problem(Reason.TRUNCATED, f"{key}: {exc}"))
            break
    report.problems += leaf_problems
    report.leaf_hashes = hashes
    report.size = len(hashes)
    report.root = root_of(hashes)
    report.entries = dict(entries)
    heads: list[TreeHead] = []
    for key in storage.list(layout.HEADS):
        if layout.head_size(key) is None:
            continue
        try:
            heads.append(TreeHead.decode(storage.get(key)))
        except FormatError as exc:
            report.problems.append(Problem(Reason.MALFORMED, f"{key}: {exc}"))
    report.heads = heads
    checks = [*((h, "stored") for h in heads), *((h, "trusted") for h in trusted)]
    roots = _prefix_roots(hashes, {h.size for h, _ in checks})
    latest = max(heads, key=lambda h: h.size) if heads else None
    for head, label in checks:
        # A client without the leaves checks a head by a consistency proof to the current
        # tree; that is done for the heads a reader relies on (the latest, the trusted ones).
        # Every other head is checked against the root of the prefix it claims, computed in
        # the same single pass: the same verdict (the proof holds exactly when the head's
        # root is that prefix's root) without a proof, O(n) hashing, for each of the
        # thousands of heads a busy gateway signs (one a second).
        prove = label == "trusted" or head is latest
        _check_head(report, hashes, roots, head, label, public_keys, prove=prove)
    if latest is not None:
        report.head = latest
        report.unsigned_leaves = report.size - report.head.size
    else:
        report.unsigned_leaves = report.size
    return report


def _add_leaf(
    data: bytes,
    i: int,
    public_keys: PublicKeys,
    entries: dict[str, list[Leaf]],
    problems: list[Problem],
) -> None:
    """Leaf ``i`` into ``entries`` by session, unless it is malformed or a tombstone whose
    signature does not verify (then a problem instead)."""
    try:
        leaf = decode_leaf(data)
    except FormatError as exc:
        problems.append(Problem(Reason.MALFORMED, f"ledger leaf {i}: {exc}"))
        return
    if isinstance(leaf, Tombstone):
        if leaf.key_id not in public_keys:
            problems.append(Problem(Reason.UNKNOWN_KEY, f"tombstone {i} signed by unknown key"))
            return
        if not leaf.signature_valid(public_keys):
            problems.append(Problem(Reason.BAD_SIGNATURE, f"bad signature on tombstone {i}"))
            return
    entries[leaf.session_id].append(leaf)


def _prefix_roots(hashes: Sequence[bytes], sizes: set[int]) -> dict[int, bytes]:
    """The root of the tree of the first ``size`` leaves, for each of ``sizes`` up to
    ``len(hashes)``: one pass over the leaves (a compact range), O(log n) more per size."""
    roots: dict[int, bytes] = {}
    compact = CompactRange()
    if 0 in sizes:
        roots[0] = compact.root()
    for h in hashes:
        compact.append(h)
        if compact.size in sizes:
            roots[compact.size] = compact.root()
    return roots


def _check_head(
    report: LedgerReport,
    hashes: list[bytes],
    roots: dict[int, bytes],
    head: TreeHead,
    label: str,
    keys: PublicKeys,
    *,
    prove: bool,
) -> None:
    """``roots``: `_prefix_roots` of ``hashes`` (covering ``head.size``). With ``prove``, the
    head is also checked the way a client without the leaves would, by a consistency proof
    from it to the current tree (which also proves the proofs)."""
    name = f"{label} tree head of size {head.size} ({head.at:%Y-%m-%d %H:%M:%S})"
    if head.key_id not in keys:
        report.problems.append(
            Problem(Reason.UNKNOWN_KEY, f"{name} signed by unknown key {head.key_id.hex()}")
        )
        return
    if not head.signature_valid(keys):
        report.problems.append(Problem(Reason.BAD_SIGNATURE, f"bad signature on {name}"))
        return
    if head.size > len(hashes):
        report.problems.append(
            Problem(
                Reason.LEDGER_ROLLED_BACK,
                f"{name} covers {head.size} leaves but storage holds only {len(hashes)}: "
                "the ledger was rolled back or truncated",
            )
        )
        return
    consistent = roots.get(head.size) == head.root
    if consistent and prove:
        proof = consistency_proof(hashes, head.size)
        consistent = verify_consistency(head.size, len(hashes), head.root, report.root, proof)
    if not consistent:
        report.problems.append(
            Problem(
                Reason.LEDGER_INCONSISTENT,
                f"{name} is not a prefix of the stored ledger: history was rewritten",
            )
        )


def verify_all(
    storage: BlobStorage,
    public_keys: PublicKeys,
    *,
    trusted: Sequence[TreeHead] = (),
    sessions: Iterable[str] | None = None,
) -> AuditReport:
    """The ledger, then every session in storage or in the ledger (or just ``sessions``)."""
    ledger = verify_ledger(storage, public_keys, trusted)
    ids = (
        sorted(_stored_session_ids(storage) | set(ledger.entries))
        if sessions is None
        else list(sessions)
    )
    reports = [verify_session(storage, sid, public_keys, ledger=ledger) for sid in ids]
    return AuditReport(ledger, reports)


__all__ = [
    "AuditReport",
    "LedgerReport",
    "Problem",
    "Reason",
    "SessionReport",
    "Status",
    "verify_all",
    "verify_ledger",
    "verify_session",
]
