"""The ISO/IEC 27001:2022 Annex A controls Proctor provides evidence for, and the evidence.

Each entry says, in our own words, what the control is about ("asks" is a paraphrase, never
the standard's text), how the gateway meets it (only what the product does), which files of
the pack show it, and figure lines computed from the period's ``Figures``. ``controls.json``
is ``controls_document`` of the same tuple the HTML and PDF reports render, so the three
never disagree.
"""

from __future__ import annotations

from typing import Any

from proctor.evidence.model import ControlEvidence, Figures, IntegritySummary
from proctor.evidence.summary import STANDARD, counted, duration, ledger_line

# Version of the controls.json layout (bump on an incompatible change).
CONTROLS_VERSION = 1

SESSIONS = "sessions.csv"
STATEMENTS = "statements.csv"
APPROVALS = "approvals.csv"
VIOLATIONS = "violations.csv"
MASKING = "masking.csv"
IDENTITIES = "identities.csv"
ACCESS_GRANTS = "access_grants.csv"
CONFIG_CHANGES = "config_changes.csv"
INTEGRITY = "integrity.json"
CONTROLS = "controls.json"
MANIFEST = "manifest.json"


def _blocked(f: Figures) -> int:
    return sum(f.blocked_by_rule.values())


def _held(f: Figures) -> int:
    return f.statements_by_verdict.get("review", 0)


def _sessions_line(f: Figures) -> str:
    return (
        f"Sessions authenticated by the gateway: {f.sessions} "
        f"(human: {f.human_sessions}, machine: {f.machine_sessions})"
    )


def _identities_line(f: Figures) -> str:
    return (
        f"Distinct identities: {f.human_identities + f.machine_identities} "
        f"(human: {f.human_identities}, machine: {f.machine_identities})"
    )


def _statements_line(f: Figures) -> str:
    return counted("Statements decided by policy", f.statements, f.statements_by_verdict)


def _blocked_line(f: Figures) -> str:
    return counted("Blocked statements", _blocked(f), f.blocked_by_rule, prefix="rule ")


def _approvals_line(f: Figures) -> str:
    return counted("Approval requests", f.approval_requests, f.approvals_by_status)


def _median_line(f: Figures) -> str:
    return f"Median time to decision: {duration(f.median_decision_seconds)}"


def _grants_line(f: Figures) -> str:
    return f"JIT access grants: {f.access_grants} (revoked early: {f.access_grants_revoked})"


def _masked_line(f: Figures) -> str:
    return counted("Masked values", f.masked_values, f.masked_by_type)


def _config_line(f: Figures) -> str:
    return f"Policy and configuration versions in force: {f.config_versions}"


def _integrity_line(integrity: IntegritySummary) -> str:
    if integrity.ok:
        return "Integrity: verified, no problems"
    return f"Integrity: {len(integrity.problems)} problems (see {INTEGRITY})"


def _segregation(f: Figures) -> tuple[str, ...]:
    lines = [
        _approvals_line(f),
        _median_line(f),
        f"Break-glass approvals: {f.break_glass_approvals}",
    ]
    # The store does not count refused self-approvals yet: a 0 would claim more than we know.
    if f.self_approvals_refused:
        lines.append(f"Self-approvals refused: {f.self_approvals_refused}")
    return tuple(lines)


def annex_a_controls(
    report_figures: Figures, integrity: IntegritySummary
) -> tuple[ControlEvidence, ...]:
    """One entry per Annex A control, in the standard's order."""
    f = report_figures
    connections = len(f.sessions_by_connection)
    return (
        ControlEvidence(
            id="A.5.3",
            title="Segregation of duties",
            asks=(
                "Duties and areas of responsibility that conflict should be split between "
                "different people, so that no one can both perform and approve a sensitive "
                "action alone."
            ),
            how=(
                "Statements the policy marks for review are held on the live session until "
                "approvers decide, under workflows with minimum approvals and required groups. "
                "A requester never decides their own request, also not through another "
                "identity of the same person (same e-mail, or a machine acting on their "
                "behalf). Self-approval exists only as break-glass where a workflow allows "
                "it: a reason is mandatory, and the decision is flagged, recorded and "
                "notified. Exporting this evidence is reserved to the auditor and admin roles."
            ),
            files=(APPROVALS, STATEMENTS, SESSIONS),
            figures=_segregation(f),
        ),
        ControlEvidence(
            id="A.5.15",
            title="Access control",
            asks=(
                "Access to information and systems should follow rules set from business and "
                "security needs, and those rules should be applied and enforced."
            ),
            how=(
                "Every session to a fronted database goes through the gateway, which admits "
                "only verified identities that the access rules (or an approved just-in-time "
                "grant) allow on that connection. Each statement is then decided by the "
                "versioned guardrail policy (allow, deny, review or alert) and recorded with "
                "the deciding rule before it is forwarded."
            ),
            files=(SESSIONS, STATEMENTS, ACCESS_GRANTS, CONFIG_CHANGES),
            figures=(
                f"Sessions: {f.sessions} on {connections} connections",
                _statements_line(f),
                _blocked_line(f),
                _config_line(f),
            ),
        ),
        ControlEvidence(
            id="A.5.16",
            title="Identity management",
            asks=(
                "Identities of people and systems should be managed over their whole life, "
                "from creation to removal, so that every action can be tied to one of them."
            ),
            how=(
                "Proctor keeps no accounts of its own: people sign in with the organisation's "
                "OpenID Connect or SAML 2.0 identity provider, and CI jobs, agents and pods "
                "present the JWT their platform issues (GitHub Actions, Kubernetes, SPIFFE, "
                "OAuth client credentials). Each session is bound to the issuer and subject "
                "with a snapshot of its groups, and human and machine identities are told "
                "apart. Revoking a Proctor token, or the provider refusing to renew a "
                "sign-in, ends that identity's live sessions within seconds."
            ),
            files=(IDENTITIES, SESSIONS),
            figures=(_identities_line(f), _sessions_line(f)),
        ),
        ControlEvidence(
            id="A.5.17",
            title="Authentication information",
            asks=(
                "Passwords, keys and other secrets used to authenticate should be handed out "
                "and looked after under control, and kept from those who should not have them."
            ),
            how=(
                "Clients never receive target database passwords: the gateway holds the "
                "credential for each connection (resolved from secret references) and logs in "
                "upstream itself. People and machines present short-lived Proctor tokens (256 "
                "random bits, stored only as a SHA-256 hash, bound to subject, groups, expiry "
                "and optionally connections) or their platform's own short-lived JWT. Secrets "
                "written in statements are redacted in recordings, and tokens and passwords "
                "are never logged."
            ),
            files=(SESSIONS, IDENTITIES, CONFIG_CHANGES),
            figures=(_sessions_line(f),),
        ),
        ControlEvidence(
            id="A.5.18",
            title="Access rights",
            asks=(
                "Rights of access should be granted, reviewed, changed and withdrawn according "
                "to the organisation's rules for access."
            ),
            how=(
                "Standing rights are the access rules of the configuration, whose versions in "
                "force are listed with their hashes. Anything beyond them is asked for as "
                "just-in-time access: an approved request gives a time-boxed grant for one "
                "connection, and when it expires or is revoked the sessions relying on it end. "
                "Group membership comes from the identity provider at sign-in, and each "
                "session records the groups it was admitted with."
            ),
            files=(ACCESS_GRANTS, APPROVALS, CONFIG_CHANGES, IDENTITIES),
            figures=(_grants_line(f), _approvals_line(f), _config_line(f)),
        ),
        ControlEvidence(
            id="A.5.28",
            title="Collection of evidence",
            asks=(
                "Evidence about security events should be identified, gathered and preserved "
                "in a way that keeps it trustworthy."
            ),
            how=(
                "This pack is produced in one command from the gateway's records. Every "
                "recording in the period is verified (hash chain, Ed25519 signatures, ledger "
                "inclusion), the result is in integrity.json, and manifest.json lists every "
                "file with its SHA-256 under the gateway's signature, so a changed file is "
                "detected by `proctor evidence verify`."
            ),
            files=(INTEGRITY, MANIFEST, CONTROLS),
            figures=(
                _integrity_line(integrity),
                f"Recordings verified: {f.recordings_verified}",
                ledger_line(integrity),
            ),
        ),
        ControlEvidence(
            id="A.8.2",
            title="Privileged access rights",
            asks=(
                "Powerful rights should be limited to those who need them, handed out "
                "deliberately, and their use kept under control."
            ),
            how=(
                "The privileged database credential stays in the gateway. Policy rules deny "
                "privileged operations (schema changes, drops, bulk writes, role changes) or "
                "hold them for per-statement approval; elevated access to a connection is "
                "granted just in time and for a limited duration; break-glass use is flagged "
                "and notified."
            ),
            files=(STATEMENTS, VIOLATIONS, APPROVALS, ACCESS_GRANTS),
            figures=(
                _blocked_line(f),
                f"Statements held for approval: {_held(f)}",
                f"Break-glass approvals: {f.break_glass_approvals}",
                _grants_line(f),
            ),
        ),
        ControlEvidence(
            id="A.8.3",
            title="Information access restriction",
            asks=(
                "Access to information should be limited in line with the agreed access "
                "rules, down to what each user needs."
            ),
            how=(
                "Each SQL statement is parsed (operation, tables read and written, functions) "
                "and checked against the policy before it reaches the database. A denied "
                "statement gets an error while the session carries on; a statement the parser "
                "cannot fully classify is refused unless a rule explicitly allows it. The "
                "masking profile applied to results is chosen by policy per identity and group."
            ),
            files=(STATEMENTS, VIOLATIONS, MASKING),
            figures=(_statements_line(f), _blocked_line(f), _masked_line(f)),
        ),
        ControlEvidence(
            id="A.8.5",
            title="Secure authentication",
            asks=(
                "Authentication should rely on sound technology and procedures, matched to "
                "how sensitive the access is."
            ),
            how=(
                "People sign in at the organisation's identity provider (OpenID Connect with "
                "code and PKCE or device flow, or SAML 2.0 with signed assertions checked for "
                "audience, recipient, time and replay), so its MFA and conditional access "
                "apply. Workload JWTs are checked against the issuer's published keys with "
                "asymmetric algorithms only, audience and expiry. Proctor tokens are short-"
                "lived, and the gateway terminates TLS so that tokens do not cross the network "
                "in clear (only loopback clients may connect without TLS by default)."
            ),
            files=(SESSIONS, IDENTITIES),
            figures=(_sessions_line(f), _identities_line(f)),
        ),
        ControlEvidence(
            id="A.8.11",
            title="Data masking",
            asks=(
                "Sensitive data such as personal data should be masked where the access "
                "rules, business needs and applicable law call for it."
            ),
            how=(
                "Results are inspected inline as they stream back: validated detectors (for "
                "example Luhn-checked card numbers, SSNs, e-mails, phone numbers, IBANs) find "
                "sensitive values and replace them with type-valid masked values before they "
                "reach the client, the recording or any log. The profile a session gets is "
                "chosen by the policy."
            ),
            files=(MASKING, SESSIONS),
            figures=(_masked_line(f),),
        ),
        ControlEvidence(
            id="A.8.12",
            title="Data leakage prevention",
            asks=(
                "Systems and channels that carry sensitive information should have measures "
                "against its unauthorised disclosure or extraction."
            ),
            how=(
                "Clients reach the data only through the gateway, since they never hold the "
                "target credentials. Sensitive values are masked in results, errors and "
                "notices; statements that read or export data beyond what is allowed are "
                "blocked or held for review by policy; recordings keep only what the client "
                "saw, masked, and are encrypted at rest."
            ),
            files=(MASKING, VIOLATIONS, STATEMENTS),
            figures=(_masked_line(f), _blocked_line(f)),
        ),
        ControlEvidence(
            id="A.8.15",
            title="Logging",
            asks=(
                "Activities, exceptions, faults and other relevant events should be logged, "
                "and the logs kept, protected from tampering and analysed."
            ),
            how=(
                "Every session is recorded: each statement with its verdict and rule before it "
                "is forwarded, approvals, and results as the client saw them. Recordings are "
                "hash-chained, signed with Ed25519 at checkpoints and at the seal, encrypted "
                "at rest, and committed to a gateway-wide RFC 6962 Merkle ledger with signed "
                "tree heads; deletions by retention leave signed tombstones. Anyone with the "
                "public keys can verify them."
            ),
            files=(SESSIONS, STATEMENTS, INTEGRITY),
            figures=(
                _integrity_line(integrity),
                f"Recordings verified: {f.recordings_verified}, failed: "
                f"{f.recordings_failed}, missing: {f.recordings_missing}",
                f"Sessions deleted by retention (tombstones): {f.tombstones}",
                ledger_line(integrity),
                f"Statements recorded: {f.statements}",
            ),
        ),
        ControlEvidence(
            id="A.8.16",
            title="Monitoring activities",
            asks=(
                "Networks, systems and applications should be watched for unusual behaviour, "
                "and possible incidents acted upon."
            ),
            how=(
                "The gateway exports Prometheus metrics (sessions, statements by verdict, "
                "authentication failures, protocol errors) and structured JSON logs. Policy "
                "alert rules raise events on statements worth attention, approval requests "
                "and break-glass decisions are sent to webhooks, Slack, Teams or e-mail, and "
                "every refused or alerting statement is listed in violations.csv."
            ),
            files=(VIOLATIONS, STATEMENTS, APPROVALS),
            figures=(
                f"Statements raising an alert: {f.statements_by_verdict.get('alert', 0)}",
                f"Break-glass approvals: {f.break_glass_approvals}",
                _blocked_line(f),
            ),
        ),
    )


def controls_document(controls: tuple[ControlEvidence, ...]) -> dict[str, Any]:
    """The content of ``controls.json``: JSON-ready (lists, strings)."""
    return {
        "version": CONTROLS_VERSION,
        "standard": STANDARD,
        "annex": "A",
        "controls": [
            {
                "id": c.id,
                "title": c.title,
                "asks": c.asks,
                "how": c.how,
                "files": list(c.files),
                "figures": list(c.figures),
            }
            for c in controls
        ],
    }
