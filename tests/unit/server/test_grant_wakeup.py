"""A grant revoked elsewhere (a store notice) makes the worker check its grant-admitted
sessions at once rather than at the next tick."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from proctor.server.worker import end_ungranted_sessions


class CountingListener:
    """Stands in for PgListener: counts how often the checker looks at the sessions."""

    def __init__(self) -> None:
        self.looks = 0

    @property
    def sessions(self) -> list[Any]:
        self.looks += 1
        return []


async def test_a_change_triggers_the_check_at_once() -> None:
    listener = CountingListener()
    changed = asyncio.Event()
    task = asyncio.create_task(
        end_ungranted_sessions(listener, None, changed, interval=60.0)  # type: ignore[arg-type]
    )
    try:
        await asyncio.sleep(0.1)
        assert listener.looks == 0  # the tick is a minute away
        changed.set()
        async with asyncio.timeout(5):
            while listener.looks == 0:  # noqa: ASYNC110 - a probe, not a protocol
                await asyncio.sleep(0.01)
        assert not changed.is_set()  # consumed: the next check waits again
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
