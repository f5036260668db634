"""asyncpg's own test suite, directly and through Proctor, in one test.

The suite ships in asyncpg's sdist (scripts/fetch-asyncpg-tests.sh caches it for the version in
requirements.lock). With PGHOST set, its test base uses that running server as a superuser
instead of starting its own cluster. It runs first directly (PGUSER=postgres), then through the
gateway as the identity `compat` with an access token over TLS (verify-full), and every test
that passes directly must pass through Proctor unless asyncpg_exclusions.txt names it with a
reason. A test that fails through Proctor is run once more on its own before it counts (it is
reported as flaky if it then passes). The comparison is written as asyncpg-summary.json to
$PROCTOR_COMPAT_RESULTS (or the test's temp dir).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from proctor.demo.pgcluster import PgCluster
from tests.compat import runners
from tests.integration.conftest import Gateway
from tests.pg import need

pytestmark = pytest.mark.compat

EXCLUSIONS = Path(__file__).with_name("asyncpg_exclusions.txt")
IDENTITY = "compat"
# Databases the suite connects to by name (it creates the last two itself). Through Proctor
# the dbname is a connection name, so each is a connection of the same name.
DATABASES = ["postgres", "testdb", "asyncpg_intro_test"]


@pytest.mark.timeout(900)
def test_asyncpg_suite_passes_through_gateway(
    compat_cluster: PgCluster,
    compat_gateway: Callable[[PgCluster, list[str], str], Gateway],
    tmp_path: Path,
) -> None:
    tests, why = runners.find_asyncpg_tests()
    need(tests is not None, why)
    assert tests is not None
    exclusions = runners.load_exclusions(EXCLUSIONS)
    cluster = compat_cluster

    direct = runners.run_asyncpg_suite(
        tests,
        tmp_path / "direct",
        name="asyncpg",
        env=runners.clean_env(
            PGHOST=cluster.host,
            PGPORT=str(cluster.port),
            PGUSER=cluster.superuser,
            PGPASSWORD=cluster.password,
            PGDATABASE="postgres",
            PGSSLMODE="disable",
        ),
    )
    results = runners.results_dir(tmp_path)
    runners.keep_log(direct, results / "asyncpg-direct.log")
    # The comparison means something only if the suite runs here: it must collect, and
    # nearly all of what is not skipped must pass directly.
    collection_errors = [t for t in direct.outcomes if "::" not in t]
    assert not collection_errors, runners.log_tail(direct.log)
    broken = direct.ids("failed") | direct.ids("error")
    assert len(broken) * 10 < len(direct.ids(runners.PASSED)), runners.log_tail(direct.log)

    gw = compat_gateway(cluster, DATABASES, IDENTITY)
    proxied_env = runners.clean_env(
        PGHOST=gw.host,
        PGPORT=str(gw.port),
        PGUSER=IDENTITY,
        PGPASSWORD=gw.tokens[IDENTITY],
        PGDATABASE="postgres",
        PGSSLMODE="verify-full",
        PGSSLROOTCERT=str(gw.ca_file),
    )
    proxied = runners.run_asyncpg_suite(
        tests, tmp_path / "proxied", name="asyncpg", env=proxied_env
    )
    runners.keep_log(proxied, results / "asyncpg-proxied.log")
    comparison = runners.Comparison(direct, proxied, exclusions)

    if comparison.regressions:
        again = runners.run_asyncpg_suite(
            tests,
            tmp_path / "proxied-again",
            name="asyncpg",
            env=proxied_env,
            select=comparison.regressions,
        )
        runners.keep_log(again, results / "asyncpg-proxied-again.log")
        for test_id in comparison.regressions:
            if again.outcomes.get(test_id) == runners.PASSED:
                comparison.flaky[test_id] = f"{proxied.outcomes.get(test_id)}, then passed"

    summary = runners.write_summary(comparison, results)
    print(f"asyncpg comparison: {summary}\n{comparison.explain()}")
    assert not comparison.unknown_exclusions, "exclusions name tests that do not exist"
    assert not comparison.regressions, (
        f"pass directly, fail through Proctor: {comparison.regressions}\n"
        f"{runners.log_tail(proxied.log, 8000)}\ngateway log:\n{gw.log()[-3000:]}"
    )
