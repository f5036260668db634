"""Starting the gateway: one worker in-process, or N forked workers sharing the ports.

Workers are forked before any event loop, thread or database connection exists, so each
starts clean. The supervisor restarts a worker that dies unexpectedly and, on SIGTERM or
SIGINT, passes the signal on so every worker drains, then waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from pathlib import Path

from proctor.server.spec import WorkerSpec

log = logging.getLogger("proctor.supervisor")

RESTART_BACKOFF = 1.0


def _run_worker(spec: WorkerSpec) -> None:
    import uvloop

    from proctor.server.worker import Worker

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(Worker(spec).run())


def run(spec_for: dict[int, WorkerSpec]) -> int:
    workers = len(spec_for)
    if workers == 1:
        _run_worker(spec_for[0])
        return 0
    run_dir = spec_for[0].run_dir
    metrics_dir = run_dir / "metrics"
    # Multiprocess metrics must be configured before prometheus_client is imported anywhere.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    children: dict[int, int] = {}
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _run_worker(spec_for[index])
            except BaseException:
                log.exception("worker_crashed", extra={"worker": index})
                code = 1
            finally:
                os._exit(code)
        children[pid] = index

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        del signum

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(workers):
        spawn(index)
    log.info("supervisor_started", extra={"workers": workers, "pid": os.getpid()})
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        index = children.pop(pid)
        if not stopping:
            log.error(
                "worker_exited",
                extra={"worker": index, "status": os.waitstatus_to_exitcode(status)},
            )
            time.sleep(RESTART_BACKOFF)
            spawn(index)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def prepare_run_dir(state_dir: Path) -> Path:
    run_dir = state_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return run_dir
