"""``proctor recordings purge``: delete recordings past retention, with signed tombstones.

For each stored session, in order:
1. its connection, from the recording's own start event (read with the key-encryption key);
   its end, from the clear-text time of its last record (seal, or last checkpoint);
2. the retention that applies (``recordings.retention``; connection tags from the
   configuration); not expired: kept;
3. an active legal hold on the session or its connection: kept, reported;
4. the session must verify (public keys, against the ledger): a tampered recording is
   evidence, never purged;
5. with Object Lock, every segment must be deletable *now*: a locked session is reported and
   skipped before anything is written, so a session is never half-deleted;
6. ``delete_session``: a signed tombstone committed to the ledger, then the blobs.

Why the recording and not the SQL ``sessions`` table: the recording is what is deleted and
what the tombstone speaks for; it is tamper-evident (the start event is hash-chained and
signed) while a SQL row can be edited to move a session under a shorter rule; and the SQL
store may have pruned, or never received (it is written in batches, by another sink), the
row. The cost: reading the start event needs the key-encryption key when recordings are
encrypted. Without it, the session is skipped and reported, never guessed at.

A session whose tombstone is in the ledger but whose blobs are still stored (a purge cut
short between the two steps) is finished: its blobs are deleted, no second tombstone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from proctor.cli.recordings_support import last_record_time, segment_keys, stored_session_ids
from proctor.cli.store_open import iso_time
from proctor.config.retention import RetentionConfig, format_retain
from proctor.recording.events import SessionStarted
from proctor.recording.format import FormatError
from proctor.recording.keys import KeyEncryptionKey, PublicKeys, RecordingKeyError, SigningKey
from proctor.recording.leaves import Tombstone, TreeHead
from proctor.recording.ledger import Ledger, LedgerCorrupt, delete_session
from proctor.recording.reader import RecordingCorrupt, read_session
from proctor.recording.storage.base import BlobLocked, BlobStorage, StorageError
from proctor.recording.verify import LedgerReport, verify_ledger, verify_session
from proctor.store.holds import LegalHold

TOMBSTONE_BY = "policy"


class Action(StrEnum):
    DELETED = "deleted"
    WOULD_DELETE = "would-delete"
    FINISHED = "finished"  # blobs of an already tombstoned session removed
    KEPT = "kept"  # retention not reached
    HELD = "held"  # legal hold
    LOCKED = "locked"  # Object Lock retention still running
    SKIPPED = "skipped"  # cannot decide safely: unreadable, unknown key, fails verification
    ERROR = "error"  # storage failed during deletion


# Outcomes that mean something needs a person's attention (exit status 1).
PROBLEMS = frozenset({Action.SKIPPED, Action.ERROR})


@dataclass
class PurgeItem:
    session_id: str
    action: Action
    detail: str
    connection: str | None = None
    ended_at: datetime | None = None
    retain: str | None = None
    rule: str | None = None
    expires_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "session": self.session_id,
            "action": self.action.value,
            "detail": self.detail,
            "connection": self.connection,
            "ended_at": iso_time(self.ended_at),
            "retain": self.retain,
            "rule": self.rule,
            "expires_at": iso_time(self.expires_at),
        }


@dataclass
class PurgeResult:
    now: datetime
    dry_run: bool
    items: list[PurgeItem] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(i.action.value for i in self.items)

    @property
    def ok(self) -> bool:
        return not any(i.action in PROBLEMS for i in self.items)


class PurgeRefused(Exception):
    """The purge did not start: the ledger itself does not verify, or cannot be loaded."""


# Which active holds keep a session (on it, or on its connection).
HoldsOn = Callable[[str, str | None], Sequence[LegalHold]]
# Why a blob cannot be deleted now, or None.
LockOf = Callable[[BlobStorage, str], str | None]


def lock_of(storage: BlobStorage, key: str) -> str | None:
    """Why ``key`` cannot be deleted yet (Object Lock retention or legal hold), or None.

    Asked before the tombstone is written, for every segment: a delete refused half-way
    would leave a tombstoned session partly stored. ``BlobStorage`` has no public question
    for this yet, so the S3 backend's own check (the one its ``delete`` runs) is used.
    """
    if not storage.enforces_retention:
        return None
    from proctor.recording.storage.s3 import S3BlobStorage  # boto3 only when S3 is in use

    if not isinstance(storage, S3BlobStorage):
        return None
    full = storage._full_key(key)
    versions, _ = storage._versions_of(full)
    for version in versions:
        reason = storage._lock_of(full, version)
        if reason is not None:
            return f"{key} is {reason}"
    return None


def purge(
    storage: BlobStorage,
    *,
    public: PublicKeys,
    keks: Sequence[KeyEncryptionKey],
    retention: RetentionConfig,
    connection_tags: Mapping[str, Mapping[str, str]],
    holds_on: HoldsOn,
    now: datetime,
    dry_run: bool,
    signer: SigningKey | None,
    trusted: Sequence[TreeHead] = (),
    operator: str = "",
    lock: LockOf = lock_of,
) -> PurgeResult:
    ledger_report = verify_ledger(storage, public, trusted)
    if not ledger_report.ok:
        raise PurgeRefused(
            f"the ledger does not verify ({ledger_report.problems[0]}): nothing is deleted "
            "while the ledger may have been tampered with; run proctor verify --all"
        )
    result = PurgeResult(now, dry_run)
    ledger: Ledger | None = None

    def open_ledger() -> Ledger:
        nonlocal ledger
        if ledger is None:
            if signer is None:
                raise PurgeRefused("purging needs the current signing key")
            try:
                ledger = Ledger(storage, signer)
            except LedgerCorrupt as exc:
                raise PurgeRefused(f"cannot load the ledger: {exc}") from exc
        return ledger

    for sid in stored_session_ids(storage):
        entries = ledger_report.entries.get(sid, [])
        tomb = next((e for e in entries if isinstance(e, Tombstone)), None)
        started: SessionStarted | None = None
        try:
            started = _start_event(storage, sid, keks)
        except (RecordingKeyError, RecordingCorrupt, FormatError, StorageError, ValueError) as exc:
            if tomb is None:
                result.items.append(_unreadable(sid, exc))
                continue
        connection = started.connection if started is not None else None
        if tomb is not None:
            result.items.append(_finish(storage, sid, tomb, connection, holds_on, lock, dry_run))
            continue
        assert started is not None
        result.items.append(
            _one(
                storage,
                sid,
                started,
                public=public,
                retention=retention,
                connection_tags=connection_tags,
                holds_on=holds_on,
                now=now,
                dry_run=dry_run,
                ledger_report=ledger_report,
                open_ledger=open_ledger,
                operator=operator,
                lock=lock,
            )
        )
    return result


def _start_event(
    storage: BlobStorage, sid: str, keks: Sequence[KeyEncryptionKey]
) -> SessionStarted:
    # Only the first event is read (segment 0): the generator is dropped after it.
    first = next(iter(read_session(storage, sid, keks)), None)
    if first is None or not isinstance(first.event, SessionStarted):
        raise RecordingCorrupt(f"session {sid} has no start event")
    return first.event


def _unreadable(sid: str, exc: Exception) -> PurgeItem:
    if isinstance(exc, RecordingKeyError):
        why = (
            f"cannot read its start event ({exc}); retention depends on the connection "
            "recorded there: make the key-encryption key available"
        )
    else:
        why = f"cannot read its start event ({exc}); run proctor verify {sid}"
    return PurgeItem(sid, Action.SKIPPED, why)


def _held(holds: Sequence[LegalHold]) -> str:
    return "; ".join(
        f"legal hold {h.id} on {h.target} by {h.created_by}: {h.reason}" for h in holds
    )


def _locked(storage: BlobStorage, sid: str, lock: LockOf) -> str | None:
    for key in segment_keys(storage, sid):
        reason = lock(storage, key)
        if reason is not None:
            return reason
    return None


def _finish(
    storage: BlobStorage,
    sid: str,
    tomb: Tombstone,
    connection: str | None,
    holds_on: HoldsOn,
    lock: LockOf,
    dry_run: bool,
) -> PurgeItem:
    item = PurgeItem(sid, Action.FINISHED, "", connection=connection)
    stone = f"tombstoned on {tomb.at:%Y-%m-%d} by {tomb.by} ({tomb.reason}) but still stored"
    if holds := holds_on(sid, connection):
        item.action, item.detail = Action.HELD, f"{stone}; {_held(holds)}"
        return item
    if reason := _locked(storage, sid, lock):
        item.action, item.detail = Action.LOCKED, f"{stone}; {reason}"
        return item
    if dry_run:
        item.action, item.detail = Action.WOULD_DELETE, f"{stone}: would finish deleting it"
        return item
    try:
        for key in segment_keys(storage, sid):
            storage.delete(key)
    except StorageError as exc:
        item.action, item.detail = Action.ERROR, f"{stone}; deleting failed: {exc}"
        return item
    item.detail = f"{stone}: finished deleting it"
    return item


def _one(
    storage: BlobStorage,
    sid: str,
    started: SessionStarted,
    *,
    public: PublicKeys,
    retention: RetentionConfig,
    connection_tags: Mapping[str, Mapping[str, str]],
    holds_on: HoldsOn,
    now: datetime,
    dry_run: bool,
    ledger_report: LedgerReport,
    open_ledger: Callable[[], Ledger],
    operator: str,
    lock: LockOf,
) -> PurgeItem:
    conn = started.connection
    item = PurgeItem(sid, Action.KEPT, "", connection=conn)
    ended = last_record_time(storage, sid)
    item.ended_at = ended
    if ended is None:
        item.action, item.detail = Action.SKIPPED, "no readable record time; run proctor verify"
        return item
    tags = connection_tags.get(conn)
    if tags is None and retention.uses_tags:
        item.detail = (
            f"connection {conn} is not in the configuration: its tags, and so the retention "
            "rules by tag, are unknown; kept"
        )
        return item
    seconds, rule = retention.retention_for(conn, tags)
    item.retain = format_retain(seconds)
    item.rule = rule.describe() if rule is not None else "default"
    if math.isinf(seconds):
        item.detail = f"kept forever ({item.rule})"
        return item
    expires = ended + timedelta(seconds=seconds)
    item.expires_at = expires
    if now < expires:
        item.detail = f"retained until {expires:%Y-%m-%d} ({item.retain}, {item.rule})"
        return item
    if holds := holds_on(sid, conn):
        item.action, item.detail = Action.HELD, _held(holds)
        return item
    report = verify_session(storage, sid, public, ledger=ledger_report)
    if not report.intact:
        item.action = Action.SKIPPED
        item.detail = f"does not verify, kept as evidence: {report.first_problem}"
        return item
    if reason := _locked(storage, sid, lock):
        item.action, item.detail = Action.LOCKED, f"expired but {reason}"
        return item
    why = f"retention {item.retain} ({item.rule}) expired on {expires:%Y-%m-%d}"
    if operator:
        why += f"; purged by {operator}"
    if dry_run:
        item.action, item.detail = Action.WOULD_DELETE, why
        return item
    try:
        delete_session(storage, open_ledger(), sid, why, TOMBSTONE_BY, now)
    except BlobLocked as exc:
        # Only if retention began after the check above: the tombstone is in the ledger and
        # the next purge finishes the deletion once the lock expires.
        item.action = Action.ERROR
        item.detail = f"tombstoned, but deletion was refused: {exc}; purge again later"
        return item
    except StorageError as exc:
        item.action, item.detail = Action.ERROR, f"deletion failed: {exc}"
        return item
    item.action, item.detail = Action.DELETED, why
    return item
