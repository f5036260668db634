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
# A worker exiting with this status failed to start for a reason a restart cannot fix.
EXIT_STARTUP_FAILED = 78  # EX_CONFIG


def _run_worker(spec: WorkerSpec) -> int:
    import uvloop

    from proctor.server.worker import StartupError, Worker

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(Worker(spec).run())
    except StartupError as exc:
        log.error("startup_failed", extra={"worker": spec.index, "error": str(exc)})
        return EXIT_STARTUP_FAILED
    return 0


def run(spec_for: dict[int, WorkerSpec]) -> int:
    workers = len(spec_for)
    if workers == 1:
        return _run_worker(spec_for[0])
    run_dir = spec_for[0].run_dir
    metrics_dir = run_dir / "metrics"
    # Multiprocess metrics must be configured before prometheus_client is imported anywhere.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    children: dict[int, int] = {}
    stopping = False
    status_code = 0

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                code = _run_worker(spec_for[index])
            except BaseException:
                log.exception("worker_crashed", extra={"worker": index})
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
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code == EXIT_STARTUP_FAILED and not stopping:
            # Restarting cannot fix a taken port or a bad setting: stop everything.
            stopping = True
            status_code = EXIT_STARTUP_FAILED
            for other in list(children):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(other, signal.SIGTERM)
            continue
        if not stopping:
            log.error(
                "worker_exited",
                extra={"worker": index, "status": os.waitstatus_to_exitcode(status)},
            )
            time.sleep(RESTART_BACKOFF)
            spawn(index)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return status_code


def prepare_run_dir(state_dir: Path) -> Path:
    run_dir = state_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return run_dir
