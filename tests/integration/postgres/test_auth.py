"""Client authentication and connection resolution: who may reach what, and clear refusals."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
import pytest

from tests.integration.conftest import Gateway, eventually

pytestmark = pytest.mark.integration


def refused(dsn: str) -> psycopg.OperationalError:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn).close()
    return info.value


def test_wrong_token_is_refused(gateway: Gateway) -> None:
    err = refused(gateway.dsn("alice", password="prt_not-a-real-token"))
    assert "authentication failed" in str(err)
    assert "invalid, expired or revoked" in str(err)


def test_token_of_another_identity_is_refused(gateway: Gateway) -> None:
    err = refused(gateway.dsn("alice", password=gateway.tokens["bob"]))
    assert 'user "alice" does not match the token\'s identity "bob"' in str(err)


def test_unknown_connection(gateway: Gateway) -> None:
    err = refused(gateway.dsn("alice", dbname="nope"))
    assert 'connection "nope" does not exist' in str(err)


def test_revoked_token_is_refused(gateway: Gateway) -> None:
    token = gateway.create_token("carol", ("analyst",))
    with psycopg.connect(gateway.dsn("carol", password=token)) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    with gateway.store() as store:
        record = store.verify_token(token)
        assert record is not None
        assert store.revoke_token(record.id)
    assert "authentication failed" in str(refused(gateway.dsn("carol", password=token)))


def test_expired_token_is_refused(gateway: Gateway) -> None:
    token = gateway.create_token("dave", (), ttl=timedelta(seconds=1))
    time.sleep(1.2)
    assert "authentication failed" in str(refused(gateway.dsn("dave", password=token)))


def test_token_scoped_to_other_connection(gateway: Gateway) -> None:
    token = gateway.create_token("erin", (), connections=frozenset({"billing"}))
    err = refused(gateway.dsn("erin", password=token))
    assert "erin is not allowed to use shop; ask for access with `proctor request shop`" in str(err)


def test_upstream_credential_never_reaches_client(gateway: Gateway) -> None:
    with psycopg.connect(gateway.dsn("alice")) as conn:
        # The session runs as the gateway's role upstream, but the client is told its own name.
        assert conn.info.user == "alice"
        assert conn.info.password == gateway.tokens["alice"]


def test_cleartext_token_refused_from_non_loopback_without_tls(start_gateway) -> None:  # type: ignore[no-untyped-def]
    # Loopback is the only address here; the rule is checked through the setting instead:
    # with TLS off and cleartext disallowed, loopback clients still work.
    gw = start_gateway(postgres_listener={"tls": {"mode": "off"}})
    with psycopg.connect(gw.dsn("alice", sslmode="disable")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    err = refused(gw.dsn("alice", sslmode="require"))
    assert "SSL" in str(err) or "ssl" in str(err)


def test_failed_upstream_login_is_not_leaked(start_gateway, shop_db) -> None:  # type: ignore[no-untyped-def]
    gw = start_gateway(
        connections=[
            {
                "name": "broken",
                "protocol": "postgres",
                "host": shop_db.cluster.host,
                "port": shop_db.cluster.port,
                "database": "shop",
                "tls": {"mode": "disable"},
                "credential": {"username": "secret_role_name", "password": "wrong"},
            }
        ]
    )
    err = str(refused(gw.dsn("alice", dbname="broken")))
    assert "could not open connection broken" in err
    assert "secret_role_name" not in err

    def ended() -> bool:
        with gw.store() as store:
            sessions = store.list_sessions(connection="broken")
        return (
            bool(sessions)
            and sessions[0].end is not None
            and sessions[0].end.reason == "upstream_refused"
        )

    assert eventually(ended)
