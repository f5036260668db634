"""The PDF report: same headings and figures as the HTML, any name printable, big lists cut."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from proctor.evidence.model import Figures
from proctor.evidence.pdf import SYSTEM_FONT_DIRS, find_fonts, render_pdf
from proctor.evidence.summary import heading
from tests.unit.evidence import report_samples as samples

HAS_DEJAVU = "DejaVuSans.ttf" in find_fonts(SYSTEM_FONT_DIRS)


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # Lines wrapped by the layout: join them, so that figures can be searched as one line.
    return re.sub(r"\s+", " ", text)


def outline_titles(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [item.title for item in reader.outline if not isinstance(item, list)]


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return render_pdf(samples.report())


def test_is_a_pdf(sample_pdf: bytes) -> None:
    assert sample_pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(sample_pdf))
    assert len(reader.pages) >= 3
    assert reader.metadata is not None
    assert reader.metadata.title == "Proctor evidence pack, 2026-07-01 to 2026-09-30"


def test_same_headings_as_the_html(sample_pdf: bytes) -> None:
    report = samples.report()
    text = text_of(sample_pdf)
    titles = outline_titles(sample_pdf)
    for control in report.controls:
        assert heading(control) in text
        assert heading(control) in titles
    for cid in samples.CONTROL_IDS:
        assert any(t.startswith(cid + " ") for t in titles)
    for section in ("Scope and period", "Summary", "Integrity", "Evidence files"):
        assert section in titles
    assert titles.index("Integrity") < titles.index("A.5.3 Segregation of duties")


def test_key_figures(sample_pdf: bytes) -> None:
    text = text_of(sample_pdf)
    for line in (
        "Median time to decision: 4m 12s",
        "Blocked statements: 21 (rule no-drop: 12, rule prod-changes-in-business-hours: 6, "
        "rule fail-closed: 3)",
        "Masked values: 5678 (email: 3000, card: 1500, ssn: 900, phone: 278)",
        "Approval requests: 9 (approved: 5, denied: 2, expired: 1, withdrawn: 1)",
        "JIT access grants: 4 (revoked early: 1)",
        "Integrity verified",
        "auditor@acme.example",
        "Sessions per identity",
        "Blocked statements per rule",
        "alice@acme.example 17",
        "no-drop 12",
        "sessions.csv",
        "config_changes.csv",
    ):
        assert line in text, line


def test_integrity_problems(sample_pdf: bytes) -> None:
    text = text_of(render_pdf(samples.report(integrity=samples.integrity_bad())))
    assert "INTEGRITY PROBLEMS: 2 problems found." in text
    assert "s_ab12: chain broken at event 7" in text
    assert "Integrity verified" not in text


def test_hostile_names_are_plain_text() -> None:
    text = text_of(render_pdf(samples.hostile_report()))
    assert "<script>alert('x')</script>" in text
    assert "<b>shop</b>" in text


@pytest.mark.skipif(not HAS_DEJAVU, reason="DejaVu Sans not installed (fonts-dejavu-core)")
def test_unicode_names_with_dejavu() -> None:
    pdf = render_pdf(samples.report(samples.unicode_figures()))
    text = text_of(pdf)
    assert "José Núñez" in text
    assert "Zoë Ångström" in text
    assert "Дмитрий" in text
    assert "règle-née" in text
    # No CJK font on the system: shown as code points, never dropped or boxed.
    if "张" not in text:
        assert "[U+5F20][U+4F1F]" in text
        assert "written as [U+XXXX]" in text


def test_unicode_names_without_any_unicode_font(tmp_path: Path) -> None:
    pdf = render_pdf(samples.report(samples.unicode_figures()), font_dirs=(tmp_path,))
    text = text_of(pdf)
    assert "José Núñez" in text  # Latin-1 fits Helvetica
    assert "[U+5F20][U+4F1F]" in text
    assert "[U+0414]" in text  # Cyrillic D
    assert "A.5.15 Access control" in text
    assert "written as [U+XXXX]" in text


def test_control_characters_never_reach_the_pdf() -> None:
    figures = samples.figures()
    figures.sessions_by_identity["bad\x00name\x1b[31m"] = 99
    text = text_of(render_pdf(samples.report(figures)))
    assert "bad[U+0000]name[U+001B][31m" in text


def test_big_lists_are_cut() -> None:
    figures = samples.big_figures(identities=600, rules=150)
    figures.sessions_by_identity["svc-" + "x" * 400] = 1000
    pdf = render_pdf(samples.report(figures))
    text = text_of(pdf)
    assert "and 589 more" in text  # 601 identities, 12 bars
    assert "and 138 more" in text
    assert "user0599@acme.example" not in text
    assert len(PdfReader(io.BytesIO(pdf)).pages) < 15


def test_empty_period() -> None:
    text = text_of(render_pdf(samples.report(Figures())))
    assert "No statement was blocked in this period." in text
    assert "Median time to decision: n/a" in text
    assert "A.8.16 Monitoring activities" in text
