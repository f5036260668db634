"""What the benchmark measures, and how each thing is started and stopped.

A :class:`Target` is a name, the libpq environment (PG* variables) that reaches it, and, for a
proxy, a way to find the root PID of its process tree (whose CPU time we charge to it).

- ``direct``: the database itself. Normally the Proctor demo's database
  (``proctor demo --env --direct``); when the demo cannot start, a throwaway cluster of our
  own (``proctor.demo.pgcluster.PgCluster``), so direct vs pgbouncer still runs.
- ``pgbouncer``: our own pgbouncer in session mode in front of ``direct``, run as a non-root
  user, on a free loopback port.
- ``proctor``: the demo gateway (``proctor demo --env --as admin``); PID in DIR/gateway.pid.

Everything started here registers its own cleanup on the caller's ``ExitStack``, so an error
or Ctrl-C at any point stops exactly what was started.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proctor.demo.pgcluster import PgCluster, free_port
from proctor.demo.seed import create_database


class SetupError(RuntimeError):
    pass


@dataclass
class Target:
    name: str
    env: dict[str, str]
    proxy_pid: Callable[[], int | None] | None = None  # root of the proxy's process tree
    notes: list[str] = field(default_factory=list)

    def child_env(self) -> dict[str, str]:
        """The process environment for pgbench/psql: ours minus any PG*, plus the target's."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return base | self.env


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except FileNotFoundError as exc:
        raise SetupError(f"{argv[0]}: not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise SetupError(f"{shlex.join(argv)}: timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-1500:]
        raise SetupError(f"{shlex.join(argv)} exited with {proc.returncode}: {tail}")
    return proc.stdout


def parse_exports(text: str) -> dict[str, str]:
    """``export PGHOST=… PGPORT=…`` lines (shell-quoted) into a dict; other lines ignored."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            words = words[1:]
        for word in words:
            key, sep, value = word.partition("=")
            if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                env[key] = value
    return env


def wait_for_port(host: str, port: int, timeout: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise SetupError(f"the process meant to listen on {host}:{port} exited")
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
            return
        time.sleep(0.05)
    raise SetupError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def check_connect(psql: str, target: Target, wait: float = 30.0) -> None:
    """One round trip (``select 1``) through the target, retried for up to ``wait`` seconds
    (a detached server may still be starting), or SetupError."""
    deadline = time.monotonic() + wait
    while True:
        try:
            out = _run(
                [psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", "select 1"],
                timeout=30,
                env=target.child_env(),
            )
        except SetupError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
            continue
        if out.strip() != "1":
            raise SetupError(f"{target.name}: 'select 1' returned {out.strip()!r}")
        return


def service_user() -> str | None:
    """The unprivileged user to run servers as when we are root (they refuse root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise SetupError("running as root and there is no 'postgres' user to run as") from exc
    return "postgres"


def chown_to(path: Path, user: str | None) -> None:
    if user:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)


# --------------------------------------------------------------------------- Proctor demo


@dataclass
class ProctorDemo:
    """What ``proctor demo --detach`` gave us; either env may be missing."""

    dir: Path
    direct_env: dict[str, str] | None
    proxy_env: dict[str, str] | None
    problem: str | None  # why Proctor's column is skipped, if it is

    def gateway_pid(self) -> int | None:
        try:
            return int((self.dir / "gateway.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def start_proctor_demo(
    stack: contextlib.ExitStack, proctor: str, demo_dir: Path, workers: int, *, discard: bool
) -> ProctorDemo:
    """Start the demo (database + gateway); never raises: problems are reported in the result.

    With ``discard`` (a demo dir of our own), the demo's database cluster is deleted after
    ``--stop``: as root the demo keeps it outside DIR (under /var/tmp), where it would pile up.
    """
    try:
        helptext = _run([proctor, "demo", "--help"], timeout=60)
    except SetupError as exc:
        return ProctorDemo(demo_dir, None, None, f"`proctor demo` is not available: {exc}")
    argv = [proctor, "demo", "--detach", "--dir", str(demo_dir)]
    if "--workers" in helptext:
        argv += ["--workers", str(workers)]
    # Registered before starting: a half-started demo (database up, gateway not) is stopped too.
    # The stack runs callbacks last-in first-out: stop, then discard.
    if discard:
        stack.callback(_discard_demo_cluster, demo_dir)
    stack.callback(_stop_proctor_demo, proctor, demo_dir)
    log(f"starting the Proctor demo: {shlex.join(argv)}")
    try:
        _run(argv, timeout=300)
    except SetupError as exc:
        problem = f"`proctor demo --detach` failed: {short_error(exc)}"
        direct = _demo_env(proctor, demo_dir, "--direct")
        return ProctorDemo(demo_dir, direct, None, problem)
    direct = _demo_env(proctor, demo_dir, "--direct")
    try:
        proxy = parse_exports(
            _run([proctor, "demo", "--env", "--dir", str(demo_dir), "--as", "admin"], timeout=60)
        )
    except SetupError as exc:
        problem = f"`proctor demo --env --as admin` failed: {short_error(exc)}"
        return ProctorDemo(demo_dir, direct, None, problem)
    return ProctorDemo(demo_dir, direct, proxy, None)


def _demo_env(proctor: str, demo_dir: Path, *flags: str) -> dict[str, str] | None:
    try:
        env = parse_exports(
            _run([proctor, "demo", "--env", "--dir", str(demo_dir), *flags], timeout=60)
        )
    except SetupError as exc:
        log(f"  (no direct connection from the demo: {exc})")
        return None
    return env if env.get("PGPORT") else None


def _discard_demo_cluster(demo_dir: Path) -> None:
    """Delete the demo's PostgreSQL data dir (recorded in DIR/demo.json) once it is stopped."""
    try:
        pg_data = Path(json.loads((demo_dir / "demo.json").read_text())["pg_data"]).resolve()
    except (OSError, ValueError, KeyError, TypeError):
        return
    parent = pg_data.parent
    # Only what the demo made for this dir: inside it, or its own /var/tmp/proctor-demo-* dir.
    if parent == demo_dir.resolve() or pg_data.is_relative_to(demo_dir.resolve()):
        victims = [pg_data, parent / f"{pg_data.name}.log"]
    elif parent.parent == Path("/var/tmp") and parent.name.startswith("proctor-demo-"):
        victims = [parent]
    else:
        log(f"  leaving the demo database at {pg_data} (not in a place the demo owns)")
        return
    for v in victims:
        if v.is_dir():
            shutil.rmtree(v, ignore_errors=True)
        else:
            v.unlink(missing_ok=True)


def short_error(exc: BaseException) -> str:
    """The command and, for a Python traceback, only its last line."""
    text = str(exc).strip()
    head, _, rest = text.partition(": ")
    lines = [ln for ln in rest.splitlines() if ln.strip()]
    if "Traceback" in rest or len(lines) > 3:
        return f"{head}: {lines[-1].strip() if lines else ''}"
    return text


def _stop_proctor_demo(proctor: str, demo_dir: Path) -> None:
    if not demo_dir.exists():
        return
    log("stopping the Proctor demo")
    try:
        _run([proctor, "demo", "--stop", "--dir", str(demo_dir)], timeout=120)
    except SetupError as exc:
        log(f"  warning: {exc}")


# --------------------------------------------------------------------------- fallback database


def start_fallback_postgres(stack: contextlib.ExitStack, workdir: Path) -> dict[str, str]:
    """A throwaway cluster of our own for direct (and pgbouncer) when the demo has none."""
    password = secrets.token_urlsafe(18)
    cluster = PgCluster(data_dir=workdir / "pg", port=free_port(), password=password)
    log(f"starting a throwaway PostgreSQL on 127.0.0.1:{cluster.port}")
    stack.callback(cluster.destroy)
    try:
        cluster.init()
        cluster.start()
    except Exception as exc:
        raise SetupError(f"could not start PostgreSQL: {exc}") from exc
    env = {
        "PGHOST": cluster.host,
        "PGPORT": str(cluster.port),
        "PGUSER": cluster.superuser,
        "PGPASSWORD": password,
        "PGDATABASE": "postgres",
        "PGSSLMODE": "disable",
    }
    create_database(cluster.dsn(), "bench")
    env["PGDATABASE"] = "bench"
    return env


# --------------------------------------------------------------------------- pgbouncer


def _pgb_quote(value: str) -> str:
    """A value in pgbouncer's [databases] connect string."""
    if re.fullmatch(r"[A-Za-z0-9_./:@%+-]+", value):
        return value
    if "'" in value:
        raise SetupError("pgbouncer: cannot quote a connection value containing a single quote")
    return f"'{value}'"


def start_pgbouncer(
    stack: contextlib.ExitStack, binary: str, workdir: Path, upstream: dict[str, str], pool: int
) -> Target:
    """pgbouncer in session mode in front of ``upstream``, on a free loopback port."""
    exe = shutil.which(binary) or binary
    if not Path(exe).exists():
        raise SetupError(f"{binary} not found (apt-get install -y pgbouncer)")
    user, password = upstream.get("PGUSER"), upstream.get("PGPASSWORD")
    db = upstream.get("PGDATABASE") or user
    if not (user and password and db):
        raise SetupError("pgbouncer needs PGUSER, PGPASSWORD and PGDATABASE for the database")
    runas = service_user()
    d = workdir / "pgbouncer"
    d.mkdir(mode=0o755, exist_ok=True)
    d.chmod(0o755)
    chown_to(d, runas)
    port = free_port()
    server = " ".join(
        f"{k}={_pgb_quote(v)}"
        for k, v in (
            ("host", upstream.get("PGHOST", "127.0.0.1")),
            ("port", upstream.get("PGPORT", "5432")),
            ("dbname", db),
            ("user", user),
            ("password", password),
        )
    )
    ini = d / "pgbouncer.ini"
    ini.write_text(
        f"""[databases]
{db} = {server}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = plain
auth_file = {d / "userlist.txt"}
pool_mode = session
max_client_conn = {max(200, pool * 2)}
default_pool_size = {pool}
max_db_connections = 0
server_tls_sslmode = {"disable" if upstream.get("PGSSLMODE", "prefer") == "disable" else "prefer"}
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
logfile = {d / "pgbouncer.log"}
"""
    )
    userlist = d / "userlist.txt"
    quoted = '"{}" "{}"\n'.format(user.replace('"', '""'), password.replace('"', '""'))
    userlist.write_text(quoted)
    userlist.chmod(0o600)
    for f in (ini, userlist):
        chown_to(f, runas)
    log(f"starting pgbouncer (session mode) on 127.0.0.1:{port}")
    out = (d / "stdout.log").open("wb")
    stack.callback(out.close)
    # A direct child (not `-d`): its PID is the pgbouncer process whose CPU we read, and a new
    # session keeps Ctrl-C from reaching it before the harness stops it in order.
    proc = subprocess.Popen(
        [exe, str(ini)],
        stdout=out,
        stderr=subprocess.STDOUT,
        user=runas,
        start_new_session=True,
    )
    stack.callback(_stop_process, proc, "pgbouncer")
    try:
        wait_for_port("127.0.0.1", port, 20, lambda: proc.poll() is None)
    except SetupError as exc:
        logtail = (
            (d / "pgbouncer.log").read_text(errors="replace")[-1500:]
            if (d / "pgbouncer.log").exists()
            else ""
        )
        raise SetupError(f"pgbouncer did not start: {exc}\n{logtail}") from exc
    env = dict(upstream)
    env.update(PGHOST="127.0.0.1", PGPORT=str(port), PGSSLMODE="disable", PGDATABASE=db)
    return Target("pgbouncer", env, proxy_pid=lambda: proc.pid if proc.poll() is None else None)


def _stop_process(proc: subprocess.Popen[bytes], what: str) -> None:
    if proc.poll() is not None:
        return
    log(f"stopping {what} (pid {proc.pid})")
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# --------------------------------------------------------------------------- Proctor, no policy


def start_proctor_without_policy(
    stack: contextlib.ExitStack, proctor: str, demo: ProctorDemo, workers: int
) -> Target:
    """A second gateway on the demo's database and state, with the built-in policy instead
    of the demo's (so no guardrail rules and no masking): the same run then shows what the
    guardrails and masking cost."""

    def change(config: dict[str, Any]) -> None:
        config.pop("policy", None)

    return start_proctor_variant(stack, proctor, demo, workers, "proctor-nopolicy", change)


def start_proctor_without_recording(
    stack: contextlib.ExitStack, proctor: str, demo: ProctorDemo, workers: int
) -> Target:
    """The demo's gateway with the tamper-evident recording off: what recording costs."""

    def change(config: dict[str, Any]) -> None:
        config.setdefault("recordings", {})["enabled"] = False

    return start_proctor_variant(stack, proctor, demo, workers, "proctor-norecord", change)


def start_proctor_variant(
    stack: contextlib.ExitStack,
    proctor: str,
    demo: ProctorDemo,
    workers: int,
    name: str,
    change: Callable[[dict[str, Any]], None],
) -> Target:
    """Another gateway on the demo's database and state, its config changed by ``change``."""
    import yaml

    config = yaml.safe_load((demo.dir / "proctor.yaml").read_text())
    change(config)
    host = "127.0.0.1"
    pg_port, http_port = _free_port(), _free_port()
    config["listeners"]["postgres"]["port"] = pg_port
    config["listeners"]["http"]["port"] = http_port
    config["gateway"]["workers"] = workers
    config["gateway"]["state_dir"] = f".{name}"
    path = demo.dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    log_file = (demo.dir / f"gateway-{name}.log").open("ab")
    stack.callback(log_file.close)
    proc = subprocess.Popen(
        [proctor, "gateway", "--config", str(path)],
        cwd=demo.dir,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=log_file,
    )
    stack.callback(_stop_process, proc, f"{name} gateway")
    wait_for_port(host, pg_port, 60, lambda: proc.poll() is None)
    assert demo.proxy_env is not None
    env = dict(demo.proxy_env)
    env["PGPORT"] = str(pg_port)
    env["PGSSLROOTCERT"] = str(demo.dir / f".{name}" / "tls" / "ca.crt")
    return Target(name, env, proxy_pid=lambda: proc.pid)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
