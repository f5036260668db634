"""Policy decision cost: median microseconds per ``Policy.decide`` with the demo policy.

    .venv/bin/python -m bench.policy_decision            # the table
    .venv/bin/python -m bench.policy_decision --json     # for scripts

The statement is analyzed once beforehand (the gateway caches analysis by statement text), so
this measures the decision alone: the budget is 20 us median for a typical statement. Each
sample times a batch of decisions with ``perf_counter_ns`` and divides; the median of the
samples is reported, with the 90th percentile of samples to show the spread.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import statistics
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from proctor.model import Access, Identity, Operation, RelationRef, Statement
from proctor.policy import DecisionContext, Policy, make_connection

BUDGET_US = 20.0
BATCH = 200
SAMPLES = 300

CASES = [
    # (label, subject, groups, SQL text)
    ("alice SELECT orders (typical)", "alice", ("analyst",), "SELECT * FROM orders WHERE id = $1"),
    ("alice SELECT customers (alert)", "alice", ("analyst",), "SELECT email FROM customers"),
    (
        "alice UPDATE ... WHERE (review)",
        "alice",
        ("analyst",),
        "UPDATE orders SET x = 1 WHERE id = 2",
    ),
    ("alice DELETE without WHERE", "alice", ("analyst",), "DELETE FROM orders"),
    ("alice DROP TABLE (deny)", "alice", ("analyst",), "DROP TABLE customers"),
    ("admin DROP TABLE (allow)", "admin", ("admin",), "DROP TABLE scratch"),
    ("alice DO block (fail-closed)", "alice", ("analyst",), "DO $$ BEGIN NULL; END $$"),
]


def demo_policy_path() -> Path:
    return Path(str(resources.files("proctor.demo").joinpath("policy.yaml")))


def analyze(text: str) -> Statement:
    try:
        from proctor.sql import analyze_postgres
    except ImportError:  # before the analyzer exists: a hand-built equivalent
        return _by_hand(text)
    statement: Statement = analyze_postgres(text)
    return statement


def _by_hand(text: str) -> Statement:
    word = text.split()[0].lower()
    operation = {"do": Operation.DO, "drop": Operation.DROP}.get(word, Operation(word))
    table = text.split("FROM ")[-1].split()[0] if "FROM" in text else text.split()[-1]
    access = Access.READ if operation is Operation.SELECT else Access.WRITE
    filtered = "WHERE" in text or word not in ("update", "delete")
    return Statement(
        text=text,
        operation=operation,
        effects=frozenset({operation}),
        relations=(RelationRef(table, None, access),),
        unfiltered=frozenset() if filtered else frozenset({operation}),
        complete=operation is not Operation.DO,
    )


def measure(policy: Policy) -> list[dict[str, object]]:
    connection = make_connection("shop", {"env": "demo", "data": "pii"})
    context = DecisionContext(client_addr="127.0.0.1", now=datetime.now(UTC))
    rows = []
    for label, subject, groups, text in CASES:
        statement = analyze(text)
        identity = Identity(subject, frozenset(groups))
        decide = policy.decide
        verdict = decide(statement, identity, connection, context)
        samples = []
        gc.disable()
        try:
            for _ in range(SAMPLES):
                start = time.perf_counter_ns()
                for _ in range(BATCH):
                    decide(statement, identity, connection, context)
                samples.append((time.perf_counter_ns() - start) / BATCH / 1000)
        finally:
            gc.enable()
        samples.sort()
        rows.append(
            {
                "case": label,
                "verdict": f"{verdict.action.value} ({verdict.rule or 'default'})",
                "median_us": round(statistics.median(samples), 2),
                "p90_us": round(samples[int(len(samples) * 0.9)], 2),
                "first_sight_us": round(_first_sight(policy, statement, identity), 2),
            }
        )
    return rows


def _first_sight(policy: Policy, statement: Statement, identity: Identity) -> float:
    """Median us for a Statement object the policy has not seen (no remembered matches)."""
    connection = make_connection("shop", {"env": "demo", "data": "pii"})
    context = DecisionContext(client_addr="127.0.0.1", now=datetime.now(UTC))
    samples = []
    for _ in range(SAMPLES // 3):
        copies = [dataclasses.replace(statement) for _ in range(BATCH)]
        start = time.perf_counter_ns()
        for copy in copies:
            policy.decide(copy, identity, connection, context)
        samples.append((time.perf_counter_ns() - start) / BATCH / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", type=Path, default=None, help="default: the demo policy")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    path = args.policy or demo_policy_path()
    policy = Policy.load(path)
    rows = measure(policy)
    worst = max(float(str(row["median_us"])) for row in rows)
    if args.json:
        print(json.dumps({"policy": str(path), "rules": len(policy.rules), "cases": rows}))
        return
    print(f"Policy.decide, {path} ({len(policy.rules)} rules); budget {BUDGET_US} us median\n")
    print(f"| {'case':<34} | {'verdict':<36} | median us | p90 us | first sight us |")
    print(f"|{'-' * 36}|{'-' * 38}|-----------|--------|----------------|")
    for row in rows:
        print(
            f"| {row['case']!s:<34} | {row['verdict']!s:<36} | {row['median_us']!s:>9} "
            f"| {row['p90_us']!s:>6} | {row['first_sight_us']!s:>14} |"
        )
    print(
        "\nmedian/p90: the same (cached) Statement object each time, as the gateway sees a "
        "repeated statement;\nfirst sight: a Statement object the policy has not seen before."
    )
    verdict = "within" if worst <= BUDGET_US else "OVER"
    print(f"\nslowest median: {worst} us ({verdict} the {BUDGET_US} us budget)")


if __name__ == "__main__":
    main()
