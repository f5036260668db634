"""Session lifecycle values handed to the session writer."""

from __future__ import annotations

from dataclasses import dataclass
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
