"""Stream the period out of the store into the evidence CSVs, counting the figures as it goes.

Nothing is loaded whole: sessions, statements, requests and grants are read in batches and
each row is written as soon as it is read. What is kept in memory grows with the number of
*identities*, rules, entity types and configuration versions, not with sessions or statements.

No unmasked data reaches a file: statement texts were secret-redacted by the gateway before
they were stored, and are masked again here (the default masking profile) because a literal
in an ``UPDATE … SET email = '…'`` is personal data too. The statement's SHA-256 (of the
stored text) lets an auditor match a row to the recording.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from proctor.evidence.csvfile import CsvFile
from proctor.evidence.integrity import RecordingsCheck
from proctor.evidence.model import Figures, Scope
from proctor.masking import Masker
from proctor.model import AccessGrant, ApprovalRequest, Identity, RequestStatus, StatementRecord
from proctor.store.evidence import ConfigVersion
from proctor.store.sessions import SessionRow

# Statement rows that are not commands: what masking replaced, approval outcomes, notices.
NOT_COMMANDS = frozenset({"masking", "approval", "notice"})
BLOCKED = "deny"

Progress = Callable[[int], None]


class EvidenceSource(Protocol):
    """What the pack reads (``proctor.store.evidence.EvidenceStore`` implements it)."""

    def sessions_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> Iterator[SessionRow]: ...

    def statements_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> Iterator[tuple[StatementRecord, str, str]]: ...

    def requests_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> Iterator[ApprovalRequest]: ...

    def grants_in(
        self, start: datetime, end: datetime, connections: Sequence[str] = ()
    ) -> Iterator[AccessGrant]: ...

    def config_versions(self) -> list[ConfigVersion]: ...


def identity_kind(subject: str) -> str:
    """``machine`` for workload identities (CI, agents, services), else ``human``: the
    same rule as ``Identity.is_machine``."""
    return "machine" if Identity(subject).is_machine else "human"


@dataclass
class IdentitySeen:
    kind: str
    groups: set[str] = field(default_factory=set)
    sessions: int = 0
    connections: set[str] = field(default_factory=set)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    statements: int = 0
    blocked: int = 0
    requests: int = 0
    decisions: int = 0
    grants: int = 0

    def seen(self, at: datetime) -> None:
        if self.first_seen is None or at < self.first_seen:
            self.first_seen = at
        if self.last_seen is None or at > self.last_seen:
            self.last_seen = at


FILES: dict[str, str] = {
    "sessions.csv": "every session in scope: who, which connection, when, how it ended",
    "statements.csv": "every statement: verdict and deciding rule (text masked)",
    "violations.csv": "statements refused by policy, and alerts",
    "approvals.csv": "approval and access requests: requester, approvers, reasons, times",
    "masking.csv": "values masked in results, by session, column and entity type",
    "identities.csv": "identities active in the period: human or machine, groups, activity",
    "access_grants.csv": "just-in-time access grants overlapping the period",
    "config_changes.csv": "configuration and policy versions in force, with their hashes",
    "integrity.json": "verification of every recording and the ledger's period proof",
    "controls.json": "the ISO/IEC 27001:2022 Annex A control mapping",
}


class Collector:
    """Writes the CSVs of one scope into ``out`` and returns the figures."""

    def __init__(
        self,
        source: EvidenceSource,
        scope: Scope,
        out: Path,
        *,
        recordings: RecordingsCheck | None = None,
        masker: Masker | None = None,
        progress: Progress | None = None,
    ) -> None:
        self._source = source
        self._scope = scope
        self._out = out
        self._recordings = recordings
        self._masker = masker or Masker()
        self._progress = progress or (lambda n: None)
        self.figures = Figures()
        self.identities: dict[str, IdentitySeen] = {}
        self._policy_sessions: Counter[str] = Counter()

    def run(self) -> Figures:
        self._sessions()
        self._statements()
        self._requests()
        self._grants()
        self._config_versions()
        self._identities()
        f = self.figures
        f.human_identities = sum(1 for i in self.identities.values() if i.kind == "human")
        f.machine_identities = len(self.identities) - f.human_identities
        f.masked_values = sum(f.masked_by_type.values())
        for by in (
            f.sessions_by_identity,
            f.sessions_by_connection,
            f.blocked_by_rule,
            f.masked_by_type,
            f.statements_by_verdict,
            f.approvals_by_status,
        ):
            ordered = sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))
            by.clear()
            by.update(ordered)
        return f

    # -- helpers --------------------------------------------------------------------------

    def _who(self, subject: str) -> IdentitySeen:
        seen = self.identities.get(subject)
        if seen is None:
            seen = self.identities[subject] = IdentitySeen(identity_kind(subject))
        return seen

    def _mask(self, text: str | None) -> str | None:
        if text is None:
            return None
        try:
            return self._masker.mask_text(text)
        except Exception:  # fail closed: an unmaskable text is not written
            return "[REDACTED: could not be masked]"

    def _csv(self, name: str, header: Sequence[str]) -> CsvFile:
        return CsvFile(self._out / name, header)

    # -- sessions -------------------------------------------------------------------------

    def _sessions(self) -> None:
        s = self._scope
        f = self.figures
        with self._csv(
            "sessions.csv",
            [
                "session_id", "started_at", "ended_at", "subject", "identity_kind", "groups",
                "connection", "database", "protocol", "client_addr", "token_id", "end_reason",
                "statements", "bytes_from_client", "bytes_to_client", "masked_values",
                "policy_sha256", "gateway_version", "recording",
            ],
        ) as out:  # fmt: skip
            for row in self._source.sessions_in(s.start, s.end, s.connections):
                start, end = row.start, row.end
                who = self._who(start.subject)
                who.sessions += 1
                who.groups.update(start.groups)
                who.connections.add(start.connection)
                who.seen(start.started_at)
                f.sessions += 1
                _bump(f.sessions_by_identity, start.subject)
                _bump(f.sessions_by_connection, start.connection)
                if who.kind == "human":
                    f.human_sessions += 1
                else:
                    f.machine_sessions += 1
                if start.policy_hash:
                    self._policy_sessions[start.policy_hash] += 1
                masked = sum(sum(c.values()) for c in end.masked.values()) if end else 0
                recording = ""
                if self._recordings is not None:
                    recording = self._recordings.session(start.id, live=end is None)
                out.row(
                    start.id, start.started_at, end.ended_at if end else None, start.subject,
                    who.kind, " ".join(sorted(start.groups)), start.connection, start.database,
                    start.protocol, start.client_addr, start.token_id,
                    end.reason if end else "live", end.statements if end else None,
                    end.bytes_from_client if end else None, end.bytes_to_client if end else None,
                    masked, start.policy_hash, start.gateway_version, recording,
                )  # fmt: skip
                self._progress(1)
        if self._recordings is not None:
            f.recordings_verified = self._recordings.verified
            f.recordings_failed = self._recordings.failed

    # -- statements -----------------------------------------------------------------------

    def _statements(self) -> None:
        s = self._scope
        f = self.figures
        with (
            self._csv(
                "statements.csv",
                [
                    "session_id", "seq", "at", "subject", "connection", "kind", "verdict",
                    "rule", "statement_sha256", "statement", "error",
                ],
            ) as statements,
            self._csv(
                "violations.csv",
                [
                    "session_id", "seq", "at", "subject", "connection", "outcome", "rule",
                    "statement_sha256", "statement", "message",
                ],
            ) as violations,
            self._csv(
                "masking.csv",
                ["session_id", "at", "subject", "connection", "where", "entity_type", "count"],
            ) as masking,
        ):  # fmt: skip
            for record, subject, connection in self._source.statements_in(
                s.start, s.end, s.connections
            ):
                self._progress(1)
                if record.kind == "masking":
                    for where, entity, n in _mask_counts(record.text):
                        masking.row(
                            record.session_id, record.at, subject, connection, where, entity, n
                        )
                        _bump(f.masked_by_type, entity, n)
                    continue
                digest = hashlib.sha256(record.text.encode("utf-8", "replace")).hexdigest()
                text = self._mask(record.text)
                error = self._mask(record.error)
                statements.row(
                    record.session_id, record.seq, record.at, subject, connection,
                    record.kind, record.verdict, record.rule, digest, text, error,
                )  # fmt: skip
                if record.kind in NOT_COMMANDS:
                    continue
                who = self._who(subject)
                who.statements += 1
                f.statements += 1
                _bump(f.statements_by_verdict, record.verdict)
                if record.verdict in (BLOCKED, "alert"):
                    outcome = "blocked" if record.verdict == BLOCKED else "alert"
                    violations.row(
                        record.session_id, record.seq, record.at, subject, connection,
                        outcome, record.rule or "(default action)", digest, text, error,
                    )  # fmt: skip
                    if outcome == "blocked":
                        who.blocked += 1
                        _bump(f.blocked_by_rule, record.rule or "(default action)")

    # -- approvals and grants -------------------------------------------------------------

    def _requests(self) -> None:
        s = self._scope
        f = self.figures
        waits: list[float] = []
        with self._csv(
            "approvals.csv",
            [
                "request_id", "kind", "status", "requester", "connection", "workflow", "rule",
                "session_id", "statement_sha256", "statement", "requester_reason", "scope",
                "duration_seconds", "created_at", "expires_at", "decided_at",
                "seconds_to_decision", "approvers", "denied_by", "decision_reasons",
                "break_glass",
            ],
        ) as out:  # fmt: skip
            for req in self._source.requests_in(s.start, s.end, s.connections):
                f.approval_requests += 1
                _bump(f.approvals_by_status, req.status.value)
                self._who(req.requester).requests += 1
                for d in req.decisions:
                    self._who(d.approver).decisions += 1
                glass = any(d.break_glass for d in req.decisions)
                if glass:
                    f.break_glass_approvals += 1
                wait = None
                if req.decided_at is not None and req.status in _DECIDED:
                    wait = (req.decided_at - req.created_at).total_seconds()
                    waits.append(wait)
                out.row(
                    req.id, req.kind.value, req.status.value, req.requester, req.connection,
                    req.workflow, req.rule, req.session_id, req.statement_hash,
                    self._mask(req.statement_text), self._mask(req.reason), req.scope.value,
                    req.duration_seconds, req.created_at, req.expires_at, req.decided_at,
                    None if wait is None else round(wait, 3),
                    " ".join(d.approver for d in req.decisions if d.approve),
                    " ".join(d.approver for d in req.decisions if not d.approve),
                    " | ".join(
                        f"{d.approver}: {self._mask(d.reason)}" for d in req.decisions if d.reason
                    ),
                    glass,
                )  # fmt: skip
        f.median_decision_seconds = statistics.median(waits) if waits else None

    def _grants(self) -> None:
        s = self._scope
        f = self.figures
        with self._csv(
            "access_grants.csv",
            [
                "grant_id", "subject", "connection", "granted_by", "reason", "request_id",
                "starts_at", "expires_at", "revoked_at", "duration_seconds", "status",
            ],
        ) as out:  # fmt: skip
            for g in self._source.grants_in(s.start, s.end, s.connections):
                f.access_grants += 1
                self._who(g.subject).grants += 1
                if g.revoked_at is not None:
                    f.access_grants_revoked += 1
                    status = "revoked"
                elif g.expires_at <= (s.generated_at or s.end):
                    status = "expired"
                else:
                    status = "active"
                out.row(
                    g.id, g.subject, g.connection, g.granted_by, self._mask(g.reason),
                    g.request_id, g.starts_at, g.expires_at, g.revoked_at,
                    int((g.expires_at - g.starts_at).total_seconds()), status,
                )  # fmt: skip

    # -- configuration versions and identities --------------------------------------------

    def _config_versions(self) -> None:
        s = self._scope
        versions = self._source.config_versions()
        with self._csv(
            "config_changes.csv",
            [
                "kind", "sha256", "first_seen_at", "last_seen_at", "in_force_during_period",
                "sessions_in_period", "source",
            ],
        ) as out:  # fmt: skip
            for v in versions:
                # A version is in force from its first start until the gateway last started
                # with it — or later, until another version of its kind was first seen.
                later = [
                    w.first_seen_at
                    for w in versions
                    if w.kind == v.kind and w.first_seen_at > v.last_seen_at
                ]
                until = min(later) if later else None
                in_force = v.first_seen_at < s.end and (until is None or until > s.start)
                if not in_force:
                    continue
                self.figures.config_versions += 1
                sessions = self._policy_sessions.get(v.sha256, 0) if v.kind == "policy" else ""
                out.row(v.kind, v.sha256, v.first_seen_at, v.last_seen_at, True, sessions, v.source)

    def _identities(self) -> None:
        with self._csv(
            "identities.csv",
            [
                "subject", "kind", "groups", "sessions", "connections", "first_session_at",
                "last_session_at", "statements", "blocked_statements", "requests_made",
                "decisions_made", "access_grants",
            ],
        ) as out:  # fmt: skip
            for subject in sorted(self.identities):
                i = self.identities[subject]
                out.row(
                    subject, i.kind, " ".join(sorted(i.groups)), i.sessions,
                    " ".join(sorted(i.connections)), i.first_seen, i.last_seen, i.statements,
                    i.blocked, i.requests, i.decisions, i.grants,
                )  # fmt: skip


_DECIDED = (RequestStatus.APPROVED, RequestStatus.DENIED)


def _bump(counter: dict[str, int], key: str, n: int = 1) -> None:
    counter[key] = counter.get(key, 0) + n


def _mask_counts(text: str) -> Iterator[tuple[str, str, int]]:
    """(where, entity type, count) from a ``masking`` statement row (counts-only JSON)."""
    try:
        data = json.loads(text)
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    for where, counts in sorted(data.items()):
        if isinstance(counts, dict):
            for entity, n in sorted(counts.items()):
                if isinstance(n, int) and not isinstance(n, bool):
                    yield str(where), str(entity), n
