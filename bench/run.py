"""Direct PostgreSQL vs pgbouncer vs Proctor, in one run, alternating rounds.

    .venv/bin/python -m bench.run               # the full run (make bench)
    .venv/bin/python -m bench.run --quick       # a short smoke run
    .venv/bin/python -m bench.run --help

Theory of operation: set up every target first (the Proctor demo with its database; our own
pgbouncer in front of that database; a throwaway PostgreSQL when the demo does not start),
initialize pgbench once, then run ``--rounds`` rounds. Each round runs every workload on every
target back to back, so machine noise (other tenants, thermal, cache state) hits all targets
alike, and rotates the target order between rounds so no target always goes first. Around each
run the proxy's process-tree CPU time is read from /proc. Results go to stdout as Markdown and
to bench/results/<timestamp>.json (plus .md). Everything started is stopped on the way out,
including on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from bench import pinning, procstat
from bench.report import Measurement, machine_facts, markdown, summarize, write_json
from bench.targets import (
    SetupError,
    Target,
    check_connect,
    log,
    start_fallback_postgres,
    start_pgbouncer,
    start_proctor_demo,
    start_proctor_without_policy,
    start_proctor_without_recording,
)
from bench.workloads import (
    PROTOCOLS,
    STREAM_KINDS,
    WorkloadError,
    cards_table_init,
    pgbench_init,
    pgbench_threads,
    run_pgbench,
    run_stream,
    stream_bytes,
    stream_rows,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
ALL_TARGETS = ("direct", "pgbouncer", "proctor", "proctor-nopolicy", "proctor-norecord")


def _default_pg_tool(name: str) -> str:
    for d in (
        "/usr/lib/postgresql/15/bin",
        *sorted(map(str, Path("/usr/lib/postgresql").glob("*/bin")), reverse=True),
    ):
        if (Path(d) / name).exists():
            return str(Path(d) / name)
    return shutil.which(name) or name


def _csv(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            return [kind(x.strip()) for x in text.split(",") if x.strip()]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark direct PostgreSQL vs pgbouncer (session) vs Proctor.",
    )
    p.add_argument("--seconds", type=int, help="length of each pgbench run (default 10)")
    p.add_argument("--rounds", type=int, help="alternating rounds (default 3)")
    p.add_argument("--clients", type=_csv(int), help="pgbench client counts (default 1,8,32)")
    p.add_argument(
        "--modes",
        type=_csv(str),
        help="pgbench protocols: simple,extended,prepared (default all three)",
    )
    p.add_argument("--stream-mb", type=float, help="size of the streamed result (default 50)")
    p.add_argument("--no-stream", action="store_true", help="skip the large-result test")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 3 s runs, 1 round, simple+extended, 10 MB stream (explicit flags win)",
    )
    p.add_argument(
        "--targets",
        type=_csv(str),
        default=list(ALL_TARGETS),
        help="subset of direct,pgbouncer,proctor (default all)",
    )
    p.add_argument("--scale", type=int, default=10, help="pgbench -i scale (default 10)")
    p.add_argument("--workers", type=int, default=2, help="Proctor worker processes (default 2)")
    p.add_argument("--pool-size", type=int, default=64, help="pgbouncer default_pool_size")
    p.add_argument(
        "--proctor-sslmode",
        help="override the PGSSLMODE `proctor demo --env` exports (e.g. disable, to compare "
        "without TLS when the gateway allows it)",
    )
    p.add_argument("--dir", type=Path, help="working directory (default: a temporary one)")
    p.add_argument("--proctor", default=str(REPO / ".venv" / "bin" / "proctor"))
    p.add_argument("--pgbench", default=_default_pg_tool("pgbench"))
    p.add_argument("--psql", default=_default_pg_tool("psql"))
    p.add_argument("--pgbouncer", default=shutil.which("pgbouncer") or "/usr/sbin/pgbouncer")
    p.add_argument(
        "--pin",
        action="store_true",
        help="give each proxy a CPU of its own (the last one), pgbench and PostgreSQL the "
        "others: whether the proxy keeps up when it does not share CPUs (bench/pinning.py)",
    )
    p.add_argument("--output", type=Path, help="JSON file (default bench/results/<time>.json)")
    args = p.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds or (3 if quick else 10)
    args.rounds = args.rounds or (1 if quick else 3)
    args.clients = args.clients or [1, 8, 32]
    args.modes = args.modes or (["simple", "extended"] if quick else list(PROTOCOLS))
    args.stream_mb = args.stream_mb or (10.0 if quick else 50.0)
    bad = [m for m in args.modes if m not in PROTOCOLS] + [
        t for t in args.targets if t not in ALL_TARGETS
    ]
    if bad:
        p.error(f"unknown mode or target: {', '.join(bad)}")
    if "direct" not in args.targets:
        p.error("the direct target is the reference for every ratio; keep it in --targets")
    if args.seconds < 1 or args.rounds < 1 or any(c < 1 for c in args.clients):
        p.error("--seconds, --rounds and --clients must be positive")
    return args


# --------------------------------------------------------------------------- measuring


def _cpu(target: Target) -> tuple[float, float] | None:
    pid = target.proxy_pid() if target.proxy_pid else None
    return procstat.tree_cpu_split(pid) if pid else None


QUIET_BUSY_PCT = 15.0  # the machine counts as settled below this share of busy CPU
QUIET_MAX_S = 5.0


def settle(max_s: float = QUIET_MAX_S, window_s: float = 0.2) -> float:
    """Wait until the machine is quiet (busy under `QUIET_BUSY_PCT` over a window), at most
    ``max_s``; returns the seconds waited. What one workload leaves behind (the gateway's
    store and recorder threads still writing a pgbench run's statements, PostgreSQL's
    background writer) must not be billed to the next one, whichever target that is."""
    started = time.monotonic()
    while time.monotonic() - started < max_s:
        busy0 = procstat.machine_busy_ticks()
        time.sleep(window_s)
        busy1 = procstat.machine_busy_ticks()
        total = busy1[1] - busy0[1]
        if total and 100 * (busy1[0] - busy0[0]) / total < QUIET_BUSY_PCT:
            break
    return time.monotonic() - started


# Under --pin: (client and database CPUs, proxy CPU) and the database server's PID.
PINNED: tuple[set[int], set[int], int | None] | None = None


def pin(target: Target) -> None:
    if PINNED is None:
        return
    client_cpus, proxy_cpus, postmaster = PINNED
    if postmaster is not None:
        pinning.pin_tree(postmaster, client_cpus)
    pid = target.proxy_pid() if target.proxy_pid else None
    if pid is not None:
        pinning.pin_tree(pid, proxy_cpus)


def measured(target: Target, m: Measurement, work: Callable[[Measurement], None]) -> Measurement:
    """Run ``work`` filling ``m``, with the proxy's CPU and the machine's load around it,
    once the machine has settled from the previous workload."""
    pin(target)
    m.settle_s = round(settle(), 2)
    cpu0, busy0 = _cpu(target), procstat.machine_busy_ticks()
    try:
        work(m)
    except WorkloadError as exc:
        m.ok, m.error = False, str(exc)
        return m
    cpu1, busy1 = _cpu(target), procstat.machine_busy_ticks()
    if cpu0 is not None and cpu1 is not None:
        m.proxy_cpu_s = round(cpu1[0] - cpu0[0], 4)
        m.proxy_user_s = round(cpu1[1] - cpu0[1], 4)
    busy, total = busy1[0] - busy0[0], busy1[1] - busy0[1]
    m.machine_busy_pct = round(100 * busy / total, 1) if total else None
    return m


def pgbench_job(
    args: argparse.Namespace, target: Target, clients: int, mode: str
) -> Callable[[Measurement], None]:
    def work(m: Measurement) -> None:
        out = run_pgbench(args.pgbench, target, clients, mode, args.seconds)
        m.tps, m.latency_ms = out.tps, out.latency_ms
        m.transactions, m.failed = out.transactions, out.failed

    return work


def stream_job(
    args: argparse.Namespace, target: Target, rows: int, kind: str
) -> Callable[[Measurement], None]:
    size = stream_bytes(rows, kind)

    def work(m: Measurement) -> None:
        m.wall_s = run_stream(args.psql, target, rows, kind)
        m.bytes = size
        m.mb_per_s = round(m.bytes / 1e6 / m.wall_s, 2)

    return work


def _describe(m: Measurement) -> str:
    if not m.ok:
        return f"FAILED: {(m.error or '').splitlines()[0][:200]}"
    cpu = ""
    if m.workload == "pgbench":
        if m.proxy_cpu_s is not None and m.transactions:
            cpu = f", proxy {m.proxy_cpu_s / m.transactions * 1e6:.0f} µs/tx"
        return f"{m.tps:,.0f} tps, {m.latency_ms:.3f} ms{cpu}"
    if m.proxy_cpu_s is not None and m.bytes:
        cpu = f", proxy {m.proxy_cpu_s / (m.bytes / 1e6) * 1e3:.1f} ms/MB"
    return f"{m.mb_per_s:,.1f} MB/s ({m.wall_s:.2f} s){cpu}"


def run_rounds(args: argparse.Namespace, targets: list[Target], out: list[Measurement]) -> None:
    rows = {kind: stream_rows(args.stream_mb, kind) for kind in STREAM_KINDS}
    for r in range(args.rounds):
        # Rotate the order each round: A B C, B C A, C A B, ...
        k = r % len(targets)
        order = targets[k:] + targets[:k]
        log(f"== round {r + 1}/{args.rounds} (order: {' '.join(t.name for t in order)})")
        for clients in args.clients:
            for mode in args.modes:
                for t in order:
                    m = Measurement(r + 1, "pgbench", t.name, clients=clients, protocol=mode)
                    measured(t, m, pgbench_job(args, t, clients, mode))
                    out.append(m)
                    log(f"   pgbench -S c={clients:<3} {mode:<9} {t.name:<10} {_describe(m)}")
        if not args.no_stream:
            for kind in STREAM_KINDS:
                for t in order:
                    m = Measurement(r + 1, "stream", t.name, protocol=kind)
                    measured(t, m, stream_job(args, t, rows[kind], kind))
                    out.append(m)
                    log(f"   stream {args.stream_mb:g} MB {kind:<6} {t.name:<10} {_describe(m)}")


# --------------------------------------------------------------------------- setup


def setup(
    args: argparse.Namespace, stack: contextlib.ExitStack, workdir: Path
) -> tuple[list[Target], dict[str, str]]:
    """Start what is needed; returns the usable targets and {target: why skipped}."""
    skipped: dict[str, str] = {}
    direct_env: dict[str, str] | None = None
    proctor_target: Target | None = None
    want_proctor = "proctor" in args.targets

    demo_dir = workdir / "demo"
    discard = not args.dir
    demo = start_proctor_demo(stack, args.proctor, demo_dir, args.workers, discard=discard)
    if demo.problem or not demo.proxy_env:
        why = demo.problem or "no connection settings from `proctor demo --env`"
        if want_proctor:
            skipped["proctor"] = why
        log(f"!! Proctor column skipped: {why}")
    elif want_proctor:
        env = dict(demo.proxy_env)
        if args.proctor_sslmode:
            env["PGSSLMODE"] = args.proctor_sslmode
        proctor_target = Target("proctor", env, proxy_pid=demo.gateway_pid)
    direct_env = demo.direct_env
    if direct_env is None:
        log("   using a throwaway PostgreSQL of our own for direct and pgbouncer")
        direct_env = start_fallback_postgres(stack, workdir)
    direct = Target("direct", direct_env)
    check_connect(args.psql, direct)

    log(f"pgbench -i -s {args.scale} (once, direct)")
    try:
        if pgbench_init(args.pgbench, args.psql, direct, args.scale):
            log("   initialized")
        else:
            log("   tables of that scale exist already")
    except WorkloadError as exc:
        raise SetupError(str(exc)) from exc

    if not args.no_stream:
        rows = stream_rows(args.stream_mb, "cards")
        log(f"{rows:,} rows of card payments for the masked stream (once, direct)")
        try:
            log("   created" if cards_table_init(args.psql, direct, rows) else "   present already")
        except WorkloadError as exc:
            raise SetupError(str(exc)) from exc

    targets = [direct]
    if "pgbouncer" in args.targets:
        try:
            pgb = start_pgbouncer(stack, args.pgbouncer, workdir, direct_env, args.pool_size)
            check_connect(args.psql, pgb)
            targets.append(pgb)
        except SetupError as exc:
            skipped["pgbouncer"] = str(exc)
            log(f"!! pgbouncer column skipped: {exc}")
    if proctor_target is not None:
        try:
            check_connect(args.psql, proctor_target)
            if proctor_target.proxy_pid and proctor_target.proxy_pid() is None:
                proctor_target.notes.append("gateway.pid not found: no proxy CPU figures")
                log("   (no gateway.pid: Proctor's CPU is not measured)")
            targets.append(proctor_target)
        except SetupError as exc:
            skipped["proctor"] = f"cannot connect through the gateway: {exc}"
            log(f"!! Proctor column skipped: {skipped['proctor']}")
    variants = (
        ("proctor-nopolicy", start_proctor_without_policy),
        ("proctor-norecord", start_proctor_without_recording),
    )
    for name, start in variants:
        if proctor_target is None or name not in args.targets:
            continue
        try:
            variant = start(stack, args.proctor, demo, args.workers)
            if args.proctor_sslmode:
                variant.env["PGSSLMODE"] = args.proctor_sslmode
            check_connect(args.psql, variant)
            targets.append(variant)
        except (SetupError, OSError) as exc:
            skipped[name] = str(exc)
            log(f"!! {name} column skipped: {exc}")
    return targets, skipped


def _secret(name: str) -> bool:
    """Environment names whose values stay out of the results (PGPASSWORD, PROCTOR_TOKEN)."""
    return any(w in name.upper() for w in ("PASSWORD", "TOKEN", "SECRET"))


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now().astimezone()
    stamp = started.strftime("%Y-%m-%dT%H%M%S")
    out_json = args.output or RESULTS / f"{stamp}.json"
    measurements: list[Measurement] = []
    targets: list[Target] = []
    skipped: dict[str, str] = {}
    interrupted = False
    failed_setup: str | None = None
    signal.signal(signal.SIGTERM, _sigterm)
    global PINNED
    if args.pin:
        try:
            client_cpus, proxy_cpus = pinning.cpu_split()
        except pinning.PinError as exc:
            log(f"setup failed: {exc}")
            return 2
        # Before anything starts: pgbench, psql and the servers inherit the client CPUs.
        os.sched_setaffinity(0, client_cpus)
        PINNED = (client_cpus, proxy_cpus, None)

    with contextlib.ExitStack() as stack:
        if args.dir:
            workdir = args.dir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(tempfile.mkdtemp(prefix="proctor-bench-"))
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        # Servers run as the `postgres` user when we are root: it must traverse this dir.
        os.chmod(workdir, 0o755)
        try:
            targets, skipped = setup(args, stack, workdir)
            if PINNED is not None:
                postmaster = pinning.postmaster_pid(args.psql, targets[0].env)
                if postmaster is None:
                    log("!! --pin: PostgreSQL's PID not found; only the proxies are pinned")
                PINNED = (PINNED[0], PINNED[1], postmaster)
            log(
                f"targets: {', '.join(t.name for t in targets)}; {args.rounds} rounds x "
                f"{len(args.clients) * len(args.modes)} pgbench runs of {args.seconds} s"
                + ("" if args.no_stream else f" + a {args.stream_mb:g} MB stream")
                + " per target"
            )
            run_rounds(args, targets, measurements)
        except KeyboardInterrupt:
            interrupted = True
            log("interrupted: cleaning up and reporting what was measured")
        except SetupError as exc:
            failed_setup = str(exc)
            log(f"setup failed: {exc}")
        # The ExitStack stops pgbouncer, the demo and our PostgreSQL here, in reverse order;
        # a second Ctrl-C must not cut that short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    if failed_setup and not measurements:
        return 2
    names = [t.name for t in targets]
    summaries = summarize(measurements, names)
    facts = machine_facts(args.pgbench, args.pgbouncer, args.proctor)
    header = {
        "date": started.strftime("%Y-%m-%d %H:%M %Z"),
        "stream_mb": args.stream_mb,
        "facts": {
            "machine": f"{facts['nproc']} CPUs ({facts['cpu_model']}), Linux {facts['kernel']}",
            "versions": f"{facts['pgbench']}; {facts['pgbouncer']}; {facts['proctor']}",
            "settings": (
                f"{args.rounds} round(s), {args.seconds} s per pgbench run, "
                f"pgbench -j min(clients, {len(os.sched_getaffinity(0))}), scale {args.scale}, "
                f"pgbouncer pool {args.pool_size}, Proctor workers {args.workers}"
            ),
            "sslmode": ", ".join(f"{t.name}={t.env.get('PGSSLMODE', 'default')}" for t in targets),
            "Proctor hot path": facts["hot_path"],
        },
    }
    if PINNED is not None:
        header["facts"]["pinned"] = (
            f"each proxy on CPU {sorted(PINNED[1])} alone; pgbench, psql and PostgreSQL on "
            f"CPU {sorted(PINNED[0])} (`--pin`)"
        )
    if interrupted:
        header["facts"]["note"] = "INTERRUPTED: partial results"
    report = markdown(summaries, names, skipped, header)
    print(report)
    payload = {
        "started": started.isoformat(),
        "finished": dt.datetime.now().astimezone().isoformat(),
        "interrupted": interrupted,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": facts,
        "targets": {
            t.name: {
                "env": {k: v for k, v in t.env.items() if not _secret(k)},
                "notes": t.notes,
            }
            for t in targets
        },
        "skipped": skipped,
        "pgbench_threads": {c: pgbench_threads(c) for c in args.clients},
        "summary": [asdict(s) for s in summaries],
        "measurements": [asdict(m) for m in measurements],
    }
    write_json(out_json, payload)
    out_json.with_suffix(".md").write_text(report)
    log(f"results: {out_json} (+ .md)")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
