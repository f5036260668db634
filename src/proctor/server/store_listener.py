"""One worker's ``LISTEN proctor_approvals`` connection to a PostgreSQL state store.

Theory of operation (the sending side is ``proctor.store.notifications``). The worker keeps
one psycopg ``AsyncConnection`` in autocommit mode that only listens; every notice's payload
(a request or grant id) is handed to ``on_change`` on the event loop, which wakes whatever
waits on it. The connection is checked with a ``SELECT 1`` whenever no notice came for
``check_every`` seconds, so a connection that died silently (a failover, a dropped NAT
entry) is noticed and replaced.

While the connection is down nothing is heard, so waiting code keeps polling the store
(``approvals.poll_interval``) regardless, and after every (re)connect ``on_connected`` is
called: whatever waits re-reads the store once, covering notices sent while nobody listened.
Reconnects back off exponentially (with jitter, so the workers of a gateway do not hammer a
recovering server in step).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import psycopg
from psycopg import sql

from proctor.store.notifications import CHANNEL

log = logging.getLogger("proctor.approvals")

ChangeHandler = Callable[[str], None]


class StoreListener:
    def __init__(
        self,
        conninfo: str,
        on_change: ChangeHandler,
        on_connected: Callable[[], None],
        *,
        first_retry: float = 0.5,
        max_retry: float = 30.0,
        check_every: float = 30.0,
        connect_timeout: int = 10,
    ) -> None:
        self._conninfo = conninfo
        self._on_change = on_change
        self._on_connected = on_connected
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._check_every = check_every
        self._connect_timeout = connect_timeout
        self.connected = asyncio.Event()  # set while LISTEN is in place (tests, readiness)
        self.connects = 0  # successful connects, the first included

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any failure."""
        delay = self._first_retry
        while True:
            connects = self.connects
            try:
                await self._listen_once()
            except (psycopg.Error, OSError) as exc:
                event = "approval_listen_lost" if self.connects else "approval_listen_unavailable"
                # psycopg's message names host, port and user at most, never the password.
                detail = str(exc).strip()[:300]
                log.warning(event, extra={"error": type(exc).__name__, "detail": detail})
            if self.connects > connects:  # it was up: a new outage starts the backoff afresh
                delay = self._first_retry
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only
            delay = min(self._max_retry, delay * 2)

    async def _listen_once(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name="proctor-listen",
        )
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
            self.connects += 1
            self.connected.set()
            log.info("approval_listen_connected", extra={"connects": self.connects})
            self._on_connected()
            while True:
                async for notice in conn.notifies(timeout=self._check_every):
                    self._dispatch(notice.payload)
                await conn.execute("SELECT 1")  # raises if the connection is gone
        finally:
            self.connected.clear()
            await conn.close()

    def _dispatch(self, payload: str) -> None:
        try:
            self._on_change(payload)
        except Exception:  # a bad handler must not cost the worker its listener
            log.exception("approval_notice_failed")
