"""asyncio Protocols behind the adapters' ClientIO / UpstreamIO.

Protocols, not the streams API: streams cost 40-60% more CPU per transaction (DESIGN §4).
During the handshake data is buffered and read with ``await read()``; once the relay starts,
``data_received`` calls the relay directly. uvloop binds ``data_received`` when the transport
is created, so the switch happens through an attribute, not by replacing the method.

Back-pressure: when one side's write buffer fills, the other side stops reading, so a slow
client holds a large result in the server's socket, not in the gateway's memory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable
from typing import Any, cast

from proctor.adapters.postgres.ports import UpstreamTlsError
from proctor.model import Connection

WRITE_HIGH_WATER = 256 * 1024
# Handshake-phase buffering bound: startup packets and auth messages are small.
MAX_HANDSHAKE_BUFFER = 1 << 20


def _format_peer(peername: Any) -> str:
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = peername[0], peername[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peername or "unix")


class StreamProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        # The other side of the relay: its reads pause while our writes back up.
        self.flow_peer: StreamProtocol | None = None
        # Why reading is paused: several reasons may overlap (the peer cannot take more, the
        # session recording is behind); reading resumes when none is left.
        self._holds: set[str] = set()
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._eof = False
        self._closed = False
        self._on_data: Callable[[bytes], None] = self._buffer_data
        self._on_eof: Callable[[], None] | None = None
        self._peer = "?"
        self._peer_host: str | None = None
        self._tls = False
        self.connection_lost_event = asyncio.Event()

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but implement it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peername = transport.get_extra_info("peername")
        self._peer = _format_peer(peername)
        if isinstance(peername, tuple) and peername:
            self._peer_host = str(peername[0])
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Small request/response messages: never wait for Nagle to coalesce them.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def eof_received(self) -> bool:
        self._set_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.connection_lost_event.set()
        self._set_eof()

    def pause_writing(self) -> None:
        if self.flow_peer is not None:
            self.flow_peer.hold_reading("peer_slow")

    def resume_writing(self) -> None:
        if self.flow_peer is not None:
            self.flow_peer.release_reading("peer_slow")

    def hold_reading(self, reason: str) -> None:
        """Stop reading from this side until ``release_reading(reason)`` (and every other
        hold is released)."""
        if not self._holds and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self._holds.add(reason)

    def release_reading(self, reason: str) -> None:
        if reason not in self._holds:
            return
        self._holds.discard(reason)
        if not self._holds and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # handshake phase
    def _buffer_data(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > MAX_HANDSHAKE_BUFFER and self.transport is not None:
            # A peer flooding us before the handshake completes is cut off, not buffered.
            self.transport.abort()
            return
        self._wake()

    def _set_eof(self) -> None:
        if self._eof:
            return
        self._eof = True
        self._wake()
        if self._on_eof is not None:
            callback, self._on_eof = self._on_eof, None
            callback()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> bytes:
        while not self._buffer:
            if self._eof:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    # both phases
    @property
    def peer(self) -> str:
        return self._peer

    @property
    def peer_host(self) -> str | None:
        return self._peer_host

    @property
    def is_tls(self) -> bool:
        return self._tls

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self._closed:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def start_relay(self, on_data: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        self._on_data = on_data
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            on_data(data)
        if self._eof:
            on_eof()
        else:
            self._on_eof = on_eof

    async def _start_tls(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        new = await loop.start_tls(self.transport, self, context, **kwargs)
        if new is None:
            raise ConnectionError("connection closed during the TLS handshake")
        self.transport = new
        self._tls = True


class ClientStream(StreamProtocol):
    """The client side; built by the listener with a callback that runs the session."""

    def __init__(
        self,
        on_connect: Callable[[ClientStream], None],
        server_tls: ssl.SSLContext | None,
    ) -> None:
        super().__init__()
        self._on_connect = on_connect
        self._server_tls = server_tls
        self._loopback = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        try:
            self._loopback = isinstance(peer, tuple) and ipaddress.ip_address(peer[0]).is_loopback
        except ValueError:
            self._loopback = False
        self._on_connect(self)

    @property
    def is_loopback(self) -> bool:
        return self._loopback

    @property
    def tls_available(self) -> bool:
        return self._server_tls is not None

    async def start_tls(self) -> None:
        assert self._server_tls is not None
        await self._start_tls(self._server_tls, server_side=True)


def upstream_ssl_context(connection: Connection) -> tuple[ssl.SSLContext, str | None]:
    """An SSL context for the upstream's TLS mode, named as libpq names sslmode."""
    tls = connection.tls
    mode = str(tls.mode)
    if mode in ("verify-ca", "verify-full"):
        ctx = ssl.create_default_context(cafile=tls.ca_file)
        ctx.check_hostname = mode == "verify-full"
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx, (tls.server_name or connection.host) if mode == "verify-full" else None
    # require / prefer: encrypted but unauthenticated, exactly libpq's meaning of these modes.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx, None


class UpstreamStream(StreamProtocol):
    async def start_tls(self, connection: Connection) -> None:
        try:
            ctx, server_hostname = upstream_ssl_context(connection)
            await self._start_tls(ctx, server_hostname=server_hostname)
        except ssl.SSLCertVerificationError as exc:
            raise UpstreamTlsError(f"certificate not trusted: {exc.verify_message}") from exc
        except (ssl.SSLError, ConnectionError) as exc:
            raise UpstreamTlsError(f"TLS handshake failed: {type(exc).__name__}") from exc


class TcpNetwork:
    """Opens upstream connections; the adapters' ``Network``."""

    def __init__(self, connect_timeout: float = 10.0) -> None:
        self._timeout = connect_timeout

    async def open_upstream(self, connection: Connection) -> UpstreamStream:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(UpstreamStream, connection.host, connection.port),
                self._timeout,
            )
        except TimeoutError as exc:
            raise OSError(f"timed out connecting to {connection.host}:{connection.port}") from exc
        return protocol
