"""index.html: self-contained, every section, escaped, and sane with hundreds of names."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from proctor.evidence.charts import LABEL_CHARS
from proctor.evidence.html import render_html
from proctor.evidence.summary import heading
from tests.unit.evidence import report_samples as samples


class Outline(HTMLParser):
    """Collects headings' text, tags, attributes and scripts, checking the nesting."""

    VOID = {"meta", "br", "hr", "img", "link", "input", "rect", "col", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h2: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.stack: list[str] = []
        self.text = ""
        self._in_h2 = False
        self._h2 = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "h2":
            self._in_h2, self._h2 = True, ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()
        if tag == "h2":
            self._in_h2 = False
            self.h2.append(self._h2)

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._in_h2:
            self._h2 += data


def outline(document: str) -> Outline:
    parser = Outline()
    parser.feed(document)
    parser.close()
    assert parser.stack == []
    return parser


def test_every_section_and_control_heading() -> None:
    report = samples.report()
    page = outline(render_html(report))
    for control in report.controls:
        assert heading(control) in page.h2
    for cid in samples.CONTROL_IDS:
        assert any(h.startswith(cid + " ") for h in page.h2), cid
    assert "A.5.15 Access control" in page.h2
    for section in ("Scope and period", "Summary", "Integrity", "Evidence files"):
        assert section in page.h2
    # The order the brief asks for: scope, summary, integrity, controls, file index.
    order = [page.h2.index(s) for s in ("Scope and period", "Summary", "Integrity")]
    assert order == sorted(order)
    assert page.h2.index("Integrity") < page.h2.index("A.5.3 Segregation of duties")
    assert page.h2[-1] == "Evidence files"


def test_self_contained_no_script_no_external_assets() -> None:
    document = render_html(samples.report())
    page = outline(document)
    assert document.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in document
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    for tag, name, value in page.attrs:
        assert not name.startswith("on"), (tag, name)
        if name in ("href", "src"):
            assert value is not None
            assert not re.match(r"^[a-z]+:", value) and not value.startswith("//"), value
    assert "@media print" in document


def test_figures_and_charts() -> None:
    page = outline(render_html(samples.report()))
    text = page.text
    for line in (
        "Median time to decision: 4m 12s",
        "Blocked statements: 21 (rule no-drop: 12, rule prod-changes-in-business-hours: 6, "
        "rule fail-closed: 3)",
        "Masked values: 5678 (email: 3000, card: 1500, ssn: 900, phone: 278)",
        "Integrity verified",
        "auditor@acme.example",
        "2026-07-01 00:00:00 UTC",
        "env=prod",
    ):
        assert line in text, line
    charts = [v for tag, k, v in page.attrs if tag == "svg" and k == "data-chart"]
    assert charts == [
        "sessions-by-identity",
        "sessions-by-connection",
        "human-machine",
        "blocked-by-rule",
        "approvals-by-status",
        "masked-by-type",
        "jit-grants",
    ]
    bars = [v for tag, k, v in page.attrs if tag == "rect" and k == "class"]
    assert len(bars) == 5 + 3 + 2 + 3 + 4 + 4 + 2


def test_control_sections_link_their_files() -> None:
    report = samples.report()
    document = render_html(report)
    hrefs = {v for tag, k, v in outline(document).attrs if tag == "a" and k == "href"}
    for control in report.controls:
        for name in control.files:
            assert name in hrefs
    for name in report.files:
        assert name in hrefs
    assert "#control-A-5-15" in hrefs


def test_hostile_names_are_escaped() -> None:
    document = render_html(samples.hostile_report())
    assert "<script" not in document
    assert "<img" not in document
    assert "<b>shop" not in document
    assert "&lt;script&gt;" in document
    assert "&lt;img src=x onerror=alert(1)&gt;" in document
    page = outline(document)
    assert "script" not in page.tags and "img" not in page.tags and "b" not in page.tags
    # The names still read as written.
    assert samples.HOSTILE in page.text
    assert "<b>shop</b>" in page.text


def test_integrity_problems_are_prominent() -> None:
    document = render_html(samples.report(integrity=samples.integrity_bad()))
    page = outline(document)
    assert "INTEGRITY PROBLEMS: 2 problems found." in page.text
    assert "s_ab12: chain broken at event 7" in page.text
    header = document[: document.index("</header>")]
    assert 'class="status bad"' in header and "INTEGRITY PROBLEMS" in header


def test_many_problems_are_cut() -> None:
    integrity = samples.integrity_bad()
    problems = tuple(f"s_{i:04d}: recording missing" for i in range(300))
    bad = type(integrity)(False, 1, 2, False, problems)
    text = outline(render_html(samples.report(integrity=bad))).text
    assert "s_0049: recording missing" in text
    assert "s_0050: recording missing" not in text
    assert "and 250 more" in text
    assert "consistency NOT proven" in text


def test_hundreds_of_identities_show_top_n_and_say_how_many_more() -> None:
    figures = samples.big_figures(identities=600, rules=150)
    document = render_html(samples.report(figures))
    page = outline(document)
    assert "and 588 more" in page.text  # 600 identities, 12 bars
    assert "and 188 more" in page.text  # 200 connections
    assert "and 138 more" in page.text  # 150 rules
    bars = [v for tag, k, v in page.attrs if tag == "rect" and k == "class"]
    assert len(bars) <= 7 * 12
    assert len(document) < 200_000


def test_long_labels_are_clipped_in_the_chart_but_kept_in_the_tooltip() -> None:
    figures = samples.figures()
    long = "svc-" + "x" * 300
    figures.sessions_by_identity[long] = 100
    document = render_html(samples.report(figures))
    assert f"<title>{long}: 100</title>" in document
    assert ">svc-" + "x" * (LABEL_CHARS - 5) + "…</text>" in document


def test_empty_period_says_so() -> None:
    from proctor.evidence.model import Figures

    text = outline(render_html(samples.report(Figures()))).text
    assert "No statement was blocked in this period." in text
    assert "No value was masked in this period." in text
    assert "Median time to decision: n/a" in text
