"""Bulk-flushed metrics export exactly what per-call prometheus_client updates would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from proctor.server.metrics import LATENCY_BUCKETS, Metrics


def test_flushed_histogram_matches_observe() -> None:
    rng = random.Random(7)
    samples = [rng.choice([0.0, 1e-6, 0.00001, 0.0003, 0.002, 0.05, 0.5, 3.0]) for _ in range(500)]
    metrics = Metrics()
    for s in samples:
        metrics.added_latency(s)
    metrics.flush()
    reference_registry = CollectorRegistry()
    reference = Histogram(
        "proctor_statement_added_latency_seconds",
        "x",
        buckets=LATENCY_BUCKETS,
        registry=reference_registry,
    )
    for s in samples:
        reference.observe(s)

    def lines(text: bytes) -> list[str]:
        return [
            line
            for line in text.decode().splitlines()
            if line.startswith("proctor_statement_added_latency_seconds_")
            and "_created" not in line
        ]

    assert lines(metrics.render()[0]) == lines(generate_latest(reference_registry))


def test_statements_are_counted_per_connection_and_verdict() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.statement("shop", "allow")
    metrics.statement("shop", "refused")
    text = metrics.render()[0].decode()
    assert 'proctor_statements_total{connection="shop",verdict="allow"} 3.0' in text
    assert 'proctor_statements_total{connection="shop",verdict="refused"} 1.0' in text
    metrics.statement("shop", "allow")
    assert 'verdict="allow"} 4.0' in metrics.render()[0].decode()
