"""Prometheus metrics; the adapters' ``SessionObserver``.

With several worker processes, prometheus_client's multiprocess mode (a directory of mmap
files, set through PROMETHEUS_MULTIPROC_DIR before this module is imported) lets any worker
answer a scrape with the sum over all of them. Labels are connection names, outcomes and
verdicts: never identities, statement text or values.
"""

from __future__ import annotations

import os

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
        self.bytes = Counter(
            "proctor_bytes", "Bytes relayed, by direction.", ["direction"], registry=reg
        )
        self.errors = Counter(
            "proctor_protocol_errors", "Protocol violations, by side.", ["side"], registry=reg
        )
        self.latency = Histogram(
            "proctor_statement_added_latency_seconds",
            "Time the gateway itself spent on each statement (both directions).",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self._latency_observe = self.latency.observe
        self._stmt_children: dict[tuple[str, str], Counter] = {}

    # SessionObserver
    def session_opened(self, connection: str) -> None:
        self.active.labels(connection).inc()

    def session_closed(self, connection: str, outcome: str) -> None:
        self.active.labels(connection).dec()
        self.sessions.labels(connection, outcome).inc()

    def auth_failed(self, reason: str) -> None:
        self.auth_failures.labels(reason).inc()

    def statement(self, connection: str, verdict: str) -> None:
        key = (connection, verdict)
        child = self._stmt_children.get(key)
        if child is None:
            child = self._stmt_children[key] = self.statements.labels(connection, verdict)
        child.inc()

    def bytes_moved(self, client_to_server: int, server_to_client: int) -> None:
        self.bytes.labels("client_to_server").inc(client_to_server)
        self.bytes.labels("server_to_client").inc(server_to_client)

    def protocol_error(self, side: str) -> None:
        self.errors.labels(side).inc()

    def added_latency(self, seconds: float) -> None:
        self._latency_observe(seconds)

    def render(self) -> tuple[bytes, str]:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
