"""``Notifier``: takes approval events from the gateway and delivers them in the background.

Theory of operation. ``publish(event)`` is called on the gateway's event loop and must cost
next to nothing there and never fail: it schedules the event onto the notifier's own event
loop, which runs in a dedicated daemon thread, and returns. On that loop each (event,
channel) pair becomes a task that renders the delivery once and tries it up to the channel's
``max_attempts``, sleeping a backoff between attempts.

Why a thread with its own loop (and not tasks on the gateway's loop, or a thread pool):
- the gateway's loop is the hot path (DESIGN.md §4); rendering JSON, DNS lookups, TLS
  handshakes and a slow or hanging receiver stay off it entirely, and nothing the notifier
  does can stall or crash it;
- waiting (backoff, Retry-After, slow receivers) costs a timer, not a thread: a receiver that
  is down for an hour ties up no worker, and one channel's trouble does not delay another;
- it is the only loop aiohttp (already a dependency) needs, with one pooled session.
SMTP has no asyncio client in our dependencies, so mail goes through smtplib on a small
thread pool owned by the notifier.

Per channel at most ``concurrency`` deliveries are in flight (a semaphore: a receiver that
asks us to slow down with 429 is not hammered by the queue behind it), and at most
``max_pending`` wait; beyond that events are dropped and counted, so a dead receiver cannot
grow the gateway's memory without bound.

Worker processes: nothing starts until the first ``publish`` (or ``start``), and a notifier
used in a process other than the one that started it starts afresh there, so building one
before the gateway forks its workers is safe.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from proctor.approvals.notify.channels import Channel, Delivery, HttpDelivery, MailDelivery
from proctor.approvals.notify.retry import AttemptResult, Outcome, RetryPolicy
from proctor.approvals.notify.stats import NotifyStats
from proctor.model.approval import ApprovalEvent
from proctor.server.notify.transport import HttpTransport, send_mail

log = logging.getLogger("proctor.approvals.notify")

MailSender = Callable[[MailDelivery, float], AttemptResult]


class Notifier:
    def __init__(
        self,
        channels: Sequence[Channel],
        retry: RetryPolicy | None = None,
        *,
        concurrency: int = 4,
        max_pending: int = 1000,
        send_mail: MailSender = send_mail,
        rng: random.Random | None = None,
    ) -> None:
        names = [channel.name for channel in channels]
        if len(set(names)) != len(names):
            raise ValueError("channel names must be unique")
        self.channels: tuple[Channel, ...] = tuple(channels)
        self.retry = retry or RetryPolicy()
        self.stats = NotifyStats(names)
        self._concurrency = concurrency
        self._max_pending = max_pending
        self._send_mail = send_mail
        self._rng = rng or random.Random()  # noqa: S311 - jitter only
        self._lock = threading.Lock()
        self._closed = False
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Created on the delivery loop (asyncio primitives belong to the loop that uses them).
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: dict[str, int] = dict.fromkeys(names, 0)
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._http: HttpTransport | None = None
        self._mail_pool: ThreadPoolExecutor | None = None

    # -- the gateway's side -------------------------------------------------------------

    def publish(self, event: ApprovalEvent) -> None:
        """Queue ``event`` for every channel that wants its type. Never blocks, never raises."""
        try:
            targets = [c.name for c in self.channels if c.accepts(event.type)]
            if not targets:
                return
            loop = self._running_loop()
            if loop is None:
                self._drop(targets, event, "the notifier is closed")
                return
            try:
                loop.call_soon_threadsafe(self._accept, event)
            except RuntimeError:  # close() won the race and the loop is gone
                self._drop(targets, event, "the notifier is closed")
        except Exception:  # a notification is never worth a failed gateway operation
            log.exception("could not queue approval notification %s", event.type)

    def start(self) -> None:
        """Start the delivery thread (``publish`` does this on first use)."""
        self._running_loop()

    def close(self, timeout: float = 10.0) -> bool:
        """Stop accepting events, deliver what is queued for up to ``timeout`` seconds, then
        cut the rest short (counted as dropped) and stop the thread. True if all was delivered
        (or given up on by the retry policy) in time. Blocks: call it at shutdown.
        """
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
            if self._pid != os.getpid():
                loop = thread = None  # started in a parent process: nothing runs here
            self._loop = self._thread = None  # a second close finds nothing to stop
        if loop is None or thread is None:
            return True
        flushed = False
        try:
            future = asyncio.run_coroutine_threadsafe(self._drain(timeout), loop)
            flushed = future.result(timeout + 10.0)
        except Exception:
            log.exception("approval notifications: shutdown did not complete cleanly")
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10.0)
        return flushed

    # -- the delivery thread ------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        with self._lock:
            if self._closed:
                return None
            if self._loop is not None and self._pid == os.getpid():
                return self._loop
            # Made here, run there: publish can schedule onto it before the thread runs.
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=self._run, args=(loop,), name="proctor-approval-notify", daemon=True
            )
            self._loop, self._thread, self._pid = loop, thread, os.getpid()
            self._tasks = set()
            self._pending = dict.fromkeys(self._pending, 0)
            self._limits = {}
            self._http = HttpTransport()
            self._mail_pool = None
            thread.start()
            return loop

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                for task in list(self._tasks):
                    task.cancel()
                loop.run_until_complete(self._release())
            finally:
                loop.close()

    async def _release(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._mail_pool is not None:
            self._mail_pool.shutdown(wait=False, cancel_futures=True)

    async def _drain(self, grace: float) -> bool:
        # Events published before close() were scheduled before this coroutine, so every
        # one of them already has its task.
        tasks = set(self._tasks)
        if not tasks:
            return True
        _, unfinished = await asyncio.wait(tasks, timeout=grace)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.gather(*unfinished, return_exceptions=True)
        return not unfinished

    def _accept(self, event: ApprovalEvent) -> None:
        for channel in self.channels:
            if not channel.accepts(event.type):
                continue
            if self._pending[channel.name] >= self._max_pending:
                self._drop([channel.name], event, "too many notifications pending")
                continue
            self._pending[channel.name] += 1
            self.stats.add(channel.name, pending=1)
            task = asyncio.get_running_loop().create_task(self._deliver(channel, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _drop(self, names: list[str], event: ApprovalEvent, why: str) -> None:
        for name in names:
            self.stats.add(name, dropped=1)
        self._log_drop(names, event, why)

    def _log_drop(self, names: list[str], event: ApprovalEvent, why: str) -> None:
        log.warning(
            "approval notification %s for %s dropped (%s): %s",
            event.type,
            event.request.id,
            why,
            ", ".join(names),
        )

    async def _deliver(self, channel: Channel, event: ApprovalEvent) -> None:
        name = channel.name
        limit = self._limits.setdefault(name, asyncio.Semaphore(self._concurrency))
        outcome: str | None = None
        try:
            async with limit:
                outcome = await self._attempts(channel, event)
        finally:  # also on cancellation at shutdown
            self._pending[name] -= 1
            # The outcome and the end of pending in one update: the stats are read from
            # other threads, which must never see a notification both finished and pending.
            if outcome is None:
                self.stats.add(name, pending=-1, dropped=1)
                self._log_drop([name], event, "shut down before delivery finished")
            else:
                self.stats.add(name, pending=-1, **{outcome: 1})

    async def _attempts(self, channel: Channel, event: ApprovalEvent) -> str:
        """Deliver with retries; once delivered or given up on, which count the outcome
        goes to: ``delivered`` or ``failed``."""
        where = f"{channel.name} ({channel.kind})"
        what = f"{event.type} for {event.request.id}"
        try:
            delivery = channel.render(event)
        except Exception as exc:
            log.error("approval notification %s via %s: cannot render: %s", what, where, _safe(exc))
            return "failed"
        attempts = max(1, channel.max_attempts)
        for attempt in range(1, attempts + 1):
            result = await self._attempt(delivery, channel.timeout)
            if result.outcome is Outcome.DELIVERED:
                log.debug(
                    "approval notification %s via %s delivered (%s)", what, where, result.detail
                )
                return "delivered"
            if result.outcome is Outcome.FAIL or attempt == attempts:
                log.warning(
                    "approval notification %s via %s failed after %d attempt(s): %s",
                    what,
                    where,
                    attempt,
                    result.detail,
                )
                return "failed"
            self.stats.add(channel.name, retried=1)
            delay = self.retry.delay(attempt, result.retry_after, self._rng)
            log.info(
                "approval notification %s via %s: attempt %d failed (%s), retrying in %.1fs",
                what,
                where,
                attempt,
                result.detail,
                delay,
            )
            await asyncio.sleep(delay)
        return "failed"  # not reached: the last attempt returns above

    async def _attempt(self, delivery: Delivery, time_limit: float) -> AttemptResult:
        try:
            if isinstance(delivery, HttpDelivery):
                assert self._http is not None
                return await self._http.post(delivery, time_limit)
            if self._mail_pool is None:
                self._mail_pool = ThreadPoolExecutor(2, thread_name_prefix="proctor-notify-smtp")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._mail_pool, self._send_mail, delivery, time_limit
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a transport bug must not end the delivery loop
            return AttemptResult(Outcome.RETRY, _safe(exc))


def _safe(exc: BaseException) -> str:
    # The class only: messages of arbitrary exceptions may quote URLs or bodies.
    return type(exc).__name__
