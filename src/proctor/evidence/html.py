"""The evidence pack's ``index.html``: one self-contained file an auditor opens offline.

No script, no external asset: CSS and SVG charts are inline, so the report renders the same
from a zip on an air-gapped laptop and prints cleanly (each control on its own block, links
kept as text). Identity, connection and rule names come from users: every text goes through
``escape`` (``_e``) and file links are URL-quoted relative hrefs to the pack's own files.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from proctor.evidence import summary
from proctor.evidence.charts import bar_chart_svg
from proctor.evidence.model import ControlEvidence, Report

# Problems listed in full up to this many; the rest are in integrity.json.
PROBLEM_LIMIT = 50

CSS = """
:root { color-scheme: light; --ink: #1d2329; --muted: #5b6670; --line: #d7dde2;
  --ok: #1f7a3d; --ok-bg: #e8f5ec; --bad: #a61b1b; --bad-bg: #fdecec; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
section { margin: 28px 0; }
p, li, td, th, dd, figcaption { overflow-wrap: anywhere; }
.lead { color: var(--muted); margin: 0 0 12px; }
.status { font-weight: 700; padding: 10px 14px; border-radius: 6px; margin: 12px 0; }
.status.ok { color: var(--ok); background: var(--ok-bg); border: 1px solid var(--ok); }
.status.bad { color: var(--bad); background: var(--bad-bg); border: 2px solid var(--bad);
  font-size: 17px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px;
  border-bottom: 1px solid var(--line); }
th { width: 30%; color: var(--muted); font-weight: 600; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
  gap: 10px; margin-bottom: 18px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.tile .k { color: var(--muted); font-size: 13px; }
.tile .v { font-size: 20px; font-weight: 700; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr));
  gap: 16px; align-items: start; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  break-inside: avoid; page-break-inside: avoid; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px;
  font-family: system-ui, "DejaVu Sans", sans-serif; }
svg.chart text { fill: var(--ink); }
svg.chart .more { fill: var(--muted); font-style: italic; }
.note, .empty { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
.problems li { color: var(--bad); font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: 13px; }
nav ol { columns: 2; margin: 0; }
.control { border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px;
  break-inside: avoid; page-break-inside: avoid; }
.control dt { font-weight: 600; margin-top: 8px; }
.control dd { margin: 2px 0 0 0; }
.control ul { margin: 2px 0; padding-left: 20px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
footer { color: var(--muted); font-size: 13px; border-top: 1px solid var(--line);
  padding-top: 10px; }
@media (max-width: 560px) { .charts { grid-template-columns: 1fr; } nav ol { columns: 1; }
  th { width: 40%; } }
@media print {
  @page { margin: 14mm; }
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  .charts { grid-template-columns: 1fr 1fr; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _href(name: str) -> str:
    # A relative link to a file of the pack (never a scheme or a path outside it).
    return _e(quote(name, safe=""))


def _anchor(control: ControlEvidence) -> str:
    return "control-" + "".join(c if c.isalnum() else "-" for c in control.id)


def _status(report: Report, element_id: str = "") -> str:
    css = "ok" if report.integrity.ok else "bad"
    text = _e(summary.integrity_status(report.integrity))
    attr = f' id="{element_id}"' if element_id else ""
    return f'<p class="status {css}"{attr}>{text}</p>'


def _scope(report: Report) -> str:
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in summary.scope_lines(report.scope)
    )
    return f'<section id="scope"><h2>Scope and period</h2><table>{rows}</table></section>'


def _contents(report: Report) -> str:
    items = [
        '<li><a href="#summary">Summary</a></li>',
        '<li><a href="#integrity">Integrity</a></li>',
    ]
    items += [
        f'<li><a href="#{_anchor(c)}">{_e(summary.heading(c))}</a></li>' for c in report.controls
    ]
    items.append('<li><a href="#files">Evidence files</a></li>')
    return f'<nav id="contents"><h2>Contents</h2><ol>{"".join(items)}</ol></nav>'


def _summary(report: Report) -> str:
    tiles = "".join(
        f'<div class="tile"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>'
        for k, v in summary.headline(report.figures)
    )
    figures = []
    for chart in summary.charts(report.figures):
        body = (
            f'<p class="empty">{_e(chart.empty)}</p>' if chart.bars.empty else bar_chart_svg(chart)
        )
        note = f'<p class="note">{_e(chart.note)}</p>' if chart.note else ""
        figures.append(
            f'<figure id="chart-{_e(chart.key)}"><figcaption>{_e(chart.title)}</figcaption>'
            f"{body}{note}</figure>"
        )
    return (
        f'<section id="summary"><h2>Summary</h2><div class="tiles">{tiles}</div>'
        f'<div class="charts">{"".join(figures)}</div></section>'
    )


def _integrity(report: Report) -> str:
    integrity = report.integrity
    lines = "".join(
        f"<li>{_e(line)}</li>" for line in summary.integrity_lines(integrity, report.figures)
    )
    problems = ""
    if integrity.problems:
        shown = integrity.problems[:PROBLEM_LIMIT]
        items = "".join(f"<li>{_e(p)}</li>" for p in shown)
        rest = len(integrity.problems) - len(shown)
        if rest:
            items += f"<li>and {rest} more: see <a href='integrity.json'>integrity.json</a></li>"
        problems = f'<h3>Problems</h3><ul class="problems">{items}</ul>'
    css = "ok" if integrity.ok else "bad"
    return (
        f'<section id="integrity" class="integrity {css}"><h2>Integrity</h2>{_status(report)}'
        f'<ul>{lines}</ul>{problems}<p class="note">Every recording of the period was checked '
        f'against the public keys; details per session are in <a href="integrity.json">'
        f"integrity.json</a>.</p></section>"
    )


def _control(control: ControlEvidence) -> str:
    files = "".join(f'<li><a href="{_href(name)}">{_e(name)}</a></li>' for name in control.files)
    figures = "".join(f"<li>{_e(line)}</li>" for line in control.figures)
    return (
        f'<section class="control" id="{_anchor(control)}">'
        f"<h2>{_e(summary.heading(control))}</h2><dl>"
        f"<dt>What the control asks</dt><dd>{_e(control.asks)}</dd>"
        f"<dt>How Proctor meets it</dt><dd>{_e(control.how)}</dd>"
        f'<dt>Evidence files</dt><dd><ul class="files">{files}</ul></dd>'
        f'<dt>Figures</dt><dd><ul class="figures">{figures}</ul></dd>'
        "</dl></section>"
    )


def _files(report: Report) -> str:
    rows = "".join(
        f'<tr><th><a href="{_href(name)}">{_e(name)}</a></th><td>{_e(text)}</td></tr>'
        for name, text in report.files.items()
    )
    table = f"<table>{rows}</table>" if rows else '<p class="empty">No files listed.</p>'
    return f'<section id="files"><h2>Evidence files</h2>{table}</section>'


def render_html(report: Report) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    title = _e(summary.title(report.scope))
    controls = "".join(_control(c) for c in report.controls)
    intro = (
        f'<p class="lead">Evidence for {_e(summary.STANDARD)} Annex A controls, produced by '
        "the Proctor gateway from its own records. The figures below cover the period and "
        "connections in scope; the CSV and JSON files hold every row behind them.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{title}</h1>{intro}{_status(report, 'integrity-status')}</header>"
        f"{_scope(report)}{_contents(report)}{_summary(report)}{_integrity(report)}"
        f'<div id="controls">{controls}</div>{_files(report)}'
        "<footer>Check this pack with <code>proctor evidence verify DIR</code>: it verifies the "
        "gateway's signature on manifest.json and the SHA-256 of every file.</footer>"
        "</main></body></html>\n"
    )
