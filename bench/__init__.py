"""Benchmark harness: direct PostgreSQL vs pgbouncer (session mode) vs Proctor.

Run from the repository root with ``make bench`` or ``.venv/bin/python -m bench.run --help``.
See BENCHMARKS.md for what each figure means.

Modules:
  run        command line, orchestration (setup, alternating rounds, cleanup)
  targets    starting and stopping what is measured: the Proctor demo, pgbouncer, a fallback
             PostgreSQL when the demo cannot start
  workloads  pgbench and the large-result stream, with their output parsers
  procstat   CPU time of a process tree from /proc (the proxy's cost per transaction)
  report     aggregation over rounds, the Markdown tables, machine facts, the JSON file
"""
