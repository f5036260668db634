"""PostgreSQL's own regression suite, directly and through Proctor, in one test.

pg_regress (installcheck, parallel schedule) from the Debian source package of the installed
server, fetched by scripts/fetch-pg-regress.sh. It runs first against the cluster, then through
the gateway with psql connecting over TLS (verify-full against the gateway's CA) with an
access token. Every test that passes directly must pass through Proctor unless
pg_regress_exclusions.txt names it with a reason. The comparison is written as
pg_regress-summary.json to $PROCTOR_COMPAT_RESULTS (or the test's temp dir).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from proctor.demo.pgcluster import PgCluster, find_pg_bin
from tests.compat import runners
from tests.integration.conftest import Gateway
from tests.pg import need

pytestmark = pytest.mark.compat

EXCLUSIONS = Path(__file__).with_name("pg_regress_exclusions.txt")
IDENTITY = "regress"
# pg_regress connects to `postgres` to drop and create `regression`, then runs every test in
# `regression`: both names must be Proctor connections.
DATABASES = ["postgres", "regression"]
# Up to 20 tests run at once in the parallel schedule's biggest groups; on 2 cores more
# concurrency only adds contention. Measured here: ~50 s per run either way.
MAX_CONCURRENT = 20


@pytest.mark.timeout(900)
def test_pg_regress_passes_through_gateway(
    compat_cluster: PgCluster,
    compat_gateway: Callable[[PgCluster, list[str], str], Gateway],
    server_readable_dir: Path,
    tmp_path: Path,
) -> None:
    install, why = runners.find_pg_regress(find_pg_bin())
    need(install is not None, why)
    assert install is not None
    exclusions = runners.load_exclusions(EXCLUSIONS)
    work = server_readable_dir
    inputdir, dlpath = runners.stage_pg_regress(install, work / "suite")
    cluster = compat_cluster
    results = runners.results_dir(tmp_path)

    direct = runners.run_pg_regress(
        install,
        inputdir,
        dlpath,
        work / "direct",
        name="pg_regress",
        host=cluster.host,
        port=cluster.port,
        user=cluster.superuser,
        env=runners.clean_env(PGPASSWORD=cluster.password, PGSSLMODE="disable"),
        max_concurrent=MAX_CONCURRENT,
    )
    runners.keep_pg_regress_output(direct, results / "pg_regress-direct")
    # The comparison means something only if the suite is sound here: every scheduled test
    # must report, and pass, when run directly.
    scheduled = install.schedule_tests()
    assert sorted(direct.outcomes) == sorted(scheduled), runners.log_tail(direct.log)
    assert direct.ids(runners.PASSED) == set(scheduled), (
        "the direct run must pass fully (a broken installation, not the gateway):\n"
        + runners.log_tail(direct.log.with_name("regression.diffs"), 6000)
    )

    gw = compat_gateway(cluster, DATABASES, IDENTITY)
    proxied = runners.run_pg_regress(
        install,
        inputdir,
        dlpath,
        work / "proxied",
        name="pg_regress",
        host=gw.host,
        port=gw.port,
        user=IDENTITY,
        env=runners.clean_env(
            PGPASSWORD=gw.tokens[IDENTITY],
            PGSSLMODE="verify-full",
            PGSSLROOTCERT=str(gw.ca_file),
        ),
        max_concurrent=MAX_CONCURRENT,
    )

    runners.keep_pg_regress_output(proxied, results / "pg_regress-proxied")
    comparison = runners.Comparison(direct, proxied, exclusions)
    summary = runners.write_summary(comparison, results)
    print(f"pg_regress comparison: {summary}\n{comparison.explain()}")
    assert not comparison.unknown_exclusions, "exclusions name tests that do not exist"
    diffs = results / "pg_regress-proxied" / "regression.diffs"
    assert not comparison.regressions, (
        f"pass directly, fail through Proctor: {comparison.regressions}\n"
        f"{runners.log_tail(diffs, 8000)}\ngateway log:\n{gw.log()[-3000:]}"
    )
