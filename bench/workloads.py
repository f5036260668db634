"""The measured workloads: ``pgbench -S`` and a large result streamed to psql."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass

from bench.targets import Target

PROTOCOLS = ("simple", "extended", "prepared")
STREAM_TEXT_WIDTH = 100  # the text column of each streamed row


class WorkloadError(RuntimeError):
    pass


@dataclass(frozen=True)
class PgbenchOutput:
    tps: float
    latency_ms: float
    transactions: int
    failed: int


_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.M)
_LAT = re.compile(r"^latency average = ([0-9.]+) ms", re.M)
_TX = re.compile(r"^number of transactions actually processed: ([0-9]+)", re.M)
_FAILED = re.compile(r"^number of failed transactions: ([0-9]+)", re.M)


def parse_pgbench(stdout: str) -> PgbenchOutput:
    tps, lat, tx = _TPS.search(stdout), _LAT.search(stdout), _TX.search(stdout)
    if not (tps and lat and tx):
        raise WorkloadError(f"unexpected pgbench output: {stdout.strip()[-600:]!r}")
    failed = _FAILED.search(stdout)
    return PgbenchOutput(
        tps=float(tps.group(1)),
        latency_ms=float(lat.group(1)),
        transactions=int(tx.group(1)),
        failed=int(failed.group(1)) if failed else 0,
    )


def pgbench_threads(clients: int) -> int:
    # The CPUs pgbench may use (all of them, or the client's share under --pin).
    return max(1, min(clients, len(os.sched_getaffinity(0))))


def pgbench_argv(pgbench: str, clients: int, protocol: str, seconds: int) -> list[str]:
    # -n: no vacuum before the run (done once after init; a proxy's policy may refuse VACUUM).
    return [
        pgbench,
        "-n",
        "-S",
        f"--protocol={protocol}",
        "-c",
        str(clients),
        "-j",
        str(pgbench_threads(clients)),
        "-T",
        str(seconds),
    ]


def run_pgbench(
    pgbench: str, target: Target, clients: int, protocol: str, seconds: int
) -> PgbenchOutput:
    argv = pgbench_argv(pgbench, clients, protocol, seconds)
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=target.child_env(),
            timeout=seconds + 120,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkloadError(f"pgbench timed out after {seconds + 120} s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-600:]
        raise WorkloadError(f"pgbench exited with {proc.returncode}: {tail}")
    return parse_pgbench(proc.stdout)


def pgbench_scale(psql: str, target: Target) -> int | None:
    """The scale of existing pgbench tables, or None when there are none."""
    proc = subprocess.run(
        [psql, "-X", "-A", "-t", "-c", "select count(*) from pgbench_branches"],
        capture_output=True,
        text=True,
        env=target.child_env(),
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        return None
    try:
        return int(proc.stdout.strip())
    except ValueError:
        return None


def pgbench_init(pgbench: str, psql: str, target: Target, scale: int) -> bool:
    """``pgbench -i -s SCALE`` unless tables of that scale exist. True when it initialized."""
    if pgbench_scale(psql, target) == scale:
        return False
    proc = subprocess.run(
        [pgbench, "-i", "-q", "-s", str(scale)],
        capture_output=True,
        text=True,
        env=target.child_env(),
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise WorkloadError(f"pgbench -i failed: {proc.stderr.strip()[-800:]}")
    return True


# --------------------------------------------------------------------------- streamed result


# Two results: "plain" has no sensitive-looking column (what masking costs when nothing
# needs masking); "cards" has a different card number in one row out of three (the issue's
# 50 MB, 500k rows), from a table made once (`cards_table_init`): every card is distinct,
# so nothing can be saved by remembering values.
STREAM_KINDS = ("plain", "cards")
CARDS_TABLE = "bench_cards"
_CARD_PREFIXES = ("4", "51", "55", "2221", "4000")


def _luhn_digit(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:  # doubled: these become odd positions once the check digit is added
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _card(g: int) -> str:
    prefix = _CARD_PREFIXES[g % len(_CARD_PREFIXES)]
    body = prefix + str(g * 7919).zfill(15 - len(prefix))[-(15 - len(prefix)) :]
    number = body + _luhn_digit(body)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def _memo(g: int) -> str:
    if g % 3 == 0:
        return "paid with card " + _card(g)
    return f"order {g} shipped"


def stream_rows(megabytes: float, kind: str = "plain") -> int:
    """Rows whose DataRow messages total ~``megabytes`` MB."""
    return max(1, int(megabytes * 1e6 / _row_bytes(1_000_000, kind)))


def _row_bytes(g: int, kind: str) -> int:
    # type byte + length + column count + (length + text) for each column
    size = 1 + 4 + 2 + (4 + len(str(g))) + (4 + STREAM_TEXT_WIDTH)
    if kind == "cards":
        size += 4 + len(_memo(g))
    return size


def datarow_bytes_per_row(g: int) -> int:
    return _row_bytes(g, "plain")


def stream_bytes(rows: int, kind: str = "plain") -> int:
    """Exact DataRow bytes for rows 1..rows (text format)."""
    if kind == "cards":
        return sum(_row_bytes(g, kind) for g in range(1, rows + 1))
    total, lo, digits = 0, 1, 1
    while lo <= rows:
        hi = min(rows, 10**digits - 1)
        total += (hi - lo + 1) * (1 + 4 + 2 + 4 + digits + 4 + STREAM_TEXT_WIDTH)
        lo, digits = hi + 1, digits + 1
    return total


def stream_query(rows: int, kind: str = "plain") -> str:
    if kind == "cards":
        return f"select g, memo, payload from {CARDS_TABLE} where g <= {rows}"
    return (
        f"select g, repeat('x', {STREAM_TEXT_WIDTH}) as payload "
        f"from generate_series(1, {rows}) as g"
    )


def cards_table_init(psql: str, target: Target, rows: int) -> bool:
    """Create ``bench_cards`` with ``rows`` rows unless it has them. True when it did."""
    check = subprocess.run(
        [psql, "-X", "-A", "-t", "-c", f"select count(*) from {CARDS_TABLE}"],
        capture_output=True,
        text=True,
        env=target.child_env(),
        timeout=120,
        check=False,
    )
    if check.returncode == 0 and check.stdout.strip() == str(rows):
        return False
    payload = "x" * STREAM_TEXT_WIDTH
    data = "".join(f"{g}\t{_memo(g)}\t{payload}\n" for g in range(1, rows + 1))
    script = (
        f"drop table if exists {CARDS_TABLE};\n"
        f"create table {CARDS_TABLE} (g int, memo text, payload text);\n"
        f"grant select on {CARDS_TABLE} to public;\n"
        f"copy {CARDS_TABLE} from stdin;\n{data}\\.\n"
        f"analyze {CARDS_TABLE};\n"
    )
    proc = subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
        input=script,
        capture_output=True,
        text=True,
        env=target.child_env(),
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise WorkloadError(f"creating {CARDS_TABLE} failed: {proc.stderr.strip()[-800:]}")
    return True


def run_stream(psql: str, target: Target, rows: int, kind: str = "plain") -> float:
    """Wall-clock seconds for psql to receive the whole result (written to /dev/null)."""
    argv = [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-o", os.devnull]
    argv += ["-c", stream_query(rows, kind)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=target.child_env(),
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkloadError("psql stream timed out after 600 s") from exc
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise WorkloadError(f"psql exited with {proc.returncode}: {proc.stderr.strip()[-600:]}")
    return elapsed
