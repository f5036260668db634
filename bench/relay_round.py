"""What one pgbench -S round costs the gateway's event loop, without any socket.

A ``Relay`` is built as a worker builds it for the demo (the demo policy, the template
analyzer, the ``pii`` masking profile, a recorder that keeps nothing) and fed, round after
round, the bytes pgbench sends and the bytes PostgreSQL answers: ``Query`` or
``Bind/Execute/Sync`` of a prepared statement, then ``RowDescription`` (extended: the
``BindComplete``), one ``DataRow``, ``CommandComplete``, ``ReadyForQuery``. It reports µs per
round for each protocol, and with ``--profile`` the functions that cost most.

    .venv/bin/python -m bench.relay_round [--rounds 20000] [--profile] [--no-masking]

Numbers are CPU in this process only (no kernel I/O, no recorder thread): they show what the
hot path's Python costs and where it goes, to be read beside ``bench.run``'s proxy CPU per
transaction.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proctor.adapters.postgres.relay import Relay
from proctor.adapters.postgres.results import ResultMasking
from proctor.codecs.pgwire import encode
from proctor.demo.runner import DEMO_MASKING_PROFILE
from proctor.masking import Masker, Profile
from proctor.model import Connection, Credential, Identity, StatementRecord
from proctor.pipeline.gate import CommandGate
from proctor.policy import Policy
from proctor.sql import prepared_statements
from proctor.sql.templates import TemplateAnalyzer

DEMO_POLICY = Path(__file__).resolve().parents[1] / "src" / "proctor" / "demo" / "policy.yaml"
SELECT = "SELECT abalance FROM pgbench_accounts WHERE aid = {};"


class NullRecorder:
    healthy = True
    backlogged = False

    def statement(self, record: StatementRecord) -> None:
        pass

    def output(self, data: bytes) -> None:
        pass

    def end(self, end: object) -> None:
        pass


class NullObserver:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


def build(masking: bool) -> tuple[Relay, list[bytes], list[bytes]]:
    to_client: list[bytes] = []
    to_upstream: list[bytes] = []
    observer: Any = NullObserver()
    gate = CommandGate(
        session_id="ses_bench",
        identity=Identity(subject="alice", groups=frozenset({"analyst"})),
        connection=Connection(
            "shop", "postgres", "127.0.0.1", 5432, "shop", Credential("app"), tags={"env": "demo"}
        ),
        analyze=TemplateAnalyzer().analyze,
        prepared_names=prepared_statements,
        policy=Policy.load(DEMO_POLICY),
        recorder=NullRecorder(),
        observer=observer,
        client_addr="127.0.0.1",
        protocol="postgres",
    )
    results = None
    if masking:
        masker = Masker(Profile.from_dict({"name": "pii", **DEMO_MASKING_PROFILE}))
        results = ResultMasking(masker, "utf-8", lambda stats: None)
    relay = Relay(
        connection="shop",
        gate=gate,
        observer=observer,
        to_client=to_client.append,
        to_upstream=to_upstream.append,
        on_protocol_error=lambda side, exc: None,
        max_message_size=1 << 20,
        client_encoding="UTF8",
        masking=results,
    )
    return relay, to_client, to_upstream


def _row_description() -> bytes:
    # one int4 column "abalance" of table oid 16400, text format
    field = b"abalance\x00" + struct.pack("!IhIhih", 16400, 3, 23, 4, -1, 0)
    return encode.message("T", struct.pack("!h", 1) + field)


def _data_row(value: int) -> bytes:
    text = str(value).encode()
    return encode.message("D", struct.pack("!hi", 1, len(text)) + text)


ROW_DESCRIPTION = _row_description()
COMPLETE = encode.message("C", b"SELECT 1\x00")
READY = encode.message("Z", b"I")
PARSE_COMPLETE = encode.message("1", b"")
BIND_COMPLETE = encode.message("2", b"")


def _bind(name: bytes, aid: int) -> bytes:
    value = str(aid).encode()
    body = b"\x00" + name + b"\x00" + struct.pack("!hhi", 0, 1, len(value)) + value
    return encode.message("B", body + struct.pack("!h", 0))


EXECUTE = encode.message("E", b"\x00" + struct.pack("!i", 0))
SYNC = encode.message("S", b"")


def _describe_portal() -> bytes:
    return encode.message("D", b"P\x00")


def simple_round(relay: Relay, aid: int) -> None:
    relay.client_data(encode.message("Q", SELECT.format(aid).encode() + b"\x00"))
    relay.upstream_data(ROW_DESCRIPTION + _data_row(aid % 1000) + COMPLETE + READY)


PARSE_TEXT = b"SELECT abalance FROM pgbench_accounts WHERE aid = $1;"


def extended_round(relay: Relay, aid: int) -> None:
    """pgbench -M extended: the unnamed statement parsed again each time."""
    parse = encode.message("P", b"\x00" + PARSE_TEXT + b"\x00" + struct.pack("!h", 0))
    relay.client_data(parse + _bind(b"", aid) + _describe_portal() + EXECUTE + SYNC)
    relay.upstream_data(
        PARSE_COMPLETE + BIND_COMPLETE + ROW_DESCRIPTION + _data_row(aid % 1000) + COMPLETE + READY
    )


def prepare(relay: Relay) -> None:
    parse = encode.message("P", b"P0_1\x00" + PARSE_TEXT + b"\x00" + struct.pack("!h", 0))
    relay.client_data(parse + SYNC)
    relay.upstream_data(PARSE_COMPLETE + READY)


def prepared_round(relay: Relay, aid: int) -> None:
    relay.client_data(_bind(b"P0_1", aid) + _describe_portal() + EXECUTE + SYNC)
    relay.upstream_data(BIND_COMPLETE + ROW_DESCRIPTION + _data_row(aid % 1000) + COMPLETE + READY)


def measure(mode: str, rounds: int, masking: bool, profile: bool) -> float:
    relay, to_client, to_upstream = build(masking)
    rng = random.Random(7)
    aids = [rng.randrange(1, 1_000_000) for _ in range(rounds)]
    run = {"simple": simple_round, "extended": extended_round, "prepared": prepared_round}[mode]
    if mode == "prepared":
        prepare(relay)
    for aid in aids[:500]:  # warm the caches, as a running session has them
        run(relay, aid)
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    for aid in aids:
        run(relay, aid)
        if len(to_client) > 1000:
            to_client.clear()
            to_upstream.clear()
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return elapsed / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="cProfile, top functions")
    parser.add_argument("--no-masking", action="store_true")
    args = parser.parse_args()
    for mode in ("simple", "extended", "prepared"):
        us = measure(mode, args.rounds, not args.no_masking, args.profile)
        print(f"{mode:9s} {us:7.1f} µs per round (masking {'off' if args.no_masking else 'on'})")


if __name__ == "__main__":
    main()
