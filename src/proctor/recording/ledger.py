"""The gateway-wide ledger: an append-only RFC 6962 Merkle tree over session checkpoints,
seals and tombstones, persisted as write-once blobs (layout.py), with signed tree heads.

Deleting a whole session from storage leaves its leaves in the ledger, so the deletion
shows; deleting it *by policy* first appends a signed tombstone, so the verifier can say
who deleted it, when and why. Rolling the ledger itself back (deleting its newest blobs)
is caught against any tree head seen earlier: keep the latest head outside storage.

One process appends at a time. Write-once keys make a race safe: the loser's batch key
exists already (``BlobExists``), it reloads what the winner wrote and retries.

Appending needs only the tree's frontier (`CompactRange`: one hash per set bit of the size),
not its leaves. The gateway opens the ledger that way (``keep_leaves=False``) so that its
memory does not grow with every checkpoint it ever signed, and with a ``frontier_file`` it
also starts without reading the whole ledger: after each signed head the frontier is saved
there, and at start it is used only if it hashes to the root of the signed head of that size
in storage; the batches written after it are then read by their keys. A missing, stale or
altered file costs a full read, never a wrong tree.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from proctor.recording import layout
from proctor.recording.format import FormatError
from proctor.recording.keys import SigningKey
from proctor.recording.leaves import (
    Leaf,
    Tombstone,
    TreeHead,
    decode_leaf,
    encode_batch,
    iter_batch,
)
from proctor.recording.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
)
from proctor.recording.storage.base import BlobExists, BlobMissing, BlobStorage

log = logging.getLogger(__name__)


class LedgerCorrupt(Exception):
    """The stored ledger does not load; run the verifier for a precise report."""


class Ledger:
    def __init__(
        self,
        storage: BlobStorage,
        signer: SigningKey,
        *,
        max_retries: int = 5,
        keep_leaves: bool = True,
        frontier_file: Path | None = None,
    ) -> None:
        """``keep_leaves``: hold every leaf in memory, for `leaf`, `leaves` and the proofs
        (tools and tests); the gateway appends without them. ``frontier_file``: where to
        keep the frontier between runs (see the module docstring)."""
        self._storage = storage
        self._signer = signer
        self._retries = max_retries
        self._keep = keep_leaves
        self._frontier_file = frontier_file
        self._data: list[bytes] = []
        self._hashes: list[bytes] = []
        self._range = CompactRange()
        self._pending: list[bytes] = []
        self._head: TreeHead | None = None
        self._load()

    @property
    def size(self) -> int:
        """Leaves committed to storage (pending ones excluded)."""
        return self._range.size

    @property
    def head(self) -> TreeHead | None:
        return self._head

    def root(self) -> bytes:
        return self._range.root()

    def _kept(self) -> list[bytes]:
        if not self._keep:
            raise RuntimeError("this ledger was opened without its leaves (keep_leaves=False)")
        return self._data

    def leaf(self, index: int) -> Leaf:
        return decode_leaf(self._kept()[index])

    def leaves(self) -> list[Leaf]:
        return [decode_leaf(d) for d in self._kept()]

    def leaf_hashes(self) -> list[bytes]:
        self._kept()
        return list(self._hashes)

    def _load(self) -> None:
        if self._resume():
            self._catch_up()
            # A head another writer signed since: cheaper to look for it than to list.
            if self._head_stale():
                with contextlib.suppress(BlobMissing, FormatError):
                    self._head = TreeHead.decode(self._storage.get(layout.head_key(self.size)))
            return
        expected = self.size
        for key in self._storage.list(layout.LEAVES):
            first = layout.batch_index(key)
            if first is None or first < expected:
                continue
            if first != expected:
                raise LedgerCorrupt(f"ledger batch {key} leaves a gap after leaf {expected}")
            try:
                for data in iter_batch(self._storage.get(key)):
                    self._add(data)
            except FormatError as exc:
                raise LedgerCorrupt(f"{key}: {exc}") from None
            expected = self.size
        heads = [k for k in self._storage.list(layout.HEADS) if layout.head_size(k) is not None]
        if heads:
            try:
                self._head = TreeHead.decode(self._storage.get(heads[-1]))
            except FormatError as exc:
                raise LedgerCorrupt(f"{heads[-1]}: {exc}") from None

    def _resume(self) -> bool:
        """Start from the saved frontier, if it is the one of a signed head in storage."""
        if self._keep or self._frontier_file is None:
            return False
        try:
            saved = json.loads(self._frontier_file.read_text())
            size = int(saved["size"])
            compact = CompactRange.resume(size, [bytes.fromhex(h) for h in saved["frontier"]])
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError):
            log.warning("ledger_frontier_unreadable", extra={"path": str(self._frontier_file)})
            return False
        if size == 0:
            return False
        try:
            head = TreeHead.decode(self._storage.get(layout.head_key(size)))
        except (BlobMissing, FormatError):
            head = None
        if head is None or head.size != size or head.root != compact.root():
            # Another storage, a rolled-back ledger or an edited file: read it all.
            log.warning("ledger_frontier_stale", extra={"path": str(self._frontier_file)})
            return False
        self._range = compact
        self._head = head
        return True

    def _save_frontier(self) -> None:
        path = self._frontier_file
        if path is None or self._head is None or self._head.size != self.size:
            return
        state = {"size": self.size, "frontier": [h.hex() for h in self._range.frontier]}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(state))
            os.replace(tmp, path)  # workers share the file: any saved frontier is a valid one
        except OSError as exc:
            # Only a faster start is lost: the next start reads the ledger from storage.
            log.warning("ledger_frontier_not_saved", extra={"error": type(exc).__name__})

    def _add(self, data: bytes) -> None:
        h = leaf_hash(data)
        if self._keep:
            self._data.append(data)
            self._hashes.append(h)
        self._range.append(h)

    def append(self, leaf: Leaf) -> None:
        """Queue a leaf; ``commit`` writes the queue as one batch and signs a new head."""
        self._pending.append(leaf.encode())

    def extend(self, leaves: Iterable[Leaf]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def tombstone(self, session_id: str, reason: str, by: str, at: datetime) -> Tombstone:
        stone = Tombstone.create(self._signer, session_id, reason, by, at)
        self.append(stone)
        return stone

    def _catch_up(self) -> None:
        """Read the batches other writers added after ours, by their keys: no listing, so a
        collision costs what the other writers wrote, not the ledger's whole history."""
        while True:
            key = layout.batch_key(self.size)
            try:
                blob = self._storage.get(key)
            except BlobMissing:
                return
            try:
                for data in iter_batch(blob):
                    self._add(data)
            except FormatError as exc:
                raise LedgerCorrupt(f"{key}: {exc}") from None

    def commit(self, at: datetime | None = None, *, sign: bool = True) -> TreeHead | None:
        """Write pending leaves as one batch and, with ``sign``, a signed tree head over
        everything stored; None when no head was written. Leaves written without a head are
        reported as "not yet signed" until the next signed commit covers them."""
        if not self._pending:
            return self.sign(at) if sign and self._head_stale() else None
        for _ in range(self._retries):
            try:
                self._storage.put(layout.batch_key(self.size), encode_batch(self._pending))
            except BlobExists:
                self._catch_up()  # another writer took this index: rebase after its leaves
                continue
            break
        else:
            raise LedgerCorrupt("ledger append lost the race too many times")
        for data in self._pending:
            self._add(data)
        self._pending = []
        # A crash between the two puts leaves leaves without a head: the verifier reports
        # them as not yet signed, and the next signed commit's head covers them.
        return self.sign(at) if sign else None

    def _head_stale(self) -> bool:
        return self._head is None or self._head.size < self.size

    def sign(self, at: datetime | None = None) -> TreeHead | None:
        """A signed head over every stored leaf (None when the latest head already covers
        them all). Another writer may have signed the same size: theirs stands."""
        if not self._head_stale():
            return None
        head = TreeHead.create(self._signer, self.size, self.root(), at or datetime.now(UTC))
        with contextlib.suppress(BlobExists):
            self._storage.put(layout.head_key(head.size), head.encode())
        self._head = head
        self._save_frontier()
        return head

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        self._kept()
        return inclusion_proof(self._hashes, index, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        self._kept()
        return consistency_proof(self._hashes, old, new)

    def root_at(self, size: int) -> bytes:
        self._kept()
        return root_of(self._hashes, 0, size)


def delete_session(
    storage: BlobStorage, ledger: Ledger, session_id: str, reason: str, by: str, at: datetime
) -> Tombstone:
    """Delete a session under retention: tombstone first, then the blobs. In that order
    because a crash in between then leaves a tombstoned session still present (harmless,
    reported), never a session gone without a tombstone (reported as tampering)."""
    stone = ledger.tombstone(session_id, reason, by, at)
    ledger.commit(at)
    for key in list(storage.list(layout.session_prefix(session_id))):
        storage.delete(key)
    return stone
