"""``bench.run --pin``: the proxy on a CPU of its own, the client and the database on the rest.

Unpinned, everything shares the machine's CPUs, so every µs the proxy spends is taken from
PostgreSQL and pgbench and TPS ratios measure the proxy's CPU per transaction. Pinned, they
answer the deployed question instead — a gateway usually has its own host or cores: given
one CPU to itself, does the proxy keep up with what the client and database can do, and
what does its hop add to latency? Direct runs see the same client and database CPUs (the
proxy's CPU then idles), so the ratios stay like for like.

Affinity is inherited across fork and exec: the harness pins itself to the client CPUs
first, so pgbench, psql and the servers it starts inherit them; each proxy's process tree
(every thread of every process) is then moved to the proxy CPU, again before each
measurement, as are PostgreSQL's processes to the client CPUs (the demo's database may have
been started before).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench import procstat


class PinError(RuntimeError):
    pass


def cpu_split() -> tuple[set[int], set[int]]:
    """(client and database CPUs, proxy CPU): the last usable CPU for the proxy."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise PinError("--pin needs at least 2 CPUs")
    return set(cpus[:-1]), {cpus[-1]}


def pin_tree(root: int, cpus: set[int]) -> int:
    """Move every thread of ``root`` and its descendants to ``cpus``; returns how many."""
    moved = 0
    for pid in procstat.tree_pids(root):
        try:
            tids = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
        except OSError:
            continue  # gone meanwhile
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
                moved += 1
            except (ProcessLookupError, PermissionError):
                pass
    return moved


def postmaster_pid(psql: str, env: dict[str, str]) -> int | None:
    """The PostgreSQL server's PID, from ``postmaster.pid`` in its data directory (readable
    when the harness runs as root or as the server's user)."""
    proc = subprocess.run(
        [psql, "-X", "-A", "-t", "-c", "show data_directory"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        return None
    try:
        return int((Path(proc.stdout.strip()) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
