"""Aggregation over rounds, the Markdown report, machine facts and the JSON file.

Figures per (workload, target) are medians over rounds, except CPU per transaction (or per
MB), which is total proxy CPU over total transactions (or MB) of all rounds. Ratios are paired:
within each round, target ÷ reference for the same workload, then the median of those ratios,
so that slow phases of the machine cancel out instead of favouring whoever ran then.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TARGET_LABELS = {
    "direct": "direct",
    "pgbouncer": "pgbouncer",
    "proctor": "Proctor",
    "proctor-nopolicy": "Proctor (no policy, no masking)",
    "proctor-norecord": "Proctor (recording off)",
}


@dataclass
class Measurement:
    round: int
    workload: str  # "pgbench" | "stream"
    target: str
    clients: int | None = None
    protocol: str | None = None
    ok: bool = True
    error: str | None = None
    tps: float | None = None
    latency_ms: float | None = None
    transactions: int | None = None
    failed: int | None = None
    wall_s: float | None = None
    bytes: int | None = None
    mb_per_s: float | None = None
    proxy_cpu_s: float | None = None
    proxy_user_s: float | None = None  # of proxy_cpu_s, in user space (the rest: the kernel)
    machine_busy_pct: float | None = None
    settle_s: float | None = None  # waited for the machine to go quiet before it (bench.run)

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.workload, self.clients or 0, self.protocol or "")


@dataclass
class Cell:
    """One target on one workload, over all rounds."""

    ok_rounds: int = 0
    errors: list[str] = field(default_factory=list)
    value: float | None = None  # median TPS, or median MB/s
    value_min: float | None = None
    value_max: float | None = None
    latency_ms: float | None = None  # median, pgbench only
    cpu_per_unit: float | None = None  # proxy CPU µs per transaction, or ms per MB
    user_per_unit: float | None = None  # the user-space part of it


def _metric(m: Measurement) -> float | None:
    return m.tps if m.workload == "pgbench" else m.mb_per_s


def summarize_cell(ms: Sequence[Measurement]) -> Cell:
    cell = Cell()
    ok = [m for m in ms if m.ok and _metric(m) is not None]
    cell.errors = [m.error or "failed" for m in ms if not m.ok]
    cell.ok_rounds = len(ok)
    if not ok:
        return cell
    values = [v for m in ok if (v := _metric(m)) is not None]
    cell.value = statistics.median(values)
    cell.value_min, cell.value_max = min(values), max(values)
    lats = [m.latency_ms for m in ok if m.latency_ms is not None]
    cell.latency_ms = statistics.median(lats) if lats else None
    with_cpu = [m for m in ok if m.proxy_cpu_s is not None]
    if with_cpu:
        cpu = sum(m.proxy_cpu_s or 0.0 for m in with_cpu)
        with_user = [m for m in with_cpu if m.proxy_user_s is not None]
        user = sum(m.proxy_user_s or 0.0 for m in with_user)
        if ok[0].workload == "pgbench":
            tx = sum(m.transactions or 0 for m in with_cpu)
            cell.cpu_per_unit = cpu / tx * 1e6 if tx else None  # µs per transaction
            tx = sum(m.transactions or 0 for m in with_user)
            cell.user_per_unit = user / tx * 1e6 if tx else None
        else:
            mb = sum((m.bytes or 0) / 1e6 for m in with_cpu)
            cell.cpu_per_unit = cpu / mb * 1e3 if mb else None  # ms per MB
            mb = sum((m.bytes or 0) / 1e6 for m in with_user)
            cell.user_per_unit = user / mb * 1e3 if mb else None
    return cell


def paired_ratio(ms: Sequence[Measurement], target: str, reference: str) -> float | None:
    """Median over rounds of metric(target) / metric(reference), same round only."""
    by_round: dict[int, dict[str, float]] = {}
    for m in ms:
        v = _metric(m)
        if m.ok and v:
            by_round.setdefault(m.round, {})[m.target] = v
    ratios = [r[target] / r[reference] for r in by_round.values() if target in r and reference in r]
    return statistics.median(ratios) if ratios else None


@dataclass
class Summary:
    workload: str
    clients: int
    protocol: str
    cells: dict[str, Cell]
    ratios: dict[str, float | None]  # "pgbouncer/direct", "proctor/direct", "proctor/pgbouncer"


STREAM_LABELS = {
    "plain": "no sensitive-looking column",
    "cards": "card number in 1 row of 3",
}
RATIO_PAIRS = (
    ("pgbouncer", "direct"),
    ("proctor", "direct"),
    ("proctor", "pgbouncer"),
    ("proctor-nopolicy", "direct"),
    ("proctor", "proctor-norecord"),
)


def summarize(measurements: Iterable[Measurement], targets: Sequence[str]) -> list[Summary]:
    groups: dict[tuple[str, int, str], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault(m.key, []).append(m)
    out = []
    for key in sorted(groups, key=lambda k: (k[0] != "pgbench", k[1], _proto_order(k[2]))):
        ms = groups[key]
        cells = {t: summarize_cell([m for m in ms if m.target == t]) for t in targets}
        ratios = {f"{a}/{b}": paired_ratio(ms, a, b) for a, b in RATIO_PAIRS}
        out.append(Summary(key[0], key[1], key[2], cells, ratios))
    return out


def _proto_order(p: str) -> int:
    order = ("simple", "extended", "prepared")
    return order.index(p) if p in order else len(order)


# --------------------------------------------------------------------------- Markdown


def _num(v: float | None, fmt: str = "{:,.0f}") -> str:
    return "—" if v is None else fmt.format(v)


def _ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def _cell_value(cell: Cell | None, skipped: str | None, fmt: str) -> str:
    if skipped is not None:
        return "skipped"
    if cell is None or cell.value is None:
        return "failed" if cell and cell.errors else "—"
    return fmt.format(cell.value)


def _table(header: list[str], align: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]


def markdown(
    summaries: Sequence[Summary],
    targets: Sequence[str],
    skipped: dict[str, str],
    header: dict[str, Any],
) -> str:
    """Tables for the run. Skipped targets keep their column (saying "skipped"); ratios and
    CPU columns appear only for targets that are in the run or skipped."""
    cols = [t for t in TARGET_LABELS if t in targets or t in skipped]
    pairs = [(a, b) for a, b in RATIO_PAIRS if a in cols and b in cols]
    proxies = [t for t in cols if t != "direct"]
    labels = [TARGET_LABELS[t] for t in cols]
    ratio_heads = [f"{TARGET_LABELS[a]} ÷ {TARGET_LABELS[b]}" for a, b in pairs]
    proxy_names = " / ".join(TARGET_LABELS[t] for t in proxies)

    def ratios(s: Summary) -> list[str]:
        return [_ratio(s.ratios[f"{a}/{b}"]) for a, b in pairs]

    def per_target(s: Summary, which: Sequence[str], attr: str, fmt: str) -> str:
        return " / ".join(
            "—" if t in skipped else _num(getattr(s.cells.get(t), attr, None), fmt) for t in which
        )

    lines = [f"### Run of {header['date']}", ""]
    lines += [f"- {k}: {v}" for k, v in header.get("facts", {}).items()]
    lines.append("")
    pg = [s for s in summaries if s.workload == "pgbench"]
    if pg:
        head = ["clients", "protocol", *(f"{x} TPS" for x in labels), *ratio_heads]
        head.append(f"avg latency ms ({' / '.join(labels)})")
        if proxies:
            head.append(f"proxy CPU µs/tx ({proxy_names})")
            head.append(f"of which user space ({proxy_names})")
        rows = []
        for s in pg:
            row = [str(s.clients), s.protocol]
            row += [_cell_value(s.cells.get(t), skipped.get(t), "{:,.0f}") for t in cols]
            row += ratios(s)
            row.append(per_target(s, cols, "latency_ms", "{:.3f}"))
            if proxies:
                row.append(per_target(s, proxies, "cpu_per_unit", "{:.0f}"))
                row.append(per_target(s, proxies, "user_per_unit", "{:.0f}"))
            rows.append(row)
        lines += ["#### pgbench -S (select-only)", ""]
        lines += _table(head, ["r", "l"] + ["r"] * (len(head) - 2), rows)
    st = [s for s in summaries if s.workload == "stream"]
    if st:
        head = ["result", *(f"{x} MB/s" for x in labels), *ratio_heads]
        if proxies:
            head.append(f"proxy CPU ms/MB ({proxy_names})")
            head.append(f"of which user space ({proxy_names})")
        rows = []
        for s in st:
            row = [STREAM_LABELS.get(s.protocol, s.protocol or "-")]
            row += [_cell_value(s.cells.get(t), skipped.get(t), "{:,.1f}") for t in cols]
            row += ratios(s)
            if proxies:
                row.append(per_target(s, proxies, "cpu_per_unit", "{:.1f}"))
                row.append(per_target(s, proxies, "user_per_unit", "{:.1f}"))
            rows.append(row)
        lines += [f"#### Large result to psql ({header.get('stream_mb')} MB of DataRows)", ""]
        lines += _table(head, ["l"] + ["r"] * (len(head) - 1), rows)
    for t, why in skipped.items():
        lines.append(f"- {TARGET_LABELS[t]} skipped: {why}")
    errors = [
        (s, t, e)
        for s in summaries
        for t, c in s.cells.items()
        for e in dict.fromkeys(c.errors)  # distinct, in order
    ]
    for s, t, e in errors[:20]:
        what = f"pgbench c={s.clients} {s.protocol}" if s.workload == "pgbench" else "stream"
        lines.append(f"- {TARGET_LABELS[t]} failed on {what}: {e.splitlines()[0][:300]}")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- machine facts


def _first_line(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0].strip() if proc.returncode == 0 and text else None


def machine_facts(pgbench: str, pgbouncer: str, proctor: str) -> dict[str, Any]:
    model = None
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    if m := re.search(r"^Model name:\s*(.+)$", lscpu, re.M):
        model = m.group(1).strip()
    return {
        "cpus_online": os.cpu_count(),
        "nproc": _first_line(["nproc", "--all"]),  # all: `--pin` narrows our own affinity
        "cpu_model": model,
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "pgbench": _first_line([pgbench, "--version"]),
        "pgbouncer": _first_line([pgbouncer, "--version"]),
        "proctor": _first_line([proctor, "--version"]),
        "git": _first_line(["git", "describe", "--always", "--dirty"]),
        "hot_path": _hot_path(),
    }


def _hot_path() -> str:
    """Whether the gateway's compiled hot path is built and current (the gateway started by
    the harness imports the same tree)."""
    import proctor

    decision = proctor.HOT_PATH
    return decision.reason if decision.compiled else f"interpreted ({decision.reason})"


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")


def _jsonable(o: object) -> Any:
    if hasattr(o, "__dataclass_fields__"):
        return asdict(o)  # type: ignore[call-overload]
    return str(o)
