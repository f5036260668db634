"""Workload identity end to end: a GitHub-Actions-shaped JWT from a test issuer (served on
loopback) -> token exchange on the gateway's HTTP listener -> psql / psycopg through the
gateway, with the session attributed to the machine identity. And every way it must fail."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from joserfc.jwk import RSAKey

from tests.integration.conftest import Gateway, eventually
from tests.integration.identity.conftest import exchange
from tests.oidc.issuer import TestIssuer

pytestmark = pytest.mark.integration

MACHINE = "ci:payments-deploy"


@pytest.fixture
def gw(workload_gateway: Gateway) -> Gateway:
    return workload_gateway


def psql(gw: Gateway, user: str, password: str, sql: str) -> subprocess.CompletedProcess[str]:
    gw.tokens.setdefault(user, password)
    env = {**gw.env(user), "PGPASSWORD": password}
    return subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_github_token_exchanged_then_psql_as_the_machine(
    gw: Gateway, gh_issuer: TestIssuer
) -> None:
    status, body = exchange(gw, gh_issuer.sign(gh_issuer.github()))
    assert status == 200, body
    token = body["access_token"]
    assert token.startswith("prt_")
    assert body["subject"] == MACHINE
    assert body["groups"] == ["ci"]
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 900

    result = psql(gw, MACHINE, token, "select count(*) from customers")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2000"

    with gw.store() as store:
        record = store.verify_token(token)
        assert record is not None and record.subject == MACHINE
        sessions = eventually(
            lambda: [
                s for s in store.list_sessions(subject=MACHINE) if s.start.token_id == record.id
            ]
        )
        assert sessions, "the session was not recorded"
        start = sessions[0].start
        assert start.subject == MACHINE
        assert start.groups == {"ci"}
        assert start.token_id == record.id
        statements = eventually(lambda: store.get_statements(start.id))
        assert any("customers" in s.text for s in statements)


def test_workload_jwt_directly_as_the_password(gw: Gateway, gh_issuer: TestIssuer) -> None:
    jwt = gh_issuer.sign(gh_issuer.github())
    with psycopg.connect(gw.dsn(MACHINE, password=jwt)) as conn:
        assert conn.execute("select count(*) from orders").fetchone() == (3000,)
    with gw.store() as store:
        # No Proctor token was minted: the session names no token id.
        direct = eventually(
            lambda: [s for s in store.list_sessions(subject=MACHINE) if s.start.token_id is None]
        )
        assert direct


def refused_jwt(gw: Gateway, token: str, user: str = MACHINE) -> str:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(gw.dsn(user, password=token)).close()
    return str(caught.value)


def now() -> int:
    return int(time.time())


NEGATIVE: dict[str, tuple[Callable[[TestIssuer], str], str]] = {
    "expired": (
        lambda i: i.sign(i.github(iat=now() - 900, nbf=now() - 900, exp=now() - 300)),
        "the token has expired",
    ),
    "wrong_audience": (
        lambda i: i.sign(i.github(aud="https://someone-else.test")),
        "not meant for Proctor",
    ),
    "wrong_issuer": (
        lambda i: i.sign(i.github(iss="https://token.actions.githubusercontent.com")),
        "issuer is not trusted",
    ),
    "bad_signature": (
        lambda i: i.sign(i.github(), key=RSAKey.generate_key(2048, parameters={"kid": i.key.kid})),
        "signature is not valid",
    ),
    "alg_none": (lambda i: i.unsigned(i.github()), "alg none"),
    "hmac_public_key": (lambda i: i.hmac_with_public_key(i.github()), "shared-secret"),
    "unknown_kid": (
        lambda i: i.sign(i.github(), key=RSAKey.generate_key(2048, parameters={"kid": "nope"})),
        "a key the issuer does not publish",
    ),
    "claims_do_not_match": (
        lambda i: i.sign(i.github(ref="refs/heads/feature-x")),
        "matches none of its rules",
    ),
}


@pytest.mark.parametrize("case", sorted(NEGATIVE))
def test_exchange_refuses(gw: Gateway, gh_issuer: TestIssuer, case: str) -> None:
    make, message = NEGATIVE[case]
    status, body = exchange(gw, make(gh_issuer))
    assert status == 400
    assert body["error"] == "invalid_grant"
    assert message in body["error_description"]
    assert "access_token" not in body


@pytest.mark.parametrize("case", sorted(NEGATIVE))
def test_password_refuses(gw: Gateway, gh_issuer: TestIssuer, case: str) -> None:
    make, message = NEGATIVE[case]
    error = refused_jwt(gw, make(gh_issuer))
    assert "authentication failed" in error
    assert message in error


def test_exchange_with_a_connection_audience(gw: Gateway, gh_issuer: TestIssuer) -> None:
    status, body = exchange(gw, gh_issuer.sign(gh_issuer.github()), audience="shop")
    assert status == 200
    assert body["connections"] == ["shop"]
    status, body = exchange(gw, gh_issuer.sign(gh_issuer.github()), audience="billing")
    assert (status, body["error"]) == (400, "invalid_target")


def test_revoked_token_ends_the_live_session(gw: Gateway, gh_issuer: TestIssuer) -> None:
    _, body = exchange(gw, gh_issuer.sign(gh_issuer.github()))
    token = body["access_token"]
    conn = psycopg.connect(gw.dsn(MACHINE, password=token), autocommit=True)
    try:
        assert conn.execute("select 1").fetchone() == (1,)
        with gw.store() as store:
            record = store.verify_token(token)
            assert record is not None
            assert store.revoke_token(record.id)
        revoked_at = time.monotonic()

        def ended() -> Any:
            try:
                conn.execute("select 1")
            except psycopg.OperationalError as exc:
                return exc
            return None

        error = eventually(ended, timeout=10)
        assert error is not None, "the session outlived its revoked token"
        assert time.monotonic() - revoked_at < 8
        assert "the access token was revoked" in str(error)
    finally:
        conn.close()
    with gw.store() as store:
        session = eventually(
            lambda: next(
                (
                    s
                    for s in store.list_sessions(subject=MACHINE)
                    if s.start.token_id == record.id and s.end is not None
                ),
                None,
            )
        )
        assert session is not None and session.end is not None
        assert session.end.reason == "token_revoked"


def test_issuer_key_rotation(gw: Gateway, gh_issuer: TestIssuer) -> None:
    assert exchange(gw, gh_issuer.sign(gh_issuer.github()))[0] == 200
    fetched = gh_issuer.jwks_requests
    old = gh_issuer.keys
    try:
        gh_issuer.rotate()
        time.sleep(1.1)  # the gateway's minimum interval between refetches (1s here)
        status, body = exchange(gw, gh_issuer.sign(gh_issuer.github()))
        assert status == 200, body
        assert gh_issuer.jwks_requests == fetched + 1
    finally:
        gh_issuer.keys = old
