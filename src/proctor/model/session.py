"""Session lifecycle values handed to the session writer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SessionStart:
    id: str
    subject: str
    groups: frozenset[str]
    connection: str
    database: str | None
    protocol: str
    client_addr: str
    started_at: datetime
    token_id: str | None = None
    gateway_version: str = ""
    # SHA-256 of the canonical policy in force (the evidence pack ties sessions to it).
    policy_hash: str | None = None


@dataclass(frozen=True, slots=True)
class StatementRecord:
    session_id: str
    seq: int
    at: datetime
    # The statement text as sent (secrets redaction arrives with the recording issue).
    text: str
    kind: str  # "simple", "parse", "function-call", "copy-data" ...
    verdict: str = "allow"
    error: str | None = None
    rule: str | None = None  # the policy rule that decided, when one did


@dataclass(frozen=True, slots=True)
class SessionEnd:
    id: str
    ended_at: datetime
    reason: str
    statements: int
    bytes_from_client: int
    bytes_to_client: int
    # Values masked in the session's results: where (column, "copy", "notice"...) →
    # entity type → count. Counts only, never values.
    masked: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
