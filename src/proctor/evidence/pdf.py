"""The evidence report as a PDF (fpdf2): the same sections, headings and figures as the HTML.

Fonts. fpdf2 bundles no Unicode font, and its core fonts (Helvetica) only encode Latin-1,
while identity and rule names may carry accents or CJK. So: DejaVu Sans from the system
(``fonts-dejavu-core`` on Debian, found under ``/usr/share/fonts``) when present, embedded
and subset, covering Latin, Greek, Cyrillic and more; plus, when the system has one, a CJK
font (Noto Sans CJK, WenQuanYi, Droid Sans Fallback) as fpdf2's fallback font. Without
DejaVu we fall back to Helvetica. Whatever the fonts cannot show is never passed to fpdf2
(it would fail on Latin-1 or print empty boxes): ``_Text.clean`` first tries the character's
compatibility decomposition (``é`` → ``e``, ``…`` → ``...``), then writes it as ``[U+4E2D]``,
which stays unambiguous; the report then says so and points to the CSV files and
``index.html``, which carry every name exactly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont

from proctor.evidence import summary
from proctor.evidence.model import ControlEvidence, Report

SYSTEM_FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
)
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
CJK_FONTS = (
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "DroidSansFallbackFull.ttf",
    "DroidSansFallback.ttf",
)
FONT_SUFFIXES = {".ttf", ".ttc", ".otf"}
# Typographic punctuation Helvetica cannot encode, and what to print instead.
PLAIN = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)

PROBLEM_LIMIT = 50
MARGIN = 15.0
LINE = 5.0


def find_fonts(dirs: Sequence[Path]) -> dict[str, Path]:
    """Font files under ``dirs`` by file name (the first found wins)."""
    found: dict[str, Path] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*")):
            if path.suffix.lower() in FONT_SUFFIXES and path.name not in found:
                found[path.name] = path
    return found


class _Text:
    """Makes any text printable with the fonts actually loaded."""

    def __init__(self, covered: set[int] | None) -> None:
        self.covered = covered  # None: the core font (Latin-1)
        self.replaced = False

    def _ok(self, char: str) -> bool:
        code = ord(char)
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return char == "\n"
        if self.covered is None:
            return 0x20 <= code <= 0xFF
        return code in self.covered

    def clean(self, text: str) -> str:
        if self.covered is None:
            text = text.translate(PLAIN)
        out = []
        for char in text:
            if self._ok(char):
                out.append(char)
                continue
            decomposed = unicodedata.normalize("NFKD", char)
            kept = "".join(
                c for c in decomposed if not unicodedata.combining(c) and c != char and self._ok(c)
            )
            if kept:
                out.append(kept)
            else:
                out.append(f"[U+{ord(char):04X}]")
            self.replaced = True
        return "".join(out)


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.body_font = "helvetica"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.body_font, "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.footer_text}   ·   page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _load_fonts(pdf: _Pdf, dirs: Sequence[Path]) -> _Text:
    fonts = find_fonts(dirs)
    if REGULAR not in fonts or BOLD not in fonts:
        # No Unicode font on this system: Helvetica, and Latin-1 only (see the module doc).
        return _Text(None)
    pdf.add_font("dejavu", "", str(fonts[REGULAR]))
    pdf.add_font("dejavu", "B", str(fonts[BOLD]))
    pdf.body_font = "dejavu"
    covered = _cmap(pdf, "dejavu") & _cmap(pdf, "dejavuB")
    for name in CJK_FONTS:
        if name not in fonts:
            continue
        try:
            pdf.add_font("cjk", "", str(fonts[name]))
        except Exception:  # noqa: S112 - an unreadable optional font only costs glyphs
            continue
        pdf.set_fallback_fonts(["cjk"], exact_match=False)
        covered |= _cmap(pdf, "cjk")
        break
    return _Text(covered)


def _cmap(pdf: FPDF, key: str) -> set[int]:
    font = pdf.fonts[key]
    return set(font.cmap) if isinstance(font, TTFFont) else set()


def _hex(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


class _Writer:
    """Lays the report out on A4 pages, top to bottom."""

    def __init__(self, report: Report, font_dirs: Sequence[Path]) -> None:
        self.report = report
        self.pdf = _Pdf(summary.title(report.scope))
        self.text = _load_fonts(self.pdf, font_dirs)
        pdf = self.pdf
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(True, margin=18)
        pdf.set_title(self.text.clean(summary.title(report.scope)))
        pdf.set_author("Proctor")
        pdf.set_subject(f"Evidence for {summary.STANDARD} Annex A controls")
        pdf.set_creator("Proctor evidence export")
        if report.scope.generated_at is not None:
            pdf.set_creation_date(report.scope.generated_at)
        pdf.add_page()

    # -- primitives -------------------------------------------------------------------------

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.pdf.body_font, "B" if bold else "", size)

    def para(self, text: str, size: float = 10, bold: bool = False, gap: float = 1.5) -> None:
        self.font(size, bold)
        self.pdf.multi_cell(
            0, LINE, self.text.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
        )
        self.pdf.ln(gap)

    def bullets(self, lines: Iterable[str], size: float = 10) -> None:
        pdf = self.pdf
        self.font(size)
        for line in lines:
            pdf.set_x(MARGIN + 2)
            pdf.cell(4, LINE, "-")
            # A multi_cell is a box from the current x: wrapped lines stay indented.
            pdf.multi_cell(
                0, LINE, self.text.clean(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
            )
        pdf.ln(1.5)

    def keep(self, height: float) -> None:
        """Start a new page unless ``height`` mm still fit on this one."""
        if self.pdf.will_page_break(height):
            self.pdf.add_page()

    def heading(self, text: str, bookmark: bool = True) -> None:
        pdf = self.pdf
        self.keep(30)
        pdf.ln(3)
        clean = self.text.clean(text)
        if bookmark:
            pdf.start_section(clean)
        self.font(14, bold=True)
        pdf.multi_cell(0, 7, clean, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        pdf.set_draw_color(200, 205, 210)
        pdf.line(MARGIN, pdf.get_y() + 0.5, pdf.w - MARGIN, pdf.get_y() + 0.5)
        pdf.ln(3)

    def fit(self, text: str, width: float) -> str:
        """``text`` cut (with "...") to fit ``width`` mm in the current font."""
        clean = self.text.clean(text)
        if self.pdf.get_string_width(clean) <= width:
            return clean
        while clean and self.pdf.get_string_width(clean + "...") > width:
            clean = clean[:-1]
        return clean + "..."

    def status(self) -> None:
        integrity = self.report.integrity
        pdf = self.pdf
        if integrity.ok:
            pdf.set_fill_color(232, 245, 236)
            pdf.set_text_color(31, 122, 61)
        else:
            pdf.set_fill_color(253, 236, 236)
            pdf.set_text_color(166, 27, 27)
        self.font(12 if integrity.ok else 13, bold=True)
        pdf.multi_cell(
            0,
            8,
            self.text.clean(summary.integrity_status(integrity)),
            fill=True,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            align="L",
            padding=2,
        )
        pdf.set_text_color(0, 0, 0)
        pdf.ln(3)

    # -- sections ---------------------------------------------------------------------------

    def title(self) -> None:
        self.para(summary.title(self.report.scope), size=18, bold=True, gap=1)
        self.para(
            f"Evidence for {summary.STANDARD} Annex A controls, produced by the Proctor "
            "gateway from its own records. The CSV and JSON files of the pack hold every row "
            "behind these figures.",
            size=10,
        )
        self.status()

    def scope(self) -> None:
        self.heading("Scope and period")
        self.pairs(summary.scope_lines(self.report.scope))

    def pairs(self, rows: Iterable[tuple[str, str]]) -> None:
        pdf = self.pdf
        for label, value in rows:
            self.keep(LINE * 2)
            y = pdf.get_y()
            self.font(10, bold=True)
            pdf.multi_cell(
                48, LINE, self.text.clean(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
            )
            below = pdf.get_y()
            pdf.set_xy(MARGIN + 50, y)
            self.font(10)
            pdf.multi_cell(
                0, LINE, self.text.clean(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
            )
            pdf.set_y(max(below, pdf.get_y()) + 0.8)
        pdf.ln(2)

    def summary_section(self) -> None:
        self.heading("Summary")
        self.pairs(summary.headline(self.report.figures))
        for chart in summary.charts(self.report.figures):
            self.chart(chart)

    def chart(self, chart: summary.Chart) -> None:
        pdf = self.pdf
        bars = chart.bars
        rows = len(bars.shown) + (1 if bars.more else 0)
        self.keep(min(12 + rows * 6, 80))
        self.font(11, bold=True)
        pdf.multi_cell(0, 6, self.text.clean(chart.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        label_w, value_w = 70.0, 18.0
        span = pdf.epw - label_w - value_w - 4
        peak = max((n for _, n in bars.shown), default=0) or 1
        self.font(9)
        if bars.empty:
            pdf.set_text_color(90, 100, 110)
            pdf.multi_cell(
                0, LINE, self.text.clean(chart.empty), new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
            pdf.set_text_color(0, 0, 0)
        for name, count in bars.shown:
            self.keep(6)
            y = pdf.get_y()
            pdf.set_x(MARGIN)
            pdf.cell(label_w - 2, 5, self.fit(name, label_w - 3), align="R")
            width = max(span * count / peak, 0.6 if count else 0.0)
            pdf.set_fill_color(*_hex(chart.color))
            if width:
                pdf.rect(MARGIN + label_w, y + 0.8, width, 3.6, style="F")
            pdf.set_xy(MARGIN + label_w + width + 1.5, y)
            pdf.cell(value_w, 5, str(count))
            pdf.set_xy(MARGIN, y + 5.5)
        if bars.more:
            pdf.set_x(MARGIN + label_w)
            pdf.set_text_color(90, 100, 110)
            pdf.cell(
                0,
                5,
                f"and {bars.more} more ({bars.more_total} in total)",
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
            pdf.set_text_color(0, 0, 0)
        if chart.note:
            pdf.set_text_color(90, 100, 110)
            self.font(9)
            pdf.multi_cell(
                0, LINE, self.text.clean(chart.note), new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
            pdf.set_text_color(0, 0, 0)
        pdf.ln(4)

    def integrity(self) -> None:
        report = self.report
        self.heading("Integrity")
        self.status()
        self.bullets(summary.integrity_lines(report.integrity, report.figures))
        problems = report.integrity.problems
        if problems:
            self.para("Problems", size=11, bold=True, gap=0.5)
            shown = list(problems[:PROBLEM_LIMIT])
            if len(problems) > len(shown):
                shown.append(f"and {len(problems) - len(shown)} more: see integrity.json")
            self.pdf.set_text_color(166, 27, 27)
            self.bullets(shown, size=9)
            self.pdf.set_text_color(0, 0, 0)
        self.para(
            "Every recording of the period was checked against the public keys; details per "
            "session are in integrity.json.",
            size=9,
        )

    def control(self, control: ControlEvidence) -> None:
        self.heading(summary.heading(control))
        for label, text in (
            ("What the control asks", control.asks),
            ("How Proctor meets it", control.how),
        ):
            self.para(label, size=10, bold=True, gap=0)
            self.para(text, size=10, gap=2)
        self.para("Evidence files", size=10, bold=True, gap=0)
        self.bullets(control.files)
        self.para("Figures", size=10, bold=True, gap=0)
        self.bullets(control.figures)

    def files(self) -> None:
        self.heading("Evidence files")
        if not self.report.files:
            self.para("No files listed.")
        self.pairs(self.report.files.items())
        self.para(
            "Check this pack with 'proctor evidence verify DIR': it verifies the gateway's "
            "signature on manifest.json and the SHA-256 of every file.",
            size=9,
        )

    def write(self) -> bytes:
        self.title()
        self.scope()
        self.summary_section()
        self.integrity()
        for control in self.report.controls:
            self.control(control)
        self.files()
        if self.text.replaced:
            self.para(
                "Some characters cannot be shown with the fonts available to this PDF and are "
                "written as [U+XXXX] (their Unicode code point), or without accents. The CSV "
                "files and index.html carry every name exactly.",
                size=8,
            )
        return bytes(self.pdf.output())


def render_pdf(report: Report, *, font_dirs: Sequence[Path] = SYSTEM_FONT_DIRS) -> bytes:
    """The report as PDF bytes. ``font_dirs``: where to look for DejaVu Sans (and a CJK
    fallback); with none found the PDF uses Helvetica and Latin-1 text."""
    return _Writer(report, font_dirs).write()
