"""Masking speed: per-cell latency, text throughput, and what the row prefilter saves.

    .venv/bin/python -m bench.masking_speed                 # full run (~1 minute)
    .venv/bin/python -m bench.masking_speed --rows 100000   # smaller prefilter run
    .venv/bin/python -m bench.masking_speed --backend re    # the pure-Python scanner

1. Per-cell: ``plan.mask_cell`` on short cells (names, e-mails, cards, ids, dates, notes),
   p50/p90 over all cells and over the cells that get masked.
2. Text: ``mask_text`` over log lines (MB/s), one line at a time and as one 2 MB text, and
   ``StreamMasker`` over 4 KiB chunks.
3. Prefilter: a synthetic result of N rows (PostgreSQL DataRow framing, 64 KiB receive
   buffers; columns id int, memo text, amount numeric, created_at timestamptz), a card
   number in 1/3 of the memos. "Per row" decodes and masks every memo cell; "prefilter" asks
   ``plan.candidate_rows`` per buffer and touches only those rows. Both walk the framing with
   ``struct.unpack_from``, as the gateway does.
"""

from __future__ import annotations

import argparse
import random
import statistics
import struct
import sys
import time
from collections.abc import Sequence

from bench.masking_quality import Gen, gen_logs
from proctor.masking import ColumnInfo, Masker, Profile, StreamMasker, TypeCategory

T = TypeCategory


def per_cell(masker: Masker, n: int) -> dict[str, float]:
    g = Gen(3)
    makers = [g.name, g.email, g.card, g.order_id, g.timestamp, g.uuid, g.version, g.phone,
              lambda: f"note {g.r.randint(0, 999)}", lambda: "shipped", g.ip]  # fmt: skip
    values = [g.pick(makers)() for _ in range(n)]
    plan = masker.plan_columns([ColumnInfo("memo")])
    for v in values[:200]:
        plan.mask_cell(0, v)  # warm caches
    times, masked = [], []
    clock = time.perf_counter_ns
    for v in values:
        t0 = clock()
        out = plan.mask_cell(0, v)
        dt = clock() - t0
        times.append(dt)
        if out is not v:
            masked.append(dt)
    q = statistics.quantiles(times, n=10)
    return {
        "p50_us": statistics.median(times) / 1000,
        "p90_us": q[8] / 1000,
        "p50_masked_us": statistics.median(masked) / 1000 if masked else 0.0,
        "p50_clean_us": statistics.median([t for t in times if t not in set(masked)]) / 1000,
        "masked_fraction": len(masked) / len(times),
    }


def text_throughput(masker: Masker, mb: float) -> dict[str, float]:
    g = Gen(4)
    lines: list[str] = []
    size = 0
    while size < mb * 1_000_000:
        for item in gen_logs(g, 500):
            lines.append(item.text)
            size += len(item.text) + 1
    text = "\n".join(lines)
    nbytes = len(text.encode())
    t0 = time.perf_counter()
    for line in lines:
        masker.mask_text(line)
    per_line = nbytes / (time.perf_counter() - t0) / 1e6
    t0 = time.perf_counter()
    masker.mask_text(text)
    whole = nbytes / (time.perf_counter() - t0) / 1e6
    sm = StreamMasker(masker)
    t0 = time.perf_counter()
    for i in range(0, len(text), 4096):
        sm.feed(text[i : i + 4096])
    sm.flush()
    stream = nbytes / (time.perf_counter() - t0) / 1e6
    return {"lines_MBps": per_line, "whole_MBps": whole, "stream_MBps": stream, "MB": nbytes / 1e6}


def datarow(cells: Sequence[bytes | None]) -> bytes:
    body = bytearray(struct.pack("!h", len(cells)))
    for c in cells:
        body += struct.pack("!i", -1) if c is None else struct.pack("!i", len(c)) + c
    return b"D" + struct.pack("!i", len(body) + 4) + bytes(body)


def result_buffers(rows: int, seed: int = 9) -> list[bytes]:
    r = random.Random(seed)
    cards = ["4111 1111 1111 1111", "5555555555554444", "378282246310005", "6011111111111117"]
    bufs, cur = [], bytearray()
    for i in range(rows):
        memo = r.choice(cards) if i % 3 == 0 else f"order note {r.randint(0, 10**6)} shipped"
        cur += datarow([str(i).encode(), memo.encode(), f"{r.randint(1, 99999)}.{i % 100:02d}".encode(),  # noqa: E501
                        b"2024-01-15 10:30:00.123456+00"])  # fmt: skip
        if len(cur) >= 65536:
            bufs.append(bytes(cur))
            cur = bytearray()
    if cur:
        bufs.append(bytes(cur))
    return bufs


def walk(buf: bytes) -> tuple[list[int], list[int]]:
    """Row ends and the offset of each row's first cell, like the gateway's walker."""
    ends, starts = [], []
    pos = 0
    n = len(buf)
    unpack = struct.unpack_from
    while pos < n:
        (length,) = unpack("!i", buf, pos + 1)
        starts.append(pos + 7)
        pos += 1 + length
        ends.append(pos)
    return ends, starts


def cells_of(buf: bytes, start: int, ncols: int) -> list[tuple[int, int]]:
    out = []
    pos = start
    unpack = struct.unpack_from
    for _ in range(ncols):
        (n,) = unpack("!i", buf, pos)
        pos += 4
        out.append((pos, n))
        if n > 0:
            pos += n
    return out


def prefilter(masker: Masker, rows: int) -> dict[str, float]:
    bufs = result_buffers(rows)
    plan = masker.plan_columns(
        [
            ColumnInfo("id", T.NUMERIC),
            ColumnInfo("memo"),
            ColumnInfo("amount", T.NUMERIC),
            ColumnInfo("created_at", T.DATE),
        ]
    )
    assert plan.scan_columns == (1,), plan.modes
    mb = sum(map(len, bufs)) / 1e6

    def per_row() -> int:
        masked = 0
        for buf in bufs:
            _, starts = walk(buf)
            for s in starts:
                off, n = cells_of(buf, s, 4)[1]
                value = buf[off : off + n].decode()
                if plan.mask_cell(1, value) is not value:
                    masked += 1
        return masked

    def filtered() -> int:
        masked = 0
        for buf in bufs:
            ends, starts = walk(buf)
            for r in plan.candidate_rows(buf, ends):
                off, n = cells_of(buf, starts[r], 4)[1]
                value = buf[off : off + n].decode()
                if plan.mask_cell(1, value) is not value:
                    masked += 1
        return masked

    def walk_only() -> None:
        for buf in bufs:
            walk(buf)

    t0 = time.perf_counter()
    walk_only()
    t_walk = time.perf_counter() - t0
    t0 = time.perf_counter()
    a = per_row()
    t_row = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = filtered()
    t_filter = time.perf_counter() - t0
    assert a == b, (a, b)
    return {
        "rows": rows,
        "MB": mb,
        "masked_rows": a,
        "walk_s": t_walk,
        "per_row_s": t_row,
        "prefilter_s": t_filter,
        "saved": 1 - t_filter / t_row,
        "per_row_MBps": mb / t_row,
        "prefilter_MBps": mb / t_filter,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="auto", choices=["auto", "hyperscan", "re"])
    ap.add_argument("--cells", type=int, default=20000)
    ap.add_argument("--text-mb", type=float, default=2.0)
    ap.add_argument("--rows", type=int, default=500_000)
    args = ap.parse_args(argv)
    masker = Masker(Profile(), backend=args.backend)
    print(f"## Masking speed (backend {masker.backend})\n")
    c = per_cell(masker, args.cells)
    print("| per cell | p50 | p90 | p50 masked cells | p50 clean cells | masked |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| {args.cells} short cells | {c['p50_us']:.1f} µs | {c['p90_us']:.1f} µs | "
          f"{c['p50_masked_us']:.1f} µs | {c['p50_clean_us']:.1f} µs | "
          f"{100 * c['masked_fraction']:.0f}% |\n")  # fmt: skip
    t = text_throughput(masker, args.text_mb)
    print(f"| log text ({t['MB']:.1f} MB) | line by line | one text | stream (4 KiB chunks) |")
    print("|---|---:|---:|---:|")
    print(f"| MB/s | {t['lines_MBps']:.1f} | {t['whole_MBps']:.1f} | {t['stream_MBps']:.1f} |\n")
    p = prefilter(masker, args.rows)
    print(f"| {p['rows']} rows, {p['MB']:.1f} MB, {p['masked_rows']} cards | time | MB/s |")
    print("|---|---:|---:|")
    print(f"| walk the framing only | {p['walk_s']:.2f} s | {p['MB'] / p['walk_s']:.0f} |")
    print(f"| mask every memo cell | {p['per_row_s']:.2f} s | {p['per_row_MBps']:.1f} |")
    print(f"| prefilter, then matching rows | {p['prefilter_s']:.2f} s | "
          f"{p['prefilter_MBps']:.1f} |")  # fmt: skip
    print(f"\nPrefilter saves {100 * p['saved']:.0f}% of the masking time.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
