"""``integrity.json``: every recording in the period verified, and the ledger over the period.

The ledger is verified once (its leaves, every signed tree head); then each session in scope
is verified on its own, against the ledger, as the collector streams it. The period proof is
the pair of signed tree heads in force at its start and its end and an RFC 6962 consistency
proof between them: the later tree extends the earlier one, so no sealed session or tombstone
from before the period end was removed or rewritten. Heads are included both decoded and as
their signed CBOR bytes, so a third party can check them with the public keys alone.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from proctor.evidence.model import IntegritySummary, Scope
from proctor.recording.keys import PublicKeys
from proctor.recording.leaves import Tombstone, TreeHead
from proctor.recording.merkle import consistency_proof, root_of, verify_consistency
from proctor.recording.storage.base import BlobStorage
from proctor.recording.verify import SessionReport, Status, verify_ledger, verify_session

FORMAT = "proctor-evidence-integrity/1"


def head_json(head: TreeHead | None) -> dict[str, Any] | None:
    if head is None:
        return None
    return {
        "size": head.size,
        "root": head.root.hex(),
        "at": head.at.isoformat(),
        "key_id": head.key_id.hex(),
        "signature": base64.b64encode(head.signature).decode(),
        "signed_cbor": base64.b64encode(head.encode()).decode(),
    }


def tombstone_json(t: Tombstone) -> dict[str, Any]:
    return {
        "session_id": t.session_id,
        "reason": t.reason,
        "by": t.by,
        "at": t.at.isoformat(),
        "key_id": t.key_id.hex(),
    }


def _head_at(heads: Sequence[TreeHead], when: datetime, keys: PublicKeys) -> TreeHead | None:
    """The largest validly signed head made at or before ``when``."""
    valid = [h for h in heads if h.at <= when and h.signature_valid(keys)]
    return max(valid, key=lambda h: (h.size, h.at), default=None)


@dataclass
class SessionsCheck:
    """Running totals over the sessions verified so far."""

    by_status: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    tombstones: dict[str, Tombstone] = field(default_factory=dict)


class RecordingsCheck:
    """Verifies the ledger once, then each session as it is asked; writes integrity.json."""

    def __init__(
        self,
        storage: BlobStorage,
        keys: PublicKeys,
        out: IO[str],
        *,
        trusted: Sequence[TreeHead] = (),
        max_problems: int = 100,
    ) -> None:
        self._storage = storage
        self._keys = keys
        self._out = out
        self._max_problems = max_problems
        self.ledger = verify_ledger(storage, keys, trusted)
        self.totals = SessionsCheck()
        self._first = True
        self.tombstones_listed = 0
        # Sessions go first so they can stream; the summary follows them.
        out.write('{"format": ' + json.dumps(FORMAT) + ', "sessions": [\n')

    def session(self, session_id: str, *, live: bool = False) -> str:
        """Verify one session; its status (``sealed``, ``deleted``, ``live``, ``unsealed``,
        ``invalid``). ``live``: it has not ended yet, so no seal is expected."""
        report = verify_session(self._storage, session_id, self._keys, ledger=self.ledger)
        status = _status_name(report, live)
        self.totals.by_status[status] += 1
        if report.tombstone is not None:
            self.totals.tombstones[session_id] = report.tombstone
        if status not in _GOOD and len(self.totals.problems) < self._max_problems:
            why = "" if report.problems else " (ended without a seal: a crash or a cut upload)"
            self.totals.problems.append(report.describe() + why)
        entry = {
            "session_id": session_id,
            "status": status,
            "ok": status in _GOOD,
            "records": report.records,
            "checkpoints": report.checkpoints,
            "segments": report.segments,
            "key_ids": report.key_ids,
            "problems": [str(p) for p in report.problems],
        }
        if report.tombstone is not None:
            entry["tombstone"] = tombstone_json(report.tombstone)
        self._out.write(("" if self._first else ",\n") + json.dumps(entry, sort_keys=True))
        self._first = False
        return status

    @property
    def verified(self) -> int:
        """Sessions whose recording is complete and intact (or deleted by policy)."""
        return sum(n for s, n in self.totals.by_status.items() if s in _GOOD)

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.totals.by_status.items() if s not in _GOOD)

    def finish(self, scope: Scope) -> IntegritySummary:
        """Write the period proof and the summary; close the JSON document."""
        ledger = self.ledger
        start = _head_at(ledger.heads, scope.start, self._keys)
        end = _head_at(ledger.heads, scope.end, self._keys)
        proof: list[bytes] = []
        proven = False
        if end is not None and end.size <= len(ledger.leaf_hashes):
            hashes = ledger.leaf_hashes[: end.size]
            if root_of(hashes) == end.root:
                if start is None or start.size == 0:
                    proven = True  # everything extends the empty tree
                elif start.size <= end.size:
                    proof = consistency_proof(hashes, start.size)
                    proven = verify_consistency(start.size, end.size, start.root, end.root, proof)
        elif end is None:
            proven = start is None  # no head yet at all: nothing to prove, nothing broken
        # Tombstones for sessions in scope, and any made during the period.
        tombs = dict(self.totals.tombstones)
        for sid, entries in ledger.entries.items():
            for leaf in entries:
                if isinstance(leaf, Tombstone) and scope.start <= leaf.at < scope.end:
                    tombs.setdefault(sid, leaf)
        self.tombstones_listed = len(tombs)
        problems = [str(p) for p in ledger.problems][: self._max_problems]
        problems += self.totals.problems
        if not proven:
            problems.append("the ledger heads of the period are not consistent")
        ok = not problems
        rest = {
            "ok": ok,
            "period": {"start": scope.start.isoformat(), "end": scope.end.isoformat()},
            "sessions_by_status": dict(sorted(self.totals.by_status.items())),
            "sessions_failed": self.failed,
            "ledger": {
                "ok": ledger.ok,
                "size": ledger.size,
                "root": ledger.root.hex(),
                "unsigned_leaves": ledger.unsigned_leaves,
                "problems": [str(p) for p in ledger.problems],
                "latest_head": head_json(ledger.head),
            },
            "period_proof": {
                "start_head": head_json(start),
                "end_head": head_json(end),
                "consistency_proof": [h.hex() for h in proof],
                "verified": proven,
            },
            "tombstones": [tombstone_json(t) for t in sorted(tombs.values(), key=_tomb_key)],
            "problems": problems,
        }
        body = json.dumps(rest, indent=1, sort_keys=True)
        self._out.write("\n], " + body[1:] + "\n")
        return IntegritySummary(
            ok=ok,
            ledger_size_start=start.size if start else None,
            ledger_size_end=end.size if end else None,
            consistency_proven=proven,
            problems=tuple(problems),
        )


_GOOD = {Status.SEALED.value, Status.DELETED.value, "live"}


def _status_name(report: SessionReport, live: bool) -> str:
    if report.problems:
        return Status.INVALID.value
    if live and report.status is Status.UNSEALED:
        return "live"
    return report.status.value


def _tomb_key(t: Tombstone) -> tuple[datetime, str]:
    return (t.at, t.session_id)


def disabled_integrity(out: IO[str], scope: Scope) -> IntegritySummary:
    """Recordings are off in this configuration: say so (it is not a verified "ok")."""
    problem = "recordings are disabled in the configuration: nothing to verify"
    doc = {
        "format": FORMAT,
        "ok": False,
        "recordings": "disabled",
        "period": {"start": scope.start.isoformat(), "end": scope.end.isoformat()},
        "problems": [problem],
    }
    out.write(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return IntegritySummary(False, None, None, False, (problem,))
