"""What an evidence pack says, as values: the scope, the figures, the integrity summary.

The collector (``collect.py``) fills these from the state store and the recordings; the
renderers (``html.py``, ``pdf.py``) and the control mapping (``controls.py``) only read them,
so the HTML report, the PDF and ``controls.json`` always state the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Scope:
    """What the pack covers: sessions started in ``[start, end)`` on the chosen connections."""

    start: datetime
    end: datetime
    # Empty: every connection. Otherwise the names chosen by --connection and --tag.
    connections: tuple[str, ...] = ()
    # The --tag filters as given (k=v), for the report's scope line.
    tags: Mapping[str, str] = field(default_factory=dict)
    generated_at: datetime | None = None
    generated_by: str = ""  # the auditor/admin who exported
    gateway_version: str = ""


@dataclass(slots=True)
class Figures:
    """Summary figures for the period (every count is over the scope)."""

    sessions: int = 0
    sessions_by_identity: dict[str, int] = field(default_factory=dict)
    sessions_by_connection: dict[str, int] = field(default_factory=dict)
    human_sessions: int = 0
    machine_sessions: int = 0
    # Distinct identities (subjects) that opened a session, by kind.
    human_identities: int = 0
    machine_identities: int = 0
    statements: int = 0
    statements_by_verdict: dict[str, int] = field(default_factory=dict)
    # Statements refused by policy (verdict block), by the rule that decided.
    blocked_by_rule: dict[str, int] = field(default_factory=dict)
    # Statement-level approval requests and access (JIT) requests, by final status.
    approval_requests: int = 0
    approvals_by_status: dict[str, int] = field(default_factory=dict)
    median_decision_seconds: float | None = None
    break_glass_approvals: int = 0
    self_approvals_refused: int = 0  # not tracked by the store yet: always 0 unless known
    masked_values: int = 0
    masked_by_type: dict[str, int] = field(default_factory=dict)
    access_grants: int = 0
    access_grants_revoked: int = 0
    # Integrity of the recordings of the sessions in scope.
    recordings_verified: int = 0
    recordings_failed: int = 0
    recordings_missing: int = 0
    tombstones: int = 0
    config_versions: int = 0


@dataclass(frozen=True, slots=True)
class IntegritySummary:
    """The headline of ``integrity.json`` (the file itself has every session's result)."""

    ok: bool
    ledger_size_start: int | None
    ledger_size_end: int | None
    consistency_proven: bool
    # One line per problem, e.g. "s_ab12: chain broken at event 7"; empty when ok.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ControlEvidence:
    """One ISO/IEC 27001:2022 Annex A control and Proctor's evidence for it."""

    id: str  # "A.5.15"
    title: str  # "Access control"
    asks: str  # what the control asks, in a sentence or two
    how: str  # how Proctor meets it
    files: tuple[str, ...]  # evidence files in the pack that show it
    figures: tuple[str, ...]  # the figures, as readable lines ("Sessions: 42")


@dataclass(frozen=True, slots=True)
class Report:
    scope: Scope
    figures: Figures
    integrity: IntegritySummary
    controls: tuple[ControlEvidence, ...]
    # The evidence files in the pack (name → one-line description), for the report's index.
    files: Mapping[str, str] = field(default_factory=dict)
