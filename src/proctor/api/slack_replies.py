"""Replies to Slack button clicks, also posted to the click's ``response_url``.

Why both: the route answers each click with the reply as its JSON body, but for Block Kit
clicks (``block_actions``) Slack documents ``response_url`` as the way to replace the
original message or answer ephemerally, and may ignore the body. Posting the same JSON
there as well makes the reply show either way (replacing a message twice with the same
content changes nothing).

The URL comes from the request body, so it is trusted only after the signature checked out,
and even then only when it points at Slack itself (``https://hooks.slack.com/``): a signed
click must not be able to make the gateway send requests anywhere else. Posting happens in
the background (Slack wants its answer within 3 seconds), bounded in number and time, and
failures cost a log line (never the URL: it is a credential for that message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger("proctor.api")

SLACK_HOOKS_HOST = "hooks.slack.com"
MAX_PENDING = 64
TIMEOUT = 10.0


def is_slack_response_url(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and parts.hostname == SLACK_HOOKS_HOST
        and parts.port in (None, 443)
        and not parts.username
        and not parts.password
    )


class ResponseUrlReplies:
    def __init__(
        self,
        allowed: Callable[[str], bool] = is_slack_response_url,
        timeout: float = TIMEOUT,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._allowed = allowed
        self._timeout = timeout
        self._max_pending = max_pending
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def post(self, url: str | None, reply: dict[str, Any]) -> bool:
        """Schedule the post; False when it is not sent (no URL, not Slack's, too many)."""
        if not url or not self._allowed(url):
            return False
        if len(self._tasks) >= self._max_pending:
            log.warning("slack_reply_dropped", extra={"reason": "too many replies in flight"})
            return False
        task = asyncio.get_running_loop().create_task(self._send(url, reply))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _send(self, url: str, reply: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        try:
            async with self._session.post(url, json=reply, allow_redirects=False) as answer:
                if answer.status >= 300:
                    log.warning("slack_reply_failed", extra={"reason": f"HTTP {answer.status}"})
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack_reply_failed", extra={"reason": type(exc).__name__})

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
