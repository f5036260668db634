"""Masking a large PostgreSQL result on the wire, without a server: µs per row and MB/s.

    .venv/bin/python -m bench.masked_stream                    # 100k rows, both results
    .venv/bin/python -m bench.masked_stream --rows 300000 --repeat 5
    .venv/bin/python -m bench.masked_stream --profile          # cProfile of the cards run

Feeds the gateway's server-side path exactly as the relay does (``BackendScanner`` with the
masking interest and runs → ``ResultMasking.handle`` per found message → one join of the
splices per received buffer) with the byte stream of the benchmark's large results, cut in
receive buffers of ``--chunk`` bytes:

- ``cards``: ``select g, memo, payload from bench_cards`` — g int4, memo text (one row in
  three holds a distinct Luhn-valid card number, as ``bench.workloads`` makes the table),
  payload text (100 times ``x``); masked by the demo's ``pii`` profile;
- ``plain``: ``select g, repeat('x', 100) as payload from generate_series(1, N) g``;
- ``copy-cards``, ``copy-plain``: the same rows as ``COPY (...) TO STDOUT`` sends them
  (one CopyData message per tab-separated line, masked as text without column hints).

Times are the process's CPU time (the machine is shared: wall-clock time would count the
others' work too); the median of ``--repeat`` runs is reported, the best in brackets. Each
is also timed with no masking at all (the scanner alone, as a session without a
masking profile frames results), so the difference is what masking costs. The cards output
is checked: every card is gone, every other byte is the same.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import struct
import sys
import time
from collections.abc import Sequence

from bench.workloads import STREAM_TEXT_WIDTH, _memo
from proctor.adapters.postgres.results import INTEREST, RUNS, ResultMasking
from proctor.codecs.pgwire import BackendScanner, encode
from proctor.codecs.pgwire.constants import B_READY_FOR_QUERY, F_QUERY
from proctor.demo.runner import DEMO_MASKING_PROFILE
from proctor.masking import Masker, Profile

_INT4, _TEXT = 23, 25
_TABLE_OID = 16_400


def row_description(columns: Sequence[tuple[str, int]]) -> bytes:
    body = struct.pack("!h", len(columns))
    for i, (name, oid) in enumerate(columns, 1):
        body += name.encode() + b"\x00" + struct.pack("!IhIhih", _TABLE_OID, i, oid, -1, -1, 0)
    return encode.message("T", body)


def data_row(cells: Sequence[bytes]) -> bytes:
    parts = [struct.pack("!h", len(cells))]
    for c in cells:
        parts.append(struct.pack("!i", len(c)))
        parts.append(c)
    return encode.message("D", b"".join(parts))


def result_stream(kind: str, rows: int) -> tuple[bytes, int]:
    """The server's bytes for one result (RowDescription … ReadyForQuery) and the DataRow
    bytes among them."""
    payload = b"x" * STREAM_TEXT_WIDTH
    if kind == "cards":
        head = row_description([("g", _INT4), ("memo", _TEXT), ("payload", _TEXT)])
        body = [data_row([str(g).encode(), _memo(g).encode(), payload]) for g in range(1, rows + 1)]
    else:
        head = row_description([("g", _INT4), ("payload", _TEXT)])
        body = [data_row([str(g).encode(), payload]) for g in range(1, rows + 1)]
    datarows = b"".join(body)
    tail = encode.message("C", f"SELECT {rows}\x00".encode()) + encode.message(
        B_READY_FOR_QUERY, b"I"
    )
    return head + datarows + tail, len(datarows)


def copy_stream(kind: str, rows: int) -> tuple[bytes, int]:
    """The same rows as ``COPY (...) TO STDOUT`` sends them (text format, tab-separated):
    CopyOutResponse, one CopyData per row, CopyDone; and the CopyData bytes among them."""
    payload = "x" * STREAM_TEXT_WIDTH
    memo = _memo if kind == "copy-cards" else (lambda g: None)
    lines = [
        "\t".join(c for c in (str(g), memo(g), payload) if c is not None) + "\n"
        for g in range(1, rows + 1)
    ]
    data = b"".join(encode.message("d", line.encode()) for line in lines)
    head = encode.message("H", struct.pack("!bhh", 0, 1, 0))
    tail = encode.message("c", b"") + encode.message("C", f"COPY {rows}\x00".encode())
    return head + data + tail + encode.message(B_READY_FOR_QUERY, b"I"), len(data)


def chunks(stream: bytes, size: int) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def masker() -> Masker:
    return Masker(Profile.from_dict({"name": "pii", **DEMO_MASKING_PROFILE}))


def run(bufs: Sequence[bytes], masking: ResultMasking | None) -> bytes:
    """The relay's ``upstream_data`` + ``_inspect`` for server bytes, minus recording."""
    if masking is None:
        scanner = BackendScanner(frozenset({B_READY_FOR_QUERY}))
    else:
        masking.client_message(F_QUERY, b"select\x00", None)
        scanner = BackendScanner(frozenset(INTEREST | {B_READY_FOR_QUERY}), runs=RUNS)
    sent: list[bytes] = []
    for data in bufs:
        out, found = scanner.feed(data)
        if found and masking is not None:
            splices: list[tuple[int, int, bytes]] = []
            for fm in found:
                if fm.type == B_READY_FOR_QUERY:
                    masking.ready()
                else:
                    masking.handle(out, fm, splices)
            if splices:
                parts: list[bytes] = []
                pos = 0
                for start, end, replacement in splices:
                    parts.append(out[pos:start])
                    parts.append(replacement)
                    pos = end
                parts.append(out[pos:])
                out = b"".join(parts)
        sent.append(out)
    return b"".join(sent)


def check_cards(stream: bytes, sent: bytes, rows: int) -> None:
    """Every card masked (partial: the last four digits kept), the result's size unchanged
    (partial masking keeps the length), the other rows untouched."""
    assert sent.count(b"**** **** **** ") == rows // 3, "a card was not masked"
    assert len(sent) == len(stream)
    for g in range(1, min(rows, 3000) + 1):
        memo = _memo(g).encode()
        assert (memo in sent) == (g % 3 != 0), g


def measure(
    name: str, bufs: Sequence[bytes], mb: float, rows: int, make: object, repeat: int
) -> float:
    times = []
    for _ in range(repeat):
        masking = make() if callable(make) else None
        t0 = time.process_time()  # CPU time: other processes on the machine do not count
        run(bufs, masking)
        times.append(time.process_time() - t0)
    best, med = min(times), statistics.median(times)
    print(
        f"  {name:<22} {med * 1e6 / rows:7.2f} µs/row (best {best * 1e6 / rows:6.2f})"
        f"  {mb / med:8.1f} MB/s (best {mb / best:7.1f})"
    )
    return med


KINDS = ("cards", "plain", "copy-cards", "copy-plain")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=65_536, help="receive buffer size")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=KINDS, default=None)
    ap.add_argument("--profile", action="store_true", help="cProfile one masked cards run")
    args = ap.parse_args(argv)
    m = masker()

    def make() -> ResultMasking:
        return ResultMasking(m, "utf-8", lambda stats: None)

    print(f"masking backend: {m.backend}; {args.rows} rows; receive buffers {args.chunk} B")
    for kind in KINDS:
        if args.only and kind != args.only:
            continue
        copy = kind.startswith("copy-")
        stream, nbytes = copy_stream(kind, args.rows) if copy else result_stream(kind, args.rows)
        bufs = chunks(stream, args.chunk)
        mb = nbytes / 1e6
        sent = run(bufs, make())
        if kind.endswith("cards"):
            check_cards(stream, sent, args.rows)
        else:
            assert sent == stream
        if args.profile:
            if kind == "cards":
                prof = cProfile.Profile()
                prof.enable()
                run(bufs, make())
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            continue
        print(f"{kind}: {mb:.1f} MB of {'CopyData' if copy else 'DataRows'}")
        base = measure("no masking", bufs, mb, args.rows, None, args.repeat)
        masked = measure("masking (pii profile)", bufs, mb, args.rows, make, args.repeat)
        print(
            f"  masking costs {(masked - base) * 1e6 / args.rows:.2f} µs/row;"
            f" masked ÷ unmasked throughput {base / masked:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
