"""Hostile and broken clients and upstreams: clear errors, clean closes, the gateway lives on."""

from __future__ import annotations

import socket
import struct
import threading
import time

import psycopg
import pytest

from proctor.codecs.pgwire import decode, encode
from tests.integration.conftest import Gateway
from tests.integration.postgres.rawclient import RawClient, errors

pytestmark = pytest.mark.integration


def gateway_alive(gw: Gateway) -> None:
    with psycopg.connect(gw.dsn("alice")) as conn:
        assert conn.execute("select 'alive'").fetchone() == ("alive",)


def fatal_from(raw: bytes) -> dict[str, str]:
    assert raw[:1] == b"E", raw[:50]
    (length,) = struct.unpack_from("!I", raw, 1)
    return decode.fields(raw[5 : 1 + length])


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (struct.pack("!i", 3), "invalid startup packet length"),
        (struct.pack("!i", 2_000_000_000), "invalid startup packet length"),
        (struct.pack("!ii", 8, 1234 << 16), "unsupported frontend protocol"),
        (struct.pack("!i", 12) + struct.pack("!i", 196608) + b"user", "not NUL-terminated"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "invalid startup packet length"),
    ],
)
def test_malformed_startup_gets_a_clear_fatal_error(
    gateway: Gateway, payload: bytes, needle: str
) -> None:
    client = RawClient(gateway.host, gateway.port)
    try:
        client.send(payload)
        fields = fatal_from(client.read_all())
        assert fields["S"] == "FATAL" and fields["C"] == "08P01"
        assert needle in fields["M"]
    finally:
        client.close()
    gateway_alive(gateway)


def test_garbage_after_login_is_a_protocol_violation(gateway: Gateway) -> None:
    client = RawClient(gateway.host, gateway.port)
    try:
        client.login("alice", gateway.tokens["alice"])
        client.send(b"\x01\x02\x03\x04\x05garbage")
        fields = fatal_from(client.read_all())
        assert "invalid frontend message type" in fields["M"]
    finally:
        client.close()
    gateway_alive(gateway)


def test_absurd_message_length_is_refused_without_buffering(gateway: Gateway) -> None:
    client = RawClient(gateway.host, gateway.port)
    try:
        client.login("alice", gateway.tokens["alice"])
        client.send(b"Q" + struct.pack("!I", 0x7FFFFFF0) + b"select")
        fields = fatal_from(client.read_all())
        assert fields["C"] == "54000" and "exceeds the limit" in fields["M"]
    finally:
        client.close()
    gateway_alive(gateway)


def test_bad_message_before_authentication(gateway: Gateway) -> None:
    client = RawClient(gateway.host, gateway.port)
    try:
        client.send(encode.startup_message({"user": "alice", "database": "shop"}))
        assert client.recv_message() is not None  # AuthenticationCleartextPassword
        client.send(encode.message("Q", b"select 1\x00"))
        fields = fatal_from(client.read_all())
        assert "expected a password message" in fields["M"]
    finally:
        client.close()


def test_data_pipelined_before_tls_handshake_is_refused(gateway: Gateway) -> None:
    # CVE-2021-23214: bytes sent after SSLRequest but before the handshake must not be used.
    client = RawClient(gateway.host, gateway.port)
    try:
        client.send(encode.ssl_request() + encode.startup_message({"user": "alice"}))
        data = client.read_all()
        assert data[:1] == b"E"
        assert "unencrypted data after SSL request" in fatal_from(data)["M"]
    finally:
        client.close()


def test_handshake_timeout(start_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = start_gateway(handshake_timeout="1s")
    client = RawClient(gw.host, gw.port)
    try:
        client.send(encode.startup_message({"user": "alice", "database": "shop"}))
        started = time.monotonic()
        data = client.read_all()  # auth request, then the timeout error and close
        assert time.monotonic() - started < 8
        assert b"did not complete within 1s" in data
    finally:
        client.close()
    gateway_alive(gw)


def test_slow_loris_never_finishing_startup(start_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = start_gateway(handshake_timeout="1s")
    socks = []
    for _ in range(20):
        s = socket.create_connection((gw.host, gw.port))
        s.sendall(struct.pack("!i", 200))  # promise a packet that never comes
        socks.append(s)
    time.sleep(2.5)
    closed = 0
    for s in socks:
        s.settimeout(2)
        try:
            while s.recv(4096):
                pass
            closed += 1
        except TimeoutError:
            pass
        s.close()
    assert closed == 20
    gateway_alive(gw)


def test_connection_flood_beyond_limit(start_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = start_gateway(max_connections=5)
    held = [psycopg.connect(gw.dsn("alice")) for _ in range(5)]
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            psycopg.connect(gw.dsn("alice"))
    finally:
        for c in held:
            c.close()
    time.sleep(0.5)
    gateway_alive(gw)


def test_upstream_dies_mid_query(gateway: Gateway, shop_db) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(gateway.dsn("alice")) as conn:
        backend = conn.execute("select pg_backend_pid()").fetchone()[0]  # type: ignore[index]

        def kill() -> None:
            time.sleep(0.5)
            with psycopg.connect(shop_db.admin_dsn(), autocommit=True) as admin:
                admin.execute("select pg_terminate_backend(%s)", (backend,))

        threading.Thread(target=kill).start()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("select pg_sleep(10)")
    gateway_alive(gateway)


def test_client_vanishes_mid_result(gateway: Gateway) -> None:
    client = RawClient(gateway.host, gateway.port)
    client.login("alice", gateway.tokens["alice"])
    client.send(
        encode.message("Q", b"select repeat('x', 1000) from generate_series(1, 200000)\x00")
    )
    client.sock.recv(1000)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # RST mid-stream
    time.sleep(0.5)
    gateway_alive(gateway)


def test_terminate_in_every_state(gateway: Gateway) -> None:
    # Mid-transaction, mid-COPY, mid-extended-batch: Terminate ends the session cleanly.
    for setup in (
        [encode.message("Q", b"begin\x00")],
        [encode.message("Q", b"create temp table t(x int); copy t from stdin\x00")],
        [encode.message("P", b"\x00select 1\x00\x00\x00")],
    ):
        client = RawClient(gateway.host, gateway.port)
        client.login("alice", gateway.tokens["alice"])
        for data in setup:
            client.send(data)
        time.sleep(0.1)
        client.send(encode.terminate())
        client.read_all()
        client.close()
    gateway_alive(gateway)


def test_error_in_simple_batch_keeps_session(gateway: Gateway) -> None:
    client = RawClient(gateway.host, gateway.port)
    try:
        client.login("alice", gateway.tokens["alice"])
        client.send(encode.message("Q", b"select 1; select * from nope; select 2\x00"))
        reply = client.until("Z")
        assert [e["C"] for e in errors(reply)] == ["42P01"]
        client.send(encode.message("Q", b"select 3\x00"))
        assert client.until("Z")[-1].body == b"I"
    finally:
        client.close()


def test_idle_sessions_end_after_idle_timeout(start_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = start_gateway(idle_timeout="1s")
    conn = psycopg.connect(gw.dsn("alice"))
    conn.execute("select 1")
    conn.rollback()
    time.sleep(3)
    with pytest.raises(psycopg.OperationalError, match="idle-session timeout"):
        conn.execute("select 1")
    conn.close()
    busy = psycopg.connect(gw.dsn("alice"))
    assert busy.execute("select 1 from pg_sleep(0.5)").fetchone() == (1,)
    busy.close()
