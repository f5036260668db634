"""Run third-party suites against a PostgreSQL endpoint and compare two runs of them.

Each suite is run twice in one test: once directly against the cluster, once through the
gateway, with the same sources, the same cluster and the same client. The comparison is per
test: every test that passes directly must pass through Proctor, unless an exclusion file
names it with a reason. Sources are never in the work tree: scripts/fetch-pg-regress.sh and
scripts/fetch-asyncpg-tests.sh put them in a cache (see `cache_root`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
ASYNCPG_SUPPORT = HERE / "asyncpg_support"
PASSED = "passed"


def cache_root() -> Path:
    """Where the fetch scripts keep downloaded suites (same rule as in the scripts)."""
    explicit = os.environ.get("PROCTOR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "proctor"


def clean_env(**values: str) -> dict[str, str]:
    """The environment minus every libpq variable, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(values)
    return env


# -- results -------------------------------------------------------------------------------


@dataclass
class SuiteRun:
    name: str
    outcomes: dict[str, str]  # test id -> passed | failed | error | skipped
    seconds: float
    log: Path

    def ids(self, outcome: str) -> set[str]:
        return {t for t, o in self.outcomes.items() if o == outcome}

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.outcomes.values()).items()))


def load_exclusions(path: Path) -> dict[str, str]:
    """`<test id> <reason>` per line; `#` starts a comment line. A reason is required."""
    exclusions: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path.name}:{number}: {test_id} has no reason")
        if test_id in exclusions:
            raise ValueError(f"{path.name}:{number}: {test_id} is listed twice")
        exclusions[test_id] = reason.strip()
    return exclusions


@dataclass
class Comparison:
    direct: SuiteRun
    proxied: SuiteRun
    exclusions: Mapping[str, str]
    flaky: dict[str, str] = field(default_factory=dict)  # failed once through Proctor, then passed

    @property
    def regressions(self) -> list[str]:
        """Passed directly, did not pass through Proctor, and not excluded."""
        lost = self.direct.ids(PASSED) - self.proxied.ids(PASSED)
        return sorted(t for t in lost if t not in self.exclusions and t not in self.flaky)

    @property
    def excluded_failures(self) -> list[str]:
        lost = self.direct.ids(PASSED) - self.proxied.ids(PASSED)
        return sorted(t for t in lost if t in self.exclusions)

    @property
    def exclusions_passing(self) -> list[str]:
        """Excluded tests that passed both ways this time (a stale entry, or a timing one)."""
        both = self.direct.ids(PASSED) & self.proxied.ids(PASSED)
        return sorted(t for t in self.exclusions if t in both)

    @property
    def unknown_exclusions(self) -> list[str]:
        known = set(self.direct.outcomes) | set(self.proxied.outcomes)
        return sorted(t for t in self.exclusions if t not in known)

    def summary(self) -> dict[str, object]:
        return {
            "suite": self.direct.name,
            "direct": {"counts": self.direct.counts(), "seconds": round(self.direct.seconds, 1)},
            "proxied": {
                "counts": self.proxied.counts(),
                "seconds": round(self.proxied.seconds, 1),
            },
            "passed_direct": len(self.direct.ids(PASSED)),
            "passed_proxied": len(self.proxied.ids(PASSED)),
            "passed_both": len(self.direct.ids(PASSED) & self.proxied.ids(PASSED)),
            "regressions": self.regressions,
            "excluded_failures": {t: self.proxied.outcomes.get(t) for t in self.excluded_failures},
            "flaky_through_proxy": self.flaky,
            "exclusions_passing": self.exclusions_passing,
            "unknown_exclusions": self.unknown_exclusions,
            "failed_direct_passed_proxied": sorted(
                self.proxied.ids(PASSED) - self.direct.ids(PASSED)
            ),
        }

    def explain(self) -> str:
        return json.dumps(self.summary(), indent=2)


def write_summary(comparison: Comparison, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{comparison.direct.name}-summary.json"
    path.write_text(comparison.explain() + "\n")
    return path


def results_dir(fallback: Path) -> Path:
    """$PROCTOR_COMPAT_RESULTS when set (kept after the run), else a pytest temp dir."""
    explicit = os.environ.get("PROCTOR_COMPAT_RESULTS")
    return Path(explicit) if explicit else fallback


# -- pg_regress ----------------------------------------------------------------------------


def installed_server_version(package: str) -> str | None:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


@dataclass(frozen=True)
class PgRegressInstall:
    major: str
    sources: Path  # the cache: sql/, expected/, data/, parallel_schedule, lib/regress.so

    @property
    def pg_regress(self) -> Path:
        return Path(f"/usr/lib/postgresql/{self.major}/lib/pgxs/src/test/regress/pg_regress")

    @property
    def bindir(self) -> Path:
        return Path(f"/usr/lib/postgresql/{self.major}/bin")

    @property
    def pkglibdir(self) -> Path:
        return Path(f"/usr/lib/postgresql/{self.major}/lib")

    def schedule_tests(self) -> list[str]:
        tests: list[str] = []
        for line in (self.sources / "parallel_schedule").read_text().splitlines():
            if line.startswith("test:"):
                tests.extend(line.split(":", 1)[1].split())
        return tests


def find_pg_regress(bin_dir: Path) -> tuple[PgRegressInstall | None, str]:
    """The cached suite for the installed server, or None and why not."""
    major = bin_dir.parent.name
    version = installed_server_version(f"postgresql-{major}")
    if version is None:
        return None, f"postgresql-{major} is not installed as a Debian package"
    sources = cache_root() / "pg-regress" / version
    install = PgRegressInstall(major, sources)
    if not (sources / ".complete").exists():
        return None, f"no regression suite in {sources}: run scripts/fetch-pg-regress.sh"
    if not install.pg_regress.exists():
        return None, f"{install.pg_regress} missing: apt-get install postgresql-client-{major}"
    return install, ""


def stage_pg_regress(install: PgRegressInstall, workdir: Path) -> tuple[Path, Path]:
    """Copy the suite where the server can read it; returns (inputdir, dlpath).

    The server itself reads the data files (server-side COPY) and loads regress.so, and it
    runs as another user than the test (`postgres` when we are root): the cache under a home
    directory may not be readable to it, so the tree is copied to a world-readable place.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    inputdir = workdir / "regress"
    shutil.copytree(install.sources, inputdir, ignore=shutil.ignore_patterns("lib", ".complete"))
    dlpath = workdir / "lib"
    dlpath.mkdir()
    shutil.copy2(install.sources / "lib" / "regress.so", dlpath / "regress.so")
    # contrib's spi modules, used by the triggers test, from the installed server.
    for name in ("autoinc.so", "refint.so"):
        (dlpath / name).symlink_to(install.pkglibdir / name)
    for path in [workdir, *workdir.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return inputdir, dlpath


_PG_REGRESS_LINE = re.compile(
    r"^(?:test\s+|\s+)(?P<name>\S+)\s+\.\.\.\s+(?P<status>ok|FAILED|failed \(ignored\))"
)


def parse_pg_regress(output: str) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for line in output.splitlines():
        m = _PG_REGRESS_LINE.match(line)
        if m:
            outcomes[m["name"]] = PASSED if m["status"] == "ok" else "failed"
    return outcomes


def run_pg_regress(
    install: PgRegressInstall,
    inputdir: Path,
    dlpath: Path,
    outputdir: Path,
    *,
    name: str,
    host: str,
    port: int,
    user: str,
    env: Mapping[str, str],
    max_concurrent: int,
    timeout: float = 600,
) -> SuiteRun:
    """pg_regress installcheck with the parallel schedule.

    pg_regress itself drops and creates the `regression` database through a connection to
    the `postgres` database, so the endpoint must answer dbname=postgres and dbname=regression.
    """
    outputdir.mkdir(parents=True)
    # Server-side COPY ... TO writes into results/, as the server's user.
    (outputdir / "results").mkdir()
    outputdir.chmod(0o777)
    (outputdir / "results").chmod(0o777)
    argv = [
        str(install.pg_regress),
        f"--inputdir={inputdir}",
        f"--outputdir={outputdir}",
        f"--bindir={install.bindir}",
        f"--dlpath={dlpath}",
        f"--schedule={inputdir / 'parallel_schedule'}",
        f"--max-concurrent-tests={max_concurrent}",
        f"--host={host}",
        f"--port={port}",
        f"--user={user}",
    ]
    log = outputdir / "pg_regress.log"
    started = time.monotonic()
    with log.open("w") as out:
        subprocess.run(
            argv,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    seconds = time.monotonic() - started
    return SuiteRun(name, parse_pg_regress(log.read_text(errors="replace")), seconds, log)


def keep_pg_regress_output(run: SuiteRun, directory: Path) -> None:
    """Copy the log and the diffs out of the scratch directory, which is removed."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("pg_regress.log", "regression.diffs", "regression.out"):
        source = run.log.with_name(name)
        if source.exists():
            shutil.copy2(source, directory / name)


# -- asyncpg -------------------------------------------------------------------------------


def installed_asyncpg_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("asyncpg")
    except PackageNotFoundError:
        return None


def find_asyncpg_tests() -> tuple[Path | None, str]:
    version = installed_asyncpg_version()
    if version is None:
        return None, "asyncpg is not installed in this environment"
    tests = cache_root() / "asyncpg-tests" / version
    if not (tests / ".complete").exists():
        return None, f"no asyncpg test suite in {tests}: run scripts/fetch-asyncpg-tests.sh"
    return tests / "tests", ""


_ASYNCPG_INI = """\
[pytest]
addopts = --assert=plain --tb=short --import-mode=importlib -p no:cacheprovider
    -p proctor_compat_outcomes -q -rfE
filterwarnings = default
asyncio_default_fixture_loop_scope = function
timeout = {timeout}
"""


def run_asyncpg_suite(
    tests: Path,
    workdir: Path,
    *,
    name: str,
    env: Mapping[str, str],
    select: Iterable[str] = (),
    per_test_timeout: int = 120,
    timeout: float = 900,
) -> SuiteRun:
    """asyncpg's tests/ with this interpreter's pytest; libpq variables in `env` pick the server.

    With PGHOST set, asyncpg's test base uses the running server it names instead of starting
    its own (tests that need their own cluster skip themselves: "unmanaged cluster").
    """
    workdir.mkdir(parents=True)
    shutil.copytree(tests, workdir / "tests")
    (workdir / "pytest.ini").write_text(_ASYNCPG_INI.format(timeout=per_test_timeout))
    outcomes_file = workdir / "outcomes.json"
    run_env = {
        **env,
        "PYTHONPATH": str(ASYNCPG_SUPPORT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PROCTOR_COMPAT_OUTCOMES": str(outcomes_file),
    }
    run_env.pop("USE_UVLOOP", None)
    targets = list(select) or ["tests"]
    log = workdir / "pytest.log"
    started = time.monotonic()
    with log.open("w") as out:
        subprocess.run(
            [sys.executable, "-m", "pytest", "-c", str(workdir / "pytest.ini"), *targets],
            cwd=workdir,
            env=run_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    seconds = time.monotonic() - started
    outcomes = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
    return SuiteRun(name, outcomes, seconds, log)


def keep_log(run: SuiteRun, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if run.log.exists() and run.log != path:
        shutil.copy2(run.log, path)


def log_tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
