"""People and agents through a real OpenID Provider (panva's oidc-provider on loopback):
browser sign-in with code + PKCE (Chromium via Playwright), `proctor login` with the device
flow, refresh (and a user disabled at the provider), client-credentials JWTs from the provider
used as the PostgreSQL password, and the provider rotating its signing key."""

from __future__ import annotations

import json
import os
import re
import select
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from proctor.demo.pgcluster import free_port
from tests.integration.conftest import Gateway, ShopDb, eventually
from tests.integration.identity.conftest import (
    exchange,
    launch_with_identity,
    new_page,
    post_form,
)
from tests.oidc.provider import RESOURCE, WEB_CLIENT, WEB_SECRET, OidcProvider, start_provider

pytestmark = pytest.mark.integration

AGENT = "agent:reporting"


def identity_section(provider: OidcProvider, directory: Path) -> dict[str, Any]:
    secrets = directory / "secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    (secrets / "op.secret").write_text(WEB_SECRET + "\n")
    (secrets / "refresh.key").write_text("refresh-key-for-tests\n")
    return {
        "providers": [
            {
                "name": "test-op",
                "issuer": provider.issuer,
                "client_id": WEB_CLIENT,
                "client_secret": "${file:secrets/op.secret}",
                "scopes": ["openid", "email", "profile", "groups"],
                "groups": {"claims": ["groups"]},
                "token_ttl": "1h",
                "jwks_refetch_interval": "1s",
            }
        ],
        "workload": [
            {
                "name": "test-op-clients",
                "issuer": provider.issuer,
                "audiences": [RESOURCE],
                "jwks_refetch_interval": "1s",
                "rules": [
                    {
                        "match": {"client_id": "reporting-agent", "scope": {"glob": "*db*"}},
                        "subject": AGENT,
                        "groups": ["agents"],
                    }
                ],
            }
        ],
        "access": [
            {"connections": ["shop"], "groups": ["dba", "agents", "engineering"]},
        ],
        "roles": {"admin": {"groups": ["dba"]}},
        "refresh_token_key": "${file:secrets/refresh.key}",
        "revalidate_interval": "1s",
    }


@pytest.fixture(scope="module")
def op_and_gateway(
    node_ready: None, shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OidcProvider, Gateway]]:
    root = tmp_path_factory.mktemp("oidc")
    http_port = free_port()
    provider = start_provider(root / "op", [f"http://127.0.0.1:{http_port}/callback"])
    gw_dir = root / "gw"
    gw_dir.mkdir()
    try:
        gw = launch_with_identity(
            gw_dir, shop_db, identity_section(provider, gw_dir), http_port=http_port
        )
    except Exception:
        provider.stop()
        raise
    yield provider, gw
    gw.stop()
    provider.stop()


@pytest.fixture
def op(op_and_gateway: tuple[OidcProvider, Gateway]) -> OidcProvider:
    return op_and_gateway[0]


@pytest.fixture
def gw(op_and_gateway: tuple[OidcProvider, Gateway]) -> Gateway:
    return op_and_gateway[1]


# -- agents: client credentials ---------------------------------------------------------------


def test_client_credentials_jwt_as_the_password(op: OidcProvider, gw: Gateway) -> None:
    token = op.client_credentials_token()
    with psycopg.connect(gw.dsn(AGENT, password=token)) as conn:
        assert conn.execute("select count(*) from customers").fetchone() == (2000,)
    with gw.store() as store:
        sessions = eventually(lambda: store.list_sessions(subject=AGENT))
        assert sessions and sessions[0].start.groups == {"agents"}


def test_client_credentials_jwt_exchanged(op: OidcProvider, gw: Gateway) -> None:
    status, body = exchange(gw, op.client_credentials_token())
    assert status == 200, body
    assert (body["subject"], body["groups"]) == (AGENT, ["agents"])


def test_provider_key_rotation(op: OidcProvider, gw: Gateway) -> None:
    assert exchange(gw, op.client_credentials_token())[0] == 200
    op.rotate_keys()
    time.sleep(1.1)  # the gateway refetches an unknown kid at most once a second here
    token = op.client_credentials_token()
    status, body = exchange(gw, token)
    assert status == 200, body
    with psycopg.connect(gw.dsn(AGENT, password=op.client_credentials_token())) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


# -- people: a real browser ---------------------------------------------------------------------


def sign_in_at_provider(page: Any, login: str) -> None:
    """Drive the provider's pages (login form; confirm buttons) until they let go."""
    for _ in range(6):
        if page.locator("input[name=login]").count():
            page.fill("input[name=login]", login)
            page.fill("input[name=password]", "any password")
            page.click("button[type=submit]")
        elif "Sign-in Success" in page.content() or "/callback" in page.url:
            return
        elif page.locator("button[type=submit]").count():
            page.locator("button[type=submit]").first.click()
        else:
            return
        page.wait_for_load_state()


def test_browser_sign_in_with_code_and_pkce(browser: Any, op: OidcProvider, gw: Gateway) -> None:
    page = new_page(browser)
    page.goto(f"http://127.0.0.1:{gw.http_port}/login/test-op")
    assert page.url.startswith(op.issuer)
    assert "code_challenge_method=S256" in page.url or "/interaction/" in page.url
    sign_in_at_provider(page, "alice")
    page.wait_for_selector("#token")
    assert page.url.startswith(f"http://127.0.0.1:{gw.http_port}/callback")
    token = page.inner_text("#token").strip()
    assert token.startswith("prt_")
    assert page.inner_text("#subject") == "alice"
    assert page.inner_text("#groups") == "dba, engineering"
    page.context.close()

    with psycopg.connect(gw.dsn("alice", password=token)) as conn:
        assert conn.execute("select count(*) from customers").fetchone() == (2000,)
    with gw.store() as store:
        record = store.verify_token(token)
        assert record is not None
        assert record.groups == {"dba", "engineering"}
        assert record.description == "browser sign-in via test-op"
        sessions = eventually(lambda: store.list_sessions(subject="alice"))
        assert sessions[0].start.token_id == record.id


def test_callback_state_is_single_use_and_required(gw: Gateway) -> None:
    status, text = gw.http("/callback?state=made-up&code=x")
    assert status == 400
    assert "unknown or expired" in text
    status, text = gw.http("/callback?code=x")
    assert status == 400


def test_unknown_provider(gw: Gateway) -> None:
    status, _ = gw.http("/login/nope")
    assert status == 404


# -- people: proctor login (device flow), whoami, env, connect, refresh, logout ----------------


def cli(args: list[str], home: Path, **kw: Any) -> subprocess.Popen[str]:
    script = (
        "import sys\n"
        "from proctor.cli.login_cmd import COMMANDS\n"
        "commands = {c.name: c for c in COMMANDS}\n"
        "commands[sys.argv[1]].main(sys.argv[2:], prog_name='proctor ' + sys.argv[1])\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(home), "PROCTOR_GATEWAY": ""}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        **kw,
    )


def run_cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    proc = cli(args, home)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def read_line(stream: Any, pattern: str, timeout: float = 30) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.5)
        if ready:
            line = stream.readline()
            seen += line
            match = re.search(pattern, line)
            if match:
                return match
    raise AssertionError(f"no line matching {pattern!r} in:\n{seen}")


def login(browser: Any, gw: Gateway, home: Path, user: str) -> Path:
    """`proctor login` as ``user``, approving in the browser; returns the config home."""
    proc = cli(["login", "--gateway", f"http://127.0.0.1:{gw.http_port}"], home)
    try:
        match = read_line(proc.stderr, r"open (\S+)")
        page = new_page(browser)
        page.goto(match.group(1))
        sign_in_at_provider(page, user)
        page.context.close()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"Signed in as {user}" in err
    return home


@pytest.fixture
def logged_in(browser: Any, gw: Gateway, tmp_path: Path) -> Path:
    return login(browser, gw, tmp_path / "home", "alice")


def test_login_stores_the_token_privately(logged_in: Path, gw: Gateway) -> None:
    path = logged_in / "proctor" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    whoami = run_cli(["whoami", "--json"], logged_in)
    assert whoami.returncode == 0, whoami.stderr
    assert '"subject": "alice"' in whoami.stdout
    assert '"admin"' in whoami.stdout  # dba is mapped to the admin role
    env = run_cli(
        ["env", "shop", "--sslmode", "verify-full", "--sslrootcert", str(gw.ca_file)], logged_in
    )
    assert env.returncode == 0, env.stderr
    assert f"export PGPORT={gw.port}" in env.stdout
    assert "export PGUSER=alice" in env.stdout
    result = subprocess.run(
        ["bash", "-c", env.stdout + "\npsql -X -A -t -c 'select count(*) from orders'"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.strip() == "3000", result.stderr


def test_connect_needs_no_password(logged_in: Path, gw: Gateway) -> None:
    port = free_port()
    proc = cli(
        ["connect", "shop", "--port", str(port), "--sslrootcert", str(gw.ca_file)], logged_in
    )
    try:
        read_line(proc.stderr, r"Listening on 127\.0\.0\.1:\d+")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        result = subprocess.run(
            [
                "psql",
                "-X",
                "-A",
                "-t",
                "-h",
                "localhost",
                "-p",
                str(port),
                "-w",
                "-c",
                "select count(*) from customers",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "2000"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    with gw.store() as store:
        assert eventually(lambda: store.list_sessions(subject="alice", connection="shop"))


def test_refresh_then_provider_disables_the_user(
    browser: Any, op: OidcProvider, gw: Gateway, tmp_path: Path
) -> None:
    home = login(browser, gw, tmp_path / "bob", "bob")
    creds = json.loads((home / "proctor" / "credentials.json").read_text())
    assert creds["refresh_token"].startswith("prr_")
    token_url = f"http://127.0.0.1:{gw.http_port}/oauth/token"
    status, body = post_form(
        token_url, {"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}
    )
    assert status == 200, body
    new_token = body["access_token"]
    # The old token is revoked; a used refresh secret cannot be used again.
    with gw.store() as store:
        assert store.verify_token(creds["access_token"]) is None
    status, again = post_form(
        token_url, {"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}
    )
    assert (status, again["error"]) == (400, "invalid_grant")

    conn = psycopg.connect(gw.dsn("bob", password=new_token), autocommit=True)
    try:
        assert conn.execute("select 1").fetchone() == (1,)
        op.disable("bob")
        status, refused = post_form(
            token_url, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        )
        assert (status, refused["error"]) == (400, "invalid_grant")
        assert "refused to renew" in refused["error_description"]

        def ended() -> Any:
            try:
                conn.execute("select 1")
            except psycopg.OperationalError as exc:
                return exc
            return None

        error = eventually(ended, timeout=10)
        assert error is not None, "the session outlived the provider's refusal"
    finally:
        conn.close()


def test_logout_revokes(logged_in: Path, gw: Gateway) -> None:
    creds = json.loads((logged_in / "proctor" / "credentials.json").read_text())
    result = run_cli(["logout"], logged_in)
    assert result.returncode == 0, result.stderr
    assert not (logged_in / "proctor" / "credentials.json").exists()
    with gw.store() as store:
        assert store.verify_token(creds["access_token"]) is None


def test_access_rules_deny_clearly(gw: Gateway) -> None:
    token = gw.create_token("mallory", ("guests",))
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(gw.dsn("mallory", password=token)).close()
    assert "mallory is not allowed to use any connection" in str(caught.value)
    assert "proctor request" in str(caught.value)
