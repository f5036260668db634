"""CPU time of a process and its descendants, read from /proc (Linux only).

``/proc/PID/stat`` fields 14-17 are utime, stime, cutime, cstime in clock ticks. utime+stime
cover all threads of a live process; cutime+cstime hold the time of children it has already
reaped, so a worker that exits between two samples is still counted once its parent waits
for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    ticks: int  # utime + stime + cutime + cstime
    user_ticks: int  # utime + cutime: the part spent in user space


def read_stat(pid: int) -> ProcStat | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    rest = raw[raw.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): field N is rest[N - 3].
    ppid = int(rest[1])
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    return ProcStat(pid, ppid, utime + stime + cutime + cstime, utime + cutime)


def _all_pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        st = read_stat(pid)
        if st is not None:
            children.setdefault(st.ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_cpu_seconds(root: int) -> float | None:
    """CPU seconds (user + system) used so far by ``root`` and its descendants; None if gone."""
    split = tree_cpu_split(root)
    return None if split is None else split[0]


def tree_cpu_split(root: int) -> tuple[float, float] | None:
    """(all, user-space) CPU seconds used so far by ``root`` and its descendants; None if
    gone. The kernel's part (all - user) holds the socket system calls, which on loopback
    also deliver into the peer's socket and wake it: a proxy pays that whatever it does."""
    if read_stat(root) is None:
        return None
    total = user = 0
    for pid in tree_pids(root):
        st = read_stat(pid)
        if st is not None:
            total += st.ticks
            user += st.user_ticks
    return total / CLK_TCK, user / CLK_TCK


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from the first line of /proc/stat."""
    fields = [int(x) for x in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already included in user/nice
    return total - idle, total
