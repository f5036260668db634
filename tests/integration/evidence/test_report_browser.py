"""index.html in a real Chromium: every control section visible, charts drawn, offline.

The report is written to a temp dir with the files it links, opened from ``file://`` with
every network request refused (the report must need none), screenshotted full-page and
inspected through the DOM.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from proctor.evidence.charts import LABEL_CHARS, clip
from proctor.evidence.html import render_html
from proctor.evidence.summary import heading
from tests.unit.evidence import report_samples as samples

pytestmark = pytest.mark.integration


def open_report(browser: Any, directory: Path, html: str) -> tuple[Any, list[str]]:
    (directory / "index.html").write_text(html, encoding="utf-8")
    for name in (*samples.FILES, "manifest.json"):
        (directory / name).write_text("placeholder\n")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requested: list[str] = []

    def refuse(route: Any) -> None:
        # Anything but the report itself is a request the report should not make.
        if route.request.url == (directory / "index.html").as_uri():
            route.continue_()
            return
        requested.append(route.request.url)
        route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    page.goto((directory / "index.html").as_uri())
    return page, requested


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_renders_with_every_control_and_chart(browser: Any, tmp_path: Path) -> None:
    report = samples.report(samples.unicode_figures())
    page, requested = open_report(browser, tmp_path, render_html(report))
    try:
        shot = page.screenshot(full_page=True)
        (tmp_path / "report.png").write_bytes(shot)
        width, height = png_size(shot)
        assert width >= 1000 and height > 3000  # a long page, not a blank viewport
        assert len(shot) > 50_000

        headings = page.locator("h2")
        texts = [t.strip() for t in headings.all_inner_texts()]
        for control in report.controls:
            title = heading(control)
            assert title in texts, title
            assert page.get_by_role("heading", name=title, exact=True).is_visible()
        for cid in samples.CONTROL_IDS:
            assert any(t.startswith(cid + " ") for t in texts), cid

        charts = page.locator("svg.chart")
        assert charts.count() == 7
        for i in range(charts.count()):
            chart = charts.nth(i)
            assert chart.is_visible()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 20
            bars = chart.locator("rect.bar")
            assert bars.count() >= 2
            widths = [bars.nth(j).bounding_box()["width"] for j in range(bars.count())]
            assert max(widths) > 100  # drawn to scale, not collapsed
        assert page.locator("#integrity-status").inner_text().startswith("Integrity verified")
        assert "José Núñez" in page.locator("#chart-sessions-by-identity").inner_text()
        assert "张伟" in page.content()
        assert requested == []  # self-contained: no request beyond the file itself
    finally:
        page.context.close()


def test_links_reach_the_files_of_the_pack(browser: Any, tmp_path: Path) -> None:
    page, _ = open_report(browser, tmp_path, render_html(samples.report()))
    try:
        links = page.locator(".control a")
        assert links.count() > 12
        for href in set(links.evaluate_all("els => els.map(e => e.href)")):
            assert href.startswith(tmp_path.as_uri() + "/"), href
            assert Path(href.removeprefix("file://")).exists(), href
    finally:
        page.context.close()


def test_hostile_names_stay_text_and_big_lists_fit(browser: Any, tmp_path: Path) -> None:
    figures = samples.big_figures(identities=800, rules=300)
    figures.sessions_by_identity[samples.HOSTILE] = 10_000
    figures.sessions_by_identity["svc-" + "x" * 500] = 5_000
    report = samples.report(figures)
    page, requested = open_report(browser, tmp_path, render_html(report))
    try:
        assert page.locator("script").count() == 0
        chart = page.locator("#chart-sessions-by-identity")
        # Shown as text: clipped on the bar's label, whole in the tooltip.
        assert clip(samples.HOSTILE, LABEL_CHARS) in chart.inner_text()
        assert chart.inner_text().count("<script>alert('x')") == 1
        tooltips = chart.locator("g.row > title").all_text_contents()
        assert f"{samples.HOSTILE}: 10000" in tooltips
        # Nothing wider than the viewport: long names wrap or are clipped.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        assert page.locator("#chart-sessions-by-identity rect.bar").count() == 12
        assert "and 790 more" in chart.inner_text()
        page.set_viewport_size({"width": 420, "height": 800})  # a phone: still no overflow
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        assert page.pdf(format="A4").startswith(b"%PDF")  # Chromium's print path works
        assert requested == []
    finally:
        page.context.close()
