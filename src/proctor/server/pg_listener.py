"""The PostgreSQL listener of one worker: accepts clients and runs their sessions."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Coroutine
from typing import Any

from proctor.adapters.postgres.ports import PgContext
from proctor.adapters.postgres.session import PgSession
from proctor.codecs.pgwire import encode
from proctor.codecs.pgwire.constants import TX_IDLE
from proctor.server.streams import ClientStream, StreamProtocol

log = logging.getLogger("proctor.listener")


class PgListener:
    def __init__(
        self,
        ctx: PgContext,
        server_tls: ssl.SSLContext | None,
        max_connections: int,
        handshake_timeout: float,
    ) -> None:
        self.ctx = ctx
        self._tls = server_tls
        self._max = max_connections
        self._handshake_timeout = handshake_timeout
        self.sessions: set[PgSession] = set()
        self._refusing: set[PgSession] = set()
        self._max_refusing = max(16, max_connections // 4)
        self._tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.AbstractServer | None = None

    def protocol_factory(self) -> ClientStream:
        return ClientStream(self._on_connect, self._tls)

    def _on_connect(self, stream: ClientStream) -> None:
        session = PgSession(self.ctx, stream)
        if len(self.sessions) >= self._max:
            # Over the limit: answer like PostgreSQL does (after the startup packet, so the
            # client can read it, over TLS if asked), but only for a bounded number of
            # clients at once; beyond that, close straight away. Memory stays bounded.
            self.ctx.observer.auth_failed("too_many_connections")
            if len(self._refusing) >= self._max_refusing:
                stream.abort()
                return
            self._refusing.add(session)
            self._spawn(self._refuse(session))
            return
        self.sessions.add(session)
        self._spawn(self._run(session, stream))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refuse(self, session: PgSession) -> None:
        try:
            async with asyncio.timeout(self._handshake_timeout):
                await session.refuse_after_startup(
                    "53300", "too many connections to the Proctor gateway"
                )
        except (TimeoutError, OSError):
            session.close("too_many_connections", record=False)
        finally:
            self._refusing.discard(session)

    async def _run(self, session: PgSession, stream: ClientStream) -> None:
        try:
            try:
                async with asyncio.timeout(self._handshake_timeout):
                    ready = await session.handshake()
            except TimeoutError:
                session._fatal(
                    "08P01",
                    f"the connection handshake did not complete within "
                    f"{self._handshake_timeout:g}s",
                )
                session.close("handshake_timeout")
                return
            if not ready:
                return
            upstream = session.upstream
            if isinstance(upstream, StreamProtocol):
                # Each side's back-pressure pauses the other side's reads.
                stream.flow_peer = upstream
                upstream.flow_peer = stream
            session.start_relay()
            await session.closed_event.wait()
        except Exception:
            log.exception("session_crashed", extra={"session": session.id})
            if session.relay is None or session.relay.at_message_boundary:
                session._fatal(
                    "XX000", f"internal error in the Proctor gateway (session {session.id})"
                )
            session.close("internal_error")
        finally:
            self.sessions.discard(session)

    async def enforce_idle_timeout(self, idle_timeout: float) -> None:
        """End sessions that moved no bytes for ``idle_timeout`` seconds (0: never)."""
        if idle_timeout <= 0:
            return
        while True:
            await asyncio.sleep(min(idle_timeout / 4, 5.0))
            now = time.perf_counter()
            for session in list(self.sessions):
                relay = session.relay
                if relay is None or now - relay.last_active < idle_timeout:
                    continue
                if relay.at_message_boundary:
                    session.client.write(
                        encode.error_response(
                            "57P05",
                            "terminating connection due to idle-session timeout "
                            f"({idle_timeout:g}s)",
                            severity="FATAL",
                        )
                    )
                session.close("idle_timeout")

    def stop_accepting(self) -> None:
        if self.server is not None:
            self.server.close()

    async def drain(self, grace: float) -> None:
        """Let sessions finish on their own for up to ``grace`` seconds, then end them."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for session in list(self.sessions):
            relay = session.relay
            if relay is not None and relay.at_message_boundary and relay.tx_status == TX_IDLE:
                session.client.write(
                    encode.error_response(
                        "57P01",
                        "terminating connection because the Proctor gateway is shutting down",
                        severity="FATAL",
                    )
                )
            session.close("gateway_shutdown")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
