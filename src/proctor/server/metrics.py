"""Prometheus metrics; the adapters' ``SessionObserver``.

With several worker processes, prometheus_client's multiprocess mode (a directory of mmap
files, set through PROMETHEUS_MULTIPROC_DIR before this module is imported) lets any worker
answer a scrape with the sum over all of them. Labels are connection names, outcomes and
verdicts: never identities, statement text or values.
"""

from __future__ import annotations

import os
from bisect import bisect_left

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Added latency per statement is gateway CPU time: microseconds, not milliseconds.
LATENCY_BUCKETS = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.05,
)


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = MULTIPROC_ENV in os.environ
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.sessions = Counter(
            "proctor_sessions",
            "Sessions ended, by connection and outcome.",
            ["connection", "outcome"],
            registry=reg,
        )
        self.active = Gauge(
            "proctor_sessions_active",
            "Sessions open now.",
            ["connection"],
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.auth_failures = Counter(
            "proctor_auth_failures", "Failed client authentications.", ["reason"], registry=reg
        )
        self.statements = Counter(
            "proctor_statements",
            "Commands seen, by connection and verdict.",
            ["connection", "verdict"],
            registry=reg,
        )
        self.denials = Counter(
            "proctor_policy_denials",
            "Commands refused or held by policy, by connection and rule.",
            ["connection", "rule"],
            registry=reg,
        )
        self.masked = Counter(
            "proctor_masked_values",
            "Values masked in results, by connection and entity type.",
            ["connection", "entity"],
            registry=reg,
        )
        self.bytes = Counter(
            "proctor_bytes", "Bytes relayed, by direction.", ["direction"], registry=reg
        )
        self.errors = Counter(
            "proctor_protocol_errors", "Protocol violations, by side.", ["side"], registry=reg
        )
        self.backlog_waits = Counter(
            "proctor_recording_backlog_waits",
            "Times a session stopped reading its server until the recording caught up.",
            registry=reg,
        )
        self.latency = Histogram(
            "proctor_statement_added_latency_seconds",
            "Time the gateway itself spent on each statement (both directions).",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        # Per-statement figures are counted in plain Python and handed to prometheus_client
        # in bulk by flush(): its per-call locking cost more than everything else the gateway
        # does for a statement (profiled with pgbench -S).
        self._bounds = [*LATENCY_BUCKETS, float("inf")]
        self._lat_counts = [0] * len(self._bounds)
        self._lat_sum = 0.0
        self._pending_statements: dict[tuple[str, str], int] = {}

    # SessionObserver
    def session_opened(self, connection: str) -> None:
        self.active.labels(connection).inc()

    def recording_backlog(self) -> None:
        self.backlog_waits.inc()

    def session_closed(self, connection: str, outcome: str) -> None:
        self.active.labels(connection).dec()
        self.sessions.labels(connection, outcome).inc()

    def auth_failed(self, reason: str) -> None:
        self.auth_failures.labels(reason).inc()

    def statement(self, connection: str, verdict: str) -> None:
        pending = self._pending_statements
        key = (connection, verdict)
        pending[key] = pending.get(key, 0) + 1

    def denial(self, connection: str, rule: str) -> None:
        self.denials.labels(connection, rule).inc()

    def masked_values(self, connection: str, counts: dict[str, int]) -> None:
        for entity, n in counts.items():
            self.masked.labels(connection, entity).inc(n)

    def bytes_moved(self, client_to_server: int, server_to_client: int) -> None:
        self.bytes.labels("client_to_server").inc(client_to_server)
        self.bytes.labels("server_to_client").inc(server_to_client)

    def protocol_error(self, side: str) -> None:
        self.errors.labels(side).inc()

    def added_latency(self, seconds: float) -> None:
        self._lat_counts[bisect_left(self._bounds, seconds)] += 1
        self._lat_sum += seconds

    def flush(self) -> None:
        """Move the locally counted figures into the exported metrics."""
        pending, self._pending_statements = self._pending_statements, {}
        for (connection, verdict), count in pending.items():
            self.statements.labels(connection, verdict).inc(count)
        counts, self._lat_counts = self._lat_counts, [0] * len(self._bounds)
        total, self._lat_sum = self._lat_sum, 0.0
        if any(counts):
            # Histogram keeps one (non-cumulative) value per bucket plus a sum; observe() adds
            # 1 to the first bucket whose bound holds the amount, exactly what this adds in bulk.
            # tests/unit/server/test_metrics.py checks the export equals observe()'s.
            buckets = self.latency._buckets
            for index, count in enumerate(counts):
                if count:
                    buckets[index].inc(count)
            self.latency._sum.inc(total)

    def render(self) -> tuple[bytes, str]:
        self.flush()
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
