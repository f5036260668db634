"""Session recording cost per statement: the event loop's hand-off and the recorder thread.

    .venv/bin/python -m bench.recording_speed                  # 20,000 statements, 8 sessions
    .venv/bin/python -m bench.recording_speed --statements 50000 --json

Feeds a ``SignedRecorder`` (local storage in a temporary directory, encryption on, default
checkpoints: every 1000 events or 5 s) what the PostgreSQL relay gives it for a pgbench -S
transaction: one statement record and one reply (RowDescription, DataRow, CommandComplete,
ReadyForQuery). Reports, per statement:

- loop: the event loop's side (making the statement record as the gate does, then the
  handle's ``statement`` and ``output`` calls): what every session pays inline;
- thread: the recorder thread's CPU for one round over everything buffered (encoding,
  encryption, hashing, the signed checkpoints and their fsync'd segment and ledger writes).

Each figure is the median of ``--repeat`` runs. Run it on a quiet machine: it measures CPU,
but a busy one still slows it down.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from proctor.model import SessionStart, StatementRecord
from proctor.recording.keystore import ensure_keys, load_keys
from proctor.recording.recorder import SignedRecorder
from proctor.recording.storage.local import LocalBlobStorage

REPLY = (
    b"T\x00\x00\x00!\x00\x01abalance\x00\x00\x00\x40\x00\x00\x04\x00\x00\x00\x17\x00\x04"
    b"\xff\xff\xff\xff\x00\x00D\x00\x00\x00\x0b\x00\x01\x00\x00\x00\x010"
    b"C\x00\x00\x00\x0dSELECT 1\x00Z\x00\x00\x00\x05I"
)


def run_once(statements: int, sessions: int, root: Path) -> tuple[float, float]:
    ensure_keys(root / "keys", encrypt=True)
    recorder = SignedRecorder(
        LocalBlobStorage(root / "recordings"),
        load_keys(root / "keys", encrypt=True),
        flush_interval=3600,  # rounds are run by hand below
    )
    handles = [
        recorder.open(
            SessionStart(
                id=f"s{i}",
                subject="admin",
                groups=frozenset({"dba"}),
                connection="shop",
                database="shop",
                protocol="postgres",
                client_addr="127.0.0.1:5555",
                started_at=datetime.now(UTC),
                gateway_version="bench",
            )
        )
        for i in range(sessions)
    ]
    recorder._round(final=False)  # the starts
    started = time.perf_counter()
    for n in range(statements):
        handle = handles[n % sessions]
        handle.statement(
            StatementRecord(
                session_id=f"s{n % sessions}",
                seq=n // sessions + 1,
                at=datetime.now(UTC),
                text=f"SELECT abalance FROM pgbench_accounts WHERE aid = {n};",
                kind="query",
                verdict="allow",
                error=None,
                rule="read",
            )
        )
        handle.output(REPLY)
    loop = (time.perf_counter() - started) / statements * 1e6
    cpu = time.thread_time()
    recorder._round(final=False)
    thread = (time.thread_time() - cpu) / statements * 1e6
    recorder.close()
    return loop, thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    loops, threads = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            loop, thread = run_once(args.statements, args.sessions, Path(tmp))
        loops.append(loop)
        threads.append(thread)
    result = {
        "statements": args.statements,
        "sessions": args.sessions,
        "loop_us_per_statement": round(statistics.median(loops), 2),
        "thread_cpu_us_per_statement": round(statistics.median(threads), 2),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.statements} statements over {args.sessions} sessions, median of {args.repeat}")
    print(f"  event loop (statement record + hand-off): {result['loop_us_per_statement']} µs")
    print(f"  recorder thread CPU:                      {result['thread_cpu_us_per_statement']} µs")


if __name__ == "__main__":
    main()
