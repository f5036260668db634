"""The comparison machinery itself: parsing pg_regress output, exclusion files, the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat import runners

pytestmark = pytest.mark.compat

HERE = Path(__file__).parent

PG_REGRESS_OUTPUT = """\
============== running regression test queries        ==============
test tablespace                   ... ok          411 ms
parallel group (20 tests):  char int2 name
     boolean                      ... ok           85 ms
     char                         ... FAILED       30 ms
     int2                         ... failed (ignored)       12 ms
test test_setup                   ... FAILED (test process exited with exit code 2)      132 ms
"""


def test_pg_regress_output_is_parsed_per_test() -> None:
    assert runners.parse_pg_regress(PG_REGRESS_OUTPUT) == {
        "tablespace": "passed",
        "boolean": "passed",
        "char": "failed",
        "int2": "failed",
        "test_setup": "failed",
    }


@pytest.mark.parametrize("name", ["pg_regress_exclusions.txt", "asyncpg_exclusions.txt"])
def test_exclusion_files_parse_and_give_reasons(name: str) -> None:
    exclusions = runners.load_exclusions(HERE / name)
    assert all(len(reason) > 10 for reason in exclusions.values())


def test_an_exclusion_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("# comment\ntests/a.py::test_b\n")
    with pytest.raises(ValueError, match="no reason"):
        runners.load_exclusions(path)


def _run(outcomes: dict[str, str]) -> runners.SuiteRun:
    return runners.SuiteRun("s", outcomes, 1.0, Path("/nonexistent"))


def test_comparison_counts_only_unexcused_losses() -> None:
    direct = _run({"a": "passed", "b": "passed", "c": "passed", "d": "failed", "e": "passed"})
    proxied = _run({"a": "passed", "b": "failed", "c": "error", "d": "passed"})
    comparison = runners.Comparison(direct, proxied, {"c": "reason", "zz": "reason"})
    comparison.flaky["e"] = "missing, then passed"
    assert comparison.regressions == ["b"]
    assert comparison.excluded_failures == ["c"]
    assert comparison.unknown_exclusions == ["zz"]
    assert comparison.summary()["failed_direct_passed_proxied"] == ["d"]
