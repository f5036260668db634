"""Cost of SQL analysis per statement: parse + walk (uncached) and the cached lookup.

    .venv/bin/python -m bench.sql_analysis              # default: 2000 runs per statement
    .venv/bin/python -m bench.sql_analysis --runs 500

Prints, per statement, the median microseconds of: libpg_query's JSON parse alone
(``parse_sql_json``), ``pglast.parse_sql`` (pglast's Python node objects, for comparison:
the analyzer does not use it), the full uncached analysis (``analyze_postgres``) and a
cached ``Analyzer.analyze`` (the hot path: the issue's budget is 20 µs median).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

from pglast import parse_sql
from pglast.parser import parse_sql_json

from proctor.sql import Analyzer, analyze_postgres

STATEMENTS: dict[str, str] = {
    "pgbench select": "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
    "pgbench update": "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
    "insert values": "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
    "VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
    "join + cte": "WITH recent AS (SELECT * FROM orders WHERE placed > now() - interval '1 day') "
    "SELECT c.name, sum(r.total) FROM customers c JOIN recent r ON r.customer_id = c.id "
    "WHERE c.region = $1 GROUP BY c.name ORDER BY 2 DESC LIMIT 20",
    "orm-style select": "SELECT t0.id, t0.name, t0.email, t0.created_at, t1.id, t1.total "
    "FROM customers AS t0 LEFT OUTER JOIN orders AS t1 ON t1.customer_id = t0.id "
    "WHERE t0.id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10) AND t0.deleted_at IS NULL",
    "create table": "CREATE TABLE IF NOT EXISTS audit (id bigserial PRIMARY KEY, "
    "at timestamptz DEFAULT now(), who text NOT NULL, what jsonb)",
}


def median_us(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        action()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--runs", type=int, default=2000, help="runs per statement and path")
    runs = options.parse_args().runs
    analyzer = Analyzer()
    print(f"median µs per statement over {runs} runs\n")
    print("| statement | libpg_query JSON | pglast.parse_sql | analyze (uncached) | cached |")
    print("|---|---:|---:|---:|---:|")
    for name, text in STATEMENTS.items():
        analyzer.analyze(text)
        parse_json = median_us(partial(parse_sql_json, text), runs)
        parse_objects = median_us(partial(parse_sql, text), max(runs // 10, 50))
        uncached = median_us(partial(analyze_postgres, text), runs)
        cached = median_us(partial(analyzer.analyze, text), runs)
        print(
            f"| {name} | {parse_json:.1f} | {parse_objects:.1f} | {uncached:.1f} | {cached:.2f} |"
        )


if __name__ == "__main__":
    main()
