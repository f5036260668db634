"""A pytest plugin loaded into asyncpg's own test run: writes every test's outcome as JSON.

One outcome per test id: "failed" when any phase or subtest failed, "error" when setup or
teardown failed, "skipped" when it was skipped, else "passed". The path comes from
$PROCTOR_COMPAT_OUTCOMES. Kept free of project imports: it runs inside the asyncpg tree.
"""

from __future__ import annotations

import json
import os
from typing import Any

_outcomes: dict[str, str] = {}
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def _note(nodeid: str, outcome: str) -> None:
    old = _outcomes.get(nodeid)
    if old is None or _RANK[outcome] > _RANK[old]:
        _outcomes[nodeid] = outcome


def pytest_runtest_logreport(report: Any) -> None:
    if report.passed:
        if report.when == "call":
            _note(report.nodeid, "passed")
    elif report.skipped:
        _note(report.nodeid, "skipped")
    elif report.when == "call":  # the test itself, or one of its subtests
        _note(report.nodeid, "failed")
    else:
        _note(report.nodeid, "error")


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _note(report.nodeid, "error")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("PROCTOR_COMPAT_OUTCOMES")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(_outcomes, f, indent=0, sort_keys=True)
