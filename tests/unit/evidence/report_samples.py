"""Report values for the renderer tests: a realistic quarter, a hostile one, a huge one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from proctor.evidence.controls import annex_a_controls
from proctor.evidence.model import Figures, IntegritySummary, Report, Scope

START = datetime(2026, 7, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, tzinfo=UTC)

CONTROL_IDS = (
    "A.5.3",
    "A.5.15",
    "A.5.16",
    "A.5.17",
    "A.5.18",
    "A.8.2",
    "A.8.3",
    "A.8.5",
    "A.8.11",
    "A.8.12",
    "A.8.15",
    "A.8.16",
)

FILES = {
    "sessions.csv": "Every session in scope: identity, connection, start, end, outcome",
    "statements.csv": "Every statement's decision and deciding rule (no unmasked data)",
    "approvals.csv": "Approval requests: requester, approvers, reasons, times",
    "violations.csv": "Statements refused by policy",
    "masking.csv": "Masked values per session, column and type",
    "identities.csv": "Identities that opened sessions, human or machine",
    "access_grants.csv": "Just-in-time access grants",
    "config_changes.csv": "Policy and configuration versions in force, with hashes",
    "integrity.json": "Verification of every recording, ledger heads and proof",
    "controls.json": "This control mapping, machine-readable",
}


def figures() -> Figures:
    return Figures(
        sessions=42,
        sessions_by_identity={
            "alice@acme.example": 17,
            "bob@acme.example": 9,
            "repo:acme/shop:ref:refs/heads/main": 8,
            "system:serviceaccount:etl:loader": 5,
            "carol@acme.example": 3,
        },
        sessions_by_connection={"shop": 30, "billing": 10, "scratch": 2},
        human_sessions=29,
        machine_sessions=13,
        human_identities=3,
        machine_identities=2,
        statements=1234,
        statements_by_verdict={"allow": 1200, "deny": 21, "review": 7, "alert": 6},
        blocked_by_rule={"no-drop": 12, "prod-changes-in-business-hours": 6, "fail-closed": 3},
        approval_requests=9,
        approvals_by_status={"approved": 5, "denied": 2, "expired": 1, "withdrawn": 1},
        median_decision_seconds=252.0,
        break_glass_approvals=1,
        masked_values=5678,
        masked_by_type={"email": 3000, "card": 1500, "ssn": 900, "phone": 278},
        access_grants=4,
        access_grants_revoked=1,
        recordings_verified=41,
        recordings_failed=0,
        recordings_missing=0,
        tombstones=1,
        config_versions=3,
    )


def integrity_ok() -> IntegritySummary:
    return IntegritySummary(
        ok=True, ledger_size_start=120, ledger_size_end=168, consistency_proven=True
    )


def integrity_bad() -> IntegritySummary:
    return IntegritySummary(
        ok=False,
        ledger_size_start=120,
        ledger_size_end=168,
        consistency_proven=True,
        problems=("s_ab12: chain broken at event 7", "s_cd34: recording missing"),
    )


def scope() -> Scope:
    return Scope(
        start=START,
        end=END,
        connections=("shop", "billing", "scratch"),
        tags={"env": "prod"},
        generated_at=datetime(2026, 10, 2, 9, 30, tzinfo=UTC),
        generated_by="auditor@acme.example",
        gateway_version="0.1.0",
    )


def report(f: Figures | None = None, integrity: IntegritySummary | None = None) -> Report:
    f = f if f is not None else figures()
    integrity = integrity if integrity is not None else integrity_ok()
    return Report(
        scope=scope(),
        figures=f,
        integrity=integrity,
        controls=annex_a_controls(f, integrity),
        files=FILES,
    )


HOSTILE = "<script>alert('x')</script>&\"evil\""


def hostile_report() -> Report:
    f = figures()
    f.sessions_by_identity[HOSTILE] = 50
    f.blocked_by_rule["<img src=x onerror=alert(1)>"] = 4
    return replace(
        report(f),
        scope=replace(scope(), generated_by=HOSTILE, connections=("<b>shop</b>",)),
    )


def big_figures(identities: int = 600, rules: int = 150) -> Figures:
    f = figures()
    f.sessions_by_identity = {f"user{i:04d}@acme.example": 1 + i % 37 for i in range(identities)}
    f.sessions_by_connection = {f"db-{i:03d}": 1 + i % 11 for i in range(200)}
    f.blocked_by_rule = {f"rule-{i:03d}": 1 + i % 5 for i in range(rules)}
    f.sessions = sum(f.sessions_by_identity.values())
    f.human_identities, f.machine_identities = identities - 100, 100
    f.machine_sessions = sum(
        f.sessions_by_identity[f"user{i:04d}@acme.example"] for i in range(100)
    )
    f.human_sessions = f.sessions - f.machine_sessions
    return f


UNICODE_NAMES = ("José Núñez", "Zoë Ångström", "张伟", "Дмитрий", "山田太郎@例え.jp")


def unicode_figures() -> Figures:
    f = figures()
    for i, name in enumerate(UNICODE_NAMES):
        f.sessions_by_identity[name] = 20 - i
    f.blocked_by_rule["règle-née"] = 2
    return f
