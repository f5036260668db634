"""The evidence pack after a scripted scenario through a real gateway and PostgreSQL.

The scenario: alice reads masked customer data and tries a DROP (blocked); her UPDATE is held
and bob approves it; carol (no standing access) gets a just-in-time grant from bob and uses
it; a CI identity runs a query; alice's session on the short-retention connection ``scratch``
is purged by ``proctor recordings purge``. dana (auditor) exports the pack with the real
``proctor evidence export``; every figure is checked against the scenario, the pack verifies,
and tampering with any file or the manifest makes verification fail.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from proctor.cli import recordings_admin_cmd
from proctor.evidence.manifest import verify_manifest
from proctor.recording.keystore import ensure_keys, public_keys
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.verify import verify_all
from tests.integration.conftest import APP_ROLE, Gateway, ShopDb, eventually, launch_gateway
from tests.integration.evidence.test_report_browser import png_size
from tests.integration.postgres.test_approvals import DEMO_POLICY, finish, run_held
from tests.integration.postgres.test_approvals_api import PROCTOR, api, cli, cli_env, held_id
from tests.integration.postgres.test_jit_access import APPROVALS

pytestmark = pytest.mark.integration

IDENTITY = {
    "access": [
        {"connections": ["shop", "scratch"], "groups": ["analyst", "approver", "admin"]},
    ],
    "roles": {
        "admin": {"groups": ["admin"]},
        "auditor": {"groups": ["auditor"]},
        "approver": {"groups": ["approver"]},
    },
}
CONTROL_IDS = [
    "A.5.3", "A.5.15", "A.5.16", "A.5.17", "A.5.18", "A.8.2", "A.8.3", "A.8.5", "A.8.11",
    "A.8.12", "A.8.15", "A.8.16",
]  # fmt: skip


@pytest.fixture(scope="module")
def gw(shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    scratch = {
        "name": "scratch",
        "protocol": "postgres",
        "host": shop_db.cluster.host,
        "port": shop_db.cluster.port,
        "database": "shop",
        "tls": {"mode": "disable"},
        "credential": {"username": APP_ROLE, "password": "${file:secrets/shop.pw}"},
        "tags": {"env": "scratch"},
    }
    gateway = launch_gateway(
        tmp_path_factory.mktemp("evidence"),
        shop_db,
        policy=DEMO_POLICY,
        approvals=APPROVALS,
        identity=IDENTITY,
        connections=[scratch],
        recordings={"retention": {"rules": [{"connections": ["scratch"], "retain": "1h"}]}},
    )
    for subject, groups in {
        "carol": ("contractor",),
        "dana": ("auditor",),
        "ci:nightly": ("analyst",),
    }.items():
        gateway.tokens[subject] = gateway.create_token(subject, groups)
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def scenario(gw: Gateway, shop_db: ShopDb) -> dict[str, Any]:
    """Run the scenario once; returns what the checks compare against."""
    facts: dict[str, Any] = {}
    with psycopg.connect(shop_db.admin_dsn()) as admin:
        rows = admin.execute(
            "SELECT email, ssn FROM customers WHERE ssn IS NOT NULL ORDER BY id LIMIT 3"
        ).fetchall()
        admin.execute("UPDATE payments SET status = 'captured' WHERE id = 77")
    facts["raw"] = [v for row in rows for v in row]
    # 1. alice: a masked read, then a DROP the policy blocks; the session survives it.
    with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
        seen = conn.execute(
            "SELECT email, ssn FROM customers WHERE ssn IS NOT NULL ORDER BY id LIMIT 3"
        ).fetchall()
        assert all(v not in facts["raw"] for row in seen for v in row), seen
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE orders")
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # 2. alice's UPDATE is held; bob approves it.
    attempt = run_held(gw, "UPDATE payments SET status='refunded' WHERE id=77")
    request_id = held_id(attempt)
    approved = cli(gw, "bob", "approvals", "approve", request_id, "--reason", "ticket 9")
    assert approved.returncode == 0, approved.stderr
    finish(attempt)
    assert attempt.error is None and attempt.result == "UPDATE 1"
    facts["update_request"] = request_id
    # 3. carol asks for just-in-time access; bob grants it; she uses it.
    made = cli(gw, "carol", "request", "shop", "--duration", "30m", "--reason", "INC-7", "--json")
    assert made.returncode == 0, made.stderr
    access_id = json.loads(made.stdout)["request"]["id"]
    assert cli(gw, "bob", "approvals", "approve", access_id, "--reason", "ok").returncode == 0
    with psycopg.connect(gw.dsn("carol"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM orders").fetchone() == (True,)
    facts["access_request"] = access_id
    # 4. a machine identity.
    with psycopg.connect(gw.dsn("ci:nightly"), autocommit=True) as conn:
        conn.execute("SELECT 42")
    # 5. alice on the short-retention connection; then retention purges that session.
    with psycopg.connect(gw.dsn("alice", dbname="scratch"), autocommit=True) as conn:
        conn.execute("SELECT 2")
    facts["purged"] = purge_later(gw)
    return facts


def purge_later(gw: Gateway) -> str:
    """``proctor recordings purge`` as run two hours from now (retention of scratch: 1h)."""
    storage = LocalBlobStorage(gw.dir / "recordings")
    keys = public_keys(gw.dir / "recording-keys")

    def all_sealed() -> bool:
        report = verify_all(storage, keys)
        return len(report.sessions) == 5 and report.ok

    assert eventually(all_sealed, timeout=30)
    later = datetime.now(UTC) + timedelta(hours=2)
    mp = pytest.MonkeyPatch()
    mp.setattr(recordings_admin_cmd, "now_utc", lambda: later)
    mp.chdir(gw.dir)
    try:
        result = CliRunner().invoke(
            recordings_admin_cmd.purge_command,
            ["--config", str(gw.dir / "proctor.yaml"), "--json"],
        )
    finally:
        mp.undo()
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    deleted = [s for s in report["sessions"] if s["action"] == "deleted"]
    assert len(deleted) == 1, report
    return str(deleted[0]["session"])


def export(gw: Gateway, who: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    today = datetime.now(UTC).date()
    return subprocess.run(
        [
            str(PROCTOR),
            "evidence",
            "export",
            "--config",
            str(gw.dir / "proctor.yaml"),
            "--from",
            (today - timedelta(days=1)).isoformat(),
            "--to",
            today.isoformat(),
            "--out",
            str(out),
            *extra,
        ],
        env=cli_env(gw, who),
        cwd=gw.dir,
        capture_output=True,
        text=True,
        timeout=300,
    )


def verify(gw: Gateway, pack: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROCTOR), "evidence", "verify", str(pack), "--keys", str(gw.dir / "recording-keys")],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def pack(gw: Gateway, scenario: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("packs") / "q4"
    done = export(gw, "dana", out, "--zip")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "evidence pack written" in done.stdout
    return out


def rows(pack: Path, name: str) -> list[dict[str, str]]:
    with (pack / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def figures(pack: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((pack / "manifest.json").read_text())["figures"]
    return result


def test_only_auditors_and_admins_export(gw: Gateway, tmp_path: Path) -> None:
    refused = export(gw, "alice", tmp_path / "a")
    assert refused.returncode == 1
    assert "alice may not export evidence" in refused.stderr
    assert not (tmp_path / "a").exists()
    by_admin = export(gw, "admin", tmp_path / "b")
    assert by_admin.returncode == 0, by_admin.stderr


def test_figures_match_the_scenario(pack: Path, scenario: dict[str, Any]) -> None:
    f = figures(pack)
    assert f["sessions"] == 5
    assert f["sessions_by_identity"] == {"alice": 3, "carol": 1, "ci:nightly": 1}
    assert f["sessions_by_connection"] == {"shop": 4, "scratch": 1}
    assert (f["human_sessions"], f["machine_sessions"]) == (4, 1)
    # alice, bob (who decided), carol; and the CI identity.
    assert (f["human_identities"], f["machine_identities"]) == (3, 1)
    assert f["blocked_by_rule"] == {"no-schema-changes": 1}
    assert f["statements_by_verdict"]["deny"] == 1
    assert f["approval_requests"] == 2
    assert f["approvals_by_status"] == {"approved": 2}
    assert f["median_decision_seconds"] is not None and f["median_decision_seconds"] > 0
    assert f["masked_by_type"] == {"email": 3, "ssn": 3}
    assert f["masked_values"] == 6
    assert (f["access_grants"], f["access_grants_revoked"]) == (1, 0)
    assert f["tombstones"] == 1
    assert f["recordings_verified"] == 5 and f["recordings_failed"] == 0
    assert f["config_versions"] == 2  # the configuration and the policy


def test_csv_files_tell_the_same_story(pack: Path, scenario: dict[str, Any], gw: Gateway) -> None:
    sessions = rows(pack, "sessions.csv")
    assert len(sessions) == 5
    by_id = {s["session_id"]: s for s in sessions}
    assert by_id[scenario["purged"]]["recording"] == "deleted"
    assert by_id[scenario["purged"]]["connection"] == "scratch"
    assert {s["recording"] for s in sessions} == {"sealed", "deleted"}
    assert {s["identity_kind"] for s in sessions if s["subject"] == "ci:nightly"} == {"machine"}
    masked_session = [s for s in sessions if s["masked_values"] == "6"]
    assert len(masked_session) == 1 and masked_session[0]["subject"] == "alice"

    violations = rows(pack, "violations.csv")
    assert [(v["subject"], v["outcome"], v["rule"]) for v in violations] == [
        ("alice", "blocked", "no-schema-changes")
    ]
    assert "DROP TABLE orders" in violations[0]["statement"]
    statements = rows(pack, "statements.csv")
    drop = [s for s in statements if "DROP TABLE" in s["statement"]]
    assert drop and drop[0]["verdict"] == "deny" and drop[0]["rule"] == "no-schema-changes"
    expected = hashlib.sha256(b"DROP TABLE orders").hexdigest()
    assert drop[0]["statement_sha256"] == expected

    approvals = {a["request_id"]: a for a in rows(pack, "approvals.csv")}
    update = approvals[scenario["update_request"]]
    assert update["requester"] == "alice" and update["approvers"] == "bob"
    assert update["status"] == "approved" and update["rule"] == "writes-need-approval"
    assert update["decision_reasons"] == "bob: ticket 9" and len(update["statement_sha256"]) == 64
    access = approvals[scenario["access_request"]]
    assert access["kind"] == "access" and access["requester_reason"] == "INC-7"

    grants = rows(pack, "access_grants.csv")
    assert [(g["subject"], g["granted_by"], g["status"]) for g in grants] == [
        ("carol", "bob", "active")
    ]
    masking = rows(pack, "masking.csv")
    assert sorted((m["where"].split(".")[-1], m["entity_type"], m["count"]) for m in masking) == [
        ("email", "email", "3"),
        ("ssn", "ssn", "3"),
    ]
    identities = {i["subject"]: i for i in rows(pack, "identities.csv")}
    assert identities["ci:nightly"]["kind"] == "machine"
    assert identities["bob"]["decisions_made"] == "2"
    assert identities["alice"]["blocked_statements"] == "1"

    changes = rows(pack, "config_changes.csv")
    config_hash = hashlib.sha256((gw.dir / "proctor.yaml").read_bytes()).hexdigest()
    assert {(c["kind"], c["sha256"]) for c in changes} >= {("config", config_hash)}
    policy = [c for c in changes if c["kind"] == "policy"]
    assert len(policy) == 1 and policy[0]["sessions_in_period"] == "5"


def test_no_unmasked_value_is_in_the_pack(pack: Path, scenario: dict[str, Any]) -> None:
    for path in pack.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".html"):
            text = path.read_text(encoding="utf-8")
            for raw in scenario["raw"]:
                assert raw not in text, f"{raw!r} in {path.name}"


def test_integrity_json(pack: Path, scenario: dict[str, Any]) -> None:
    doc = json.loads((pack / "integrity.json").read_text())
    assert doc["ok"] is True, doc["problems"]
    assert doc["sessions_by_status"] == {"deleted": 1, "sealed": 4}
    assert [t["session_id"] for t in doc["tombstones"]] == [scenario["purged"]]
    proof = doc["period_proof"]
    assert proof["verified"] is True and proof["end_head"]["size"] >= 5
    assert len(doc["sessions"]) == 5


def test_pack_verifies_and_tampering_is_detected(pack: Path, gw: Gateway, tmp_path: Path) -> None:
    ok = verify(gw, pack)
    assert ok.returncode == 0, ok.stderr
    assert "OK: signature by key" in ok.stdout
    zipped = pack.with_name(pack.name + ".zip")
    assert verify(gw, zipped).returncode == 0

    names = [p.name for p in pack.iterdir() if p.is_file() and p.name != "manifest.json"]
    assert {"index.html", "report.pdf", "controls.json", "integrity.json"} <= set(names)
    trusted = public_keys(gw.dir / "recording-keys")
    for name in names:  # any file changed (checked in-process; the CLI once, below)
        copy = tmp_path / f"t-{name}"
        shutil.copytree(pack, copy)
        target = copy / name
        target.write_bytes(target.read_bytes() + b" ")
        check = verify_manifest(copy, trusted)
        assert not check.ok and check.problems == [
            f"{name}: content differs from the manifest (SHA-256)"
        ]
    bad = verify(gw, tmp_path / "t-sessions.csv")
    assert bad.returncode == 1 and "sessions.csv: content differs" in bad.stderr
    # the manifest's own figures changed
    copy = tmp_path / "t-manifest"
    shutil.copytree(pack, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["figures"]["sessions"] = 4
    (copy / "manifest.json").write_text(json.dumps(manifest))
    bad = verify(gw, copy)
    assert bad.returncode == 1 and "signature does not match" in bad.stderr
    # a file added, or removed
    copy = tmp_path / "t-added"
    shutil.copytree(pack, copy)
    (copy / "extra.csv").write_text("x\n")
    assert "extra.csv: not listed" in verify(gw, copy).stderr
    (copy / "extra.csv").unlink()
    (copy / "masking.csv").unlink()
    assert "masking.csv: listed in the manifest but missing" in verify(gw, copy).stderr
    # a zip with one changed entry
    tampered = tmp_path / "t.zip"
    with zipfile.ZipFile(zipped) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("sessions.csv"):
                data = data.replace(b"alice", b"alicf", 1)
            dst.writestr(info, data)
    assert verify(gw, tampered).returncode == 1
    # someone else's key
    other = tmp_path / "other-keys"
    ensure_keys(other, encrypt=False)
    wrong = subprocess.run(
        [str(PROCTOR), "evidence", "verify", str(pack), "--keys", str(other)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 1 and "not trusted" in wrong.stderr


def test_reports_have_every_control_section(pack: Path) -> None:
    html = (pack / "index.html").read_text(encoding="utf-8")
    text = "\n".join(page.extract_text() for page in PdfReader(pack / "report.pdf").pages)
    controls = json.loads((pack / "controls.json").read_text())
    ids = [c["id"] for c in controls["controls"]]
    assert set(CONTROL_IDS) <= set(ids)
    for control in CONTROL_IDS:
        assert control in html, control
        assert control in text, control


def test_auditors_export_through_the_gateway_api(
    gw: Gateway, pack: Path, scenario: dict[str, Any], tmp_path: Path
) -> None:
    """`--remote`: the gateway builds the pack; nothing but a token is needed here."""
    today = datetime.now(UTC).date()
    period = ["--from", (today - timedelta(days=1)).isoformat(), "--to", today.isoformat()]

    def remote(who: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        args = ["evidence", "export", "--remote", *period, "--out", str(out), *extra]
        env = {**cli_env(gw, who), "PROCTOR_CONFIG": str(tmp_path / "no-such.yaml")}
        return subprocess.run(
            [str(PROCTOR), *args], env=env, capture_output=True, text=True, timeout=300
        )

    done = remote("dana", tmp_path / "remote", "--zip")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "remote.zip").exists()
    local, fetched = figures(pack), figures(tmp_path / "remote")
    assert fetched["sessions"] == local["sessions"] == 5
    assert fetched["masked_by_type"] == local["masked_by_type"]
    assert json.loads((tmp_path / "remote" / "manifest.json").read_text())["generated_by"] == "dana"
    assert verify(gw, tmp_path / "remote").returncode == 0
    refused = remote("alice", tmp_path / "by-alice")
    assert refused.returncode == 1 and "alice may not export evidence" in refused.stderr
    assert not (tmp_path / "by-alice").exists()
    status, body = api(gw, "dana", "GET", "/api/evidence?from=yesterday&to=2026-01-01")
    assert status == 400 and "not a date" in body["message"]
    status, body = api(gw, None, "GET", "/api/evidence?from=2026-01-01&to=2026-01-02")
    assert status == 401


def test_exported_report_renders_in_chromium(pack: Path, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto((pack / "index.html").as_uri())
        shot = page.screenshot(full_page=True)
        (pack.parent / "q4-report.png").write_bytes(shot)
        width, height = png_size(shot)
        assert width >= 1000 and height > 2000
        texts = [t.strip() for t in page.locator("h2").all_inner_texts()]
        for control in CONTROL_IDS:
            found = [t for t in texts if t.startswith(control + " ")]
            assert found and page.get_by_role("heading", name=found[0]).is_visible(), control
        assert page.locator("#integrity-status").inner_text().startswith("Integrity verified")
        assert page.locator("svg.chart rect.bar").count() >= 7
    finally:
        page.close()


def test_a_tampered_recording_shows_in_the_next_pack(
    gw: Gateway, pack: Path, scenario: dict[str, Any], tmp_path: Path
) -> None:
    """Last in this module: it damages one of the gateway's recordings."""
    sealed = [r for r in rows(pack, "sessions.csv") if r["recording"] == "sealed"]
    victim = sealed[0]["session_id"]
    segment = sorted((gw.dir / "recordings" / "sessions" / victim).iterdir())[0]
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01
    segment.write_bytes(bytes(data))
    done = export(gw, "dana", tmp_path / "after")
    assert done.returncode == 0, done.stderr
    assert "NOT all verified" in done.stdout
    doc = json.loads((tmp_path / "after" / "integrity.json").read_text())
    assert doc["ok"] is False and doc["sessions_failed"] == 1
    assert any(p.startswith(victim) for p in doc["problems"]), doc["problems"]
    after = {r["session_id"]: r["recording"] for r in rows(tmp_path / "after", "sessions.csv")}
    assert after[victim] == "invalid"
    html = (tmp_path / "after" / "index.html").read_text(encoding="utf-8")
    assert victim in html  # the report names the damaged session
    # The pack itself is still intact and verifies: it truthfully reports the damage.
    assert verify(gw, tmp_path / "after").returncode == 0
