"""Horizontal bar charts as inline SVG: no script, no external asset, prints as vectors.

Labels come from users (identity, connection and rule names), so every text is escaped and
long labels are cut to fit the label column (the full name stays in a ``<title>`` tooltip).
The chart scales with its container through ``viewBox``; bars are ``<rect class="bar">``.
"""

from __future__ import annotations

from html import escape

from proctor.evidence.summary import Chart

# Sized for a chart ~440 px wide (two per row on a laptop), where 12 px text stays 12 px.
WIDTH = 440
LABEL_WIDTH = 180
VALUE_WIDTH = 45
ROW = 22
BAR = 14
PAD = 4
# About 6.5 px per character at 12 px: what fits in the label column.
LABEL_CHARS = 24


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart_svg(chart: Chart) -> str:
    """An ``<svg>`` with one row per bar of ``chart.bars``, plus a "and K more" row."""
    bars = chart.bars
    rows = len(bars.shown) + (1 if bars.more else 0)
    height = rows * ROW + 2 * PAD
    peak = max((n for _, n in bars.shown), default=0) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    label = escape(chart.title)
    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{label}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" data-chart="{escape(chart.key)}">',
        f"<title>{label}</title>",
    ]
    for i, (name, count) in enumerate(bars.shown):
        y = PAD + i * ROW
        mid = y + ROW / 2
        width = round(span * count / peak, 1)
        if count and width < 1:
            width = 1.0  # a non-zero count always shows
        full = escape(name)
        out.append(
            f'<g class="row"><title>{full}: {count}</title>'
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{mid}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(clip(name, LABEL_CHARS))}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + (ROW - BAR) / 2}" width="{width}" '
            f'height="{BAR}" fill="{escape(chart.color)}"/>'
            f'<text class="value" x="{LABEL_WIDTH + width + 6}" y="{mid}" '
            f'dominant-baseline="middle">{count}</text></g>'
        )
    if bars.more:
        more_y = PAD + len(bars.shown) * ROW + ROW / 2
        out.append(
            f'<text class="more" x="{LABEL_WIDTH}" y="{more_y}" dominant-baseline="middle">'
            f"and {bars.more} more ({bars.more_total} in total)</text>"
        )
    out.append("</svg>")
    return "".join(out)
