"""The events a session recording holds, and their payload maps.

A payload is a CBOR map with text keys, encrypted as the record body (see format.py). The
gateway builds these from what it already has; text arrives redacted (secrets in
statements are the caller's job, before anything reaches the recorder) and result rows
arrive masked, as the client saw them — the recording must never hold a value the client
was not shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from proctor.model import SessionEnd, SessionStart, StatementRecord
from proctor.recording.clock import ClockStatus
from proctor.recording.format import FormatError, RecordType

MaskCounts = Mapping[str, Mapping[str, int]]  # column → detector/type → cells masked
Row = Sequence[bytes | None]

_T = TypeVar("_T")


def _get(p: Mapping[str, Any], key: str, kind: type[_T] | tuple[type, ...]) -> _T:
    value = p.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise FormatError(f"payload field {key!r} missing or of the wrong type")
    return value  # type: ignore[return-value]


def _opt(p: Mapping[str, Any], key: str, kind: type[_T]) -> _T | None:
    value = p.get(key)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise FormatError(f"payload field {key!r} of the wrong type")
    return value


def _counts(value: Any) -> dict[str, dict[str, int]]:
    if not isinstance(value, dict) or not all(
        isinstance(c, str)
        and isinstance(m, dict)
        and all(isinstance(t, str) and isinstance(n, int) for t, n in m.items())
        for c, m in value.items()
    ):
        raise FormatError("masking counts must map column → type → count")
    return value


def _plain_counts(counts: MaskCounts) -> dict[str, dict[str, int]]:
    return {c: dict(m) for c, m in counts.items()}


@dataclass(frozen=True, slots=True)
class SessionStarted:
    TYPE: ClassVar[RecordType] = RecordType.START
    at: datetime
    subject: str
    groups: frozenset[str]
    connection: str
    protocol: str
    client_addr: str
    database: str | None = None
    token_id: str | None = None
    policy_hash: str | None = None
    gateway_version: str = ""
    # The gateway clock's state when the session started (None: not known on this host).
    clock: ClockStatus | None = None

    @classmethod
    def from_model(
        cls,
        start: SessionStart,
        policy_hash: str | None = None,
        clock: ClockStatus | None = None,
    ) -> SessionStarted:
        return cls(
            at=start.started_at,
            subject=start.subject,
            groups=start.groups,
            connection=start.connection,
            protocol=start.protocol,
            client_addr=start.client_addr,
            database=start.database,
            token_id=start.token_id,
            policy_hash=policy_hash,
            gateway_version=start.gateway_version,
            clock=clock,
        )

    def payload(self) -> dict[str, Any]:
        clock = {"clock": self.clock.as_map()} if self.clock is not None else {}
        return {
            **clock,
            "subject": self.subject,
            "groups": sorted(self.groups),  # sets have no order; sort for determinism
            "connection": self.connection,
            "protocol": self.protocol,
            "client_addr": self.client_addr,
            "database": self.database,
            "token_id": self.token_id,
            "policy_hash": self.policy_hash,
            "gateway_version": self.gateway_version,
        }

    @classmethod
    def from_payload(cls, at: datetime, p: Mapping[str, Any]) -> SessionStarted:
        groups = _get(p, "groups", list)
        if not all(isinstance(g, str) for g in groups):
            raise FormatError("groups must be strings")
        return cls(
            at=at,
            subject=_get(p, "subject", str),
            groups=frozenset(groups),
            connection=_get(p, "connection", str),
            protocol=_get(p, "protocol", str),
            client_addr=_get(p, "client_addr", str),
            database=_opt(p, "database", str),
            token_id=_opt(p, "token_id", str),
            policy_hash=_opt(p, "policy_hash", str),
            gateway_version=_get(p, "gateway_version", str),
            clock=ClockStatus.from_map(p.get("clock")),
        )


@dataclass(frozen=True, slots=True)
class StatementEvent:
    TYPE: ClassVar[RecordType] = RecordType.STATEMENT
    at: datetime
    text: str  # already redacted by the caller
    kind: str
    verdict: str
    rule: str | None = None
    statement: int | None = None  # the statement's number in the session, if the caller has one

    @classmethod
    def from_model(cls, record: StatementRecord) -> StatementEvent:
        return cls(record.at, record.text, record.kind, record.verdict, record.rule, record.seq)

    def payload(self) -> dict[str, Any]:
        # Keys in canonical order (shorter first, then bytewise): see session_writer.
        return {
            "kind": self.kind,
            "rule": self.rule,
            "stmt": self.statement,
            "text": self.text,
            "verdict": self.verdict,
        }

    @classmethod
    def from_payload(cls, at: datetime, p: Mapping[str, Any]) -> StatementEvent:
        return cls(
            at,
            _get(p, "text", str),
            _get(p, "kind", str),
            _get(p, "verdict", str),
            _opt(p, "rule", str),
            _opt(p, "stmt", int),
        )


@dataclass(frozen=True, slots=True)
class ApprovalEvent:
    TYPE: ClassVar[RecordType] = RecordType.APPROVAL
    at: datetime
    decision: str  # "approved" | "rejected" | "expired" ...
    approver: str | None = None
    reason: str | None = None
    statement: int | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "stmt": self.statement,
            "reason": self.reason,
            "approver": self.approver,
            "decision": self.decision,
        }

    @classmethod
    def from_payload(cls, at: datetime, p: Mapping[str, Any]) -> ApprovalEvent:
        return cls(
            at,
            _get(p, "decision", str),
            _opt(p, "approver", str),
            _opt(p, "reason", str),
            _opt(p, "stmt", int),
        )


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    TYPE: ClassVar[RecordType] = RecordType.ERROR
    at: datetime
    message: str  # must hold no masked value (DESIGN §5): the caller's responsibility
    code: str | None = None
    statement: int | None = None

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "stmt": self.statement, "message": self.message}

    @classmethod
    def from_payload(cls, at: datetime, p: Mapping[str, Any]) -> ErrorEvent:
        return cls(at, _get(p, "message", str), _opt(p, "code", str), _opt(p, "stmt", int))


@dataclass(frozen=True, slots=True)
class ResultEvent:
    """One batch of a result set, masked. A large result is several events (the caller
    decides the batch size); ``rows`` as cells, or ``raw`` wire bytes in ``raw_format``
    (e.g. "pgwire-datarow") when decoding them would cost more than recording them."""

    TYPE: ClassVar[RecordType] = RecordType.RESULT
    at: datetime
    columns: Sequence[tuple[str, str]]  # (name, type name)
    rows: Sequence[Row] = ()
    row_count: int = 0
    masked: MaskCounts = field(default_factory=dict)
    raw: bytes | None = None
    raw_format: str | None = None
    statement: int | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "columns": [list(c) for c in self.columns],
            "rows": [list(r) for r in self.rows],
            "row_count": self.row_count,
            "masked": _plain_counts(self.masked),
            "raw": self.raw,
            "raw_format": self.raw_format,
            "stmt": self.statement,
        }

    @classmethod
    def from_payload(cls, at: datetime, p: Mapping[str, Any]) -> ResultEvent:
        columns = _get(p, "columns", list)
        if not all(
            isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c)
            for c in columns
        ):
            raise FormatError("columns must be [name, type] pairs")
        rows = _get(p, "rows", list)
        if not all(
            isinstance(r, list) and all(c is None or isinstance(c, bytes) for c in r) for r in rows
        ):
            raise FormatError("rows must be lists of byte strings or null")
        return cls(
            at=at,
            columns=tuple((c[0], c[1]) for c in columns),
            rows=tuple(tuple(r) for r in rows),
            row_count=_get(p, "row_count", int),
            masked=_counts(p.get("masked")),
            raw=_opt(p, "raw", bytes),
            raw_format=_opt(p, "raw_format", str),
            statement=_opt(p, "stmt", int),
        )


@dataclass(frozen=True, slots=True)
class MaskingEvent:
    TYPE: ClassVar[RecordType] = RecordType.MASKING
    at: datetime
    counts: MaskCounts
    statement: int | None = None

    def payload(self) -> dict[str, Any]:
        return {"counts": _plain_counts(self.counts), "stmt": self.statement}

    @classmethod
    def from_payload(cls, at: datetime, p: Mapping[str, Any]) -> MaskingEvent:
        return cls(at, _counts(p.get("counts")), _opt(p, "stmt", int))


@dataclass(frozen=True, slots=True)
class TerminalOutput:
    TYPE: ClassVar[RecordType] = RecordType.TERMINAL
    at: datetime
    data: bytes  # masked, as the client saw it
    stream: str = "o"  # asciicast v2 event codes: "o" output, "i" input

    def payload(self) -> dict[str, Any]:
        return {"data": self.data, "stream": self.stream}

    @classmethod
    def from_payload(cls, at: datetime, p: Mapping[str, Any]) -> TerminalOutput:
        return cls(at, _get(p, "data", bytes), _get(p, "stream", str))


@dataclass(frozen=True, slots=True)
class SessionEnded:
    TYPE: ClassVar[RecordType] = RecordType.END
    at: datetime
    reason: str
    statements: int = 0
    bytes_from_client: int = 0
    bytes_to_client: int = 0

    @classmethod
    def from_model(cls, end: SessionEnd) -> SessionEnded:
        return cls(
            end.ended_at, end.reason, end.statements, end.bytes_from_client, end.bytes_to_client
        )

    def payload(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "statements": self.statements,
            "bytes_to_client": self.bytes_to_client,
            "bytes_from_client": self.bytes_from_client,
        }

    @classmethod
    def from_payload(cls, at: datetime, p: Mapping[str, Any]) -> SessionEnded:
        return cls(
            at,
            _get(p, "reason", str),
            _get(p, "statements", int),
            _get(p, "bytes_from_client", int),
            _get(p, "bytes_to_client", int),
        )


Event = (
    SessionStarted
    | StatementEvent
    | ApprovalEvent
    | ErrorEvent
    | ResultEvent
    | MaskingEvent
    | TerminalOutput
    | SessionEnded
)

# Payloads whose keys are all fixed and listed in canonical order by ``payload()``: the
# writer encodes them with the fast non-canonical encoder (same bytes). The others hold
# caller-chosen map keys (masking counts) and go through the canonical encoder.
PRESORTED = frozenset(
    {
        RecordType.STATEMENT,
        RecordType.APPROVAL,
        RecordType.ERROR,
        RecordType.TERMINAL,
        RecordType.END,
    }
)

EVENT_CLASSES: dict[int, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        SessionStarted,
        StatementEvent,
        ApprovalEvent,
        ErrorEvent,
        ResultEvent,
        MaskingEvent,
        TerminalOutput,
        SessionEnded,
    )
}
