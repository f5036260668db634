"""The Annex A control mapping: every required control, true figures, a JSON-ready document."""

from __future__ import annotations

import json
import re

import pytest

from proctor.evidence.controls import annex_a_controls, controls_document
from proctor.evidence.model import Figures
from proctor.evidence.summary import breakdown, duration, heading, ranked, title
from tests.unit.evidence import report_samples as samples

KNOWN_FILES = {
    "sessions.csv",
    "statements.csv",
    "approvals.csv",
    "violations.csv",
    "masking.csv",
    "identities.csv",
    "access_grants.csv",
    "config_changes.csv",
    "integrity.json",
    "controls.json",
    "manifest.json",
}


def by_id() -> dict[str, list[str]]:
    controls = annex_a_controls(samples.figures(), samples.integrity_ok())
    return {c.id: list(c.figures) for c in controls}


def test_every_required_control_once_in_the_standards_order() -> None:
    controls = annex_a_controls(samples.figures(), samples.integrity_ok())
    ids = [c.id for c in controls]
    assert set(samples.CONTROL_IDS) <= set(ids)
    assert len(ids) == len(set(ids))

    def key(cid: str) -> tuple[int, ...]:
        return tuple(int(n) for n in cid.removeprefix("A.").split("."))

    assert ids == sorted(ids, key=key)


def test_each_control_is_complete() -> None:
    for control in annex_a_controls(samples.figures(), samples.integrity_ok()):
        assert re.fullmatch(r"A\.[5-8]\.\d+", control.id)
        assert control.title and control.title[0].isupper()
        assert len(control.asks) > 40 and len(control.how) > 80
        assert control.files and set(control.files) <= KNOWN_FILES, control.id
        assert control.figures and all(control.figures), control.id
        assert heading(control) == f"{control.id} {control.title}"


def test_titles_of_the_required_controls() -> None:
    titles = {c.id: c.title for c in annex_a_controls(samples.figures(), samples.integrity_ok())}
    assert titles["A.5.3"] == "Segregation of duties"
    assert titles["A.5.15"] == "Access control"
    assert titles["A.8.11"] == "Data masking"
    assert titles["A.8.15"] == "Logging"
    assert titles["A.8.16"] == "Monitoring activities"


def test_figures_follow_the_values() -> None:
    lines = by_id()
    assert (
        "Blocked statements: 21 (rule no-drop: 12, rule prod-changes-in-business-hours: 6, "
        "rule fail-closed: 3)"
    ) in lines["A.8.3"]
    assert "Median time to decision: 4m 12s" in lines["A.5.3"]
    assert "Break-glass approvals: 1" in lines["A.5.3"]
    assert (
        "Approval requests: 9 (approved: 5, denied: 2, expired: 1, withdrawn: 1)" in lines["A.5.3"]
    )
    assert "Masked values: 5678 (email: 3000, card: 1500, ssn: 900, phone: 278)" in lines["A.8.11"]
    assert "JIT access grants: 4 (revoked early: 1)" in lines["A.5.18"]
    assert "Distinct identities: 5 (human: 3, machine: 2)" in lines["A.5.16"]
    assert "Sessions: 42 on 3 connections" in lines["A.5.15"]
    assert "Statements held for approval: 7" in lines["A.8.2"]
    assert "Statements raising an alert: 6" in lines["A.8.16"]
    assert "Integrity: verified, no problems" in lines["A.8.15"]
    assert any(
        "120 leaves at the start, 168 leaves at the end, consistency proven" in line
        for line in lines["A.8.15"]
    )


def test_integrity_problems_show_in_the_logging_control() -> None:
    controls = annex_a_controls(samples.figures(), samples.integrity_bad())
    logging = next(c for c in controls if c.id == "A.8.15")
    assert "Integrity: 2 problems (see integrity.json)" in logging.figures


def test_self_approvals_refused_shown_only_when_known() -> None:
    f = samples.figures()
    assert not any("Self-approvals" in line for line in by_id()["A.5.3"])
    f.self_approvals_refused = 2
    seg = next(c for c in annex_a_controls(f, samples.integrity_ok()) if c.id == "A.5.3")
    assert "Self-approvals refused: 2" in seg.figures


def test_empty_period() -> None:
    controls = annex_a_controls(Figures(), samples.integrity_ok())
    lines = {c.id: c.figures for c in controls}
    assert "Blocked statements: 0" in lines["A.8.3"]
    assert "Median time to decision: n/a" in lines["A.5.3"]
    assert "Masked values: 0" in lines["A.8.11"]


def test_long_breakdowns_are_cut() -> None:
    f = samples.big_figures(rules=150)
    line = next(
        line
        for c in annex_a_controls(f, samples.integrity_ok())
        if c.id == "A.8.3"
        for line in c.figures
        if line.startswith("Blocked statements")
    )
    assert line.count("rule-") == 5
    assert "and 145 more" in line
    assert len(line) < 250


def test_document_is_json_ready() -> None:
    controls = annex_a_controls(samples.figures(), samples.integrity_ok())
    document = controls_document(controls)
    assert document["version"] == 1
    assert document["standard"] == "ISO/IEC 27001:2022"
    again = json.loads(json.dumps(document))
    assert again == document
    assert [c["id"] for c in again["controls"]] == [c.id for c in controls]
    first = again["controls"][0]
    assert set(first) == {"id", "title", "asks", "how", "files", "figures"}
    assert first["files"] == list(controls[0].files)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "n/a"),
        (0, "0s"),
        (42.4, "42s"),
        (60, "1m"),
        (252, "4m 12s"),
        (3600, "1h"),
        (3720, "1h 2m"),
        (86400 * 2 + 3600 * 5 + 17, "2d 5h"),
        (86400, "1d"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_ranked_and_breakdown() -> None:
    counts = {"b": 2, "a": 2, "c": 5, "d": 1}
    top = ranked(counts, 2)
    assert top.shown == (("c", 5), ("a", 2))
    assert (top.more, top.more_total) == (2, 3)
    assert breakdown(counts, limit=2) == "c: 5, a: 2, and 2 more (3 in total)"
    assert breakdown({}) == ""


def test_title_names_the_last_day_of_a_half_open_period() -> None:
    assert title(samples.scope()) == "Proctor evidence pack, 2026-07-01 to 2026-09-30"
