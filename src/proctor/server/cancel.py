"""Cancel keys the gateway issues, and routing a CancelRequest to the right upstream backend.

A cancel arrives on a *new* connection, possibly accepted by another worker process (the
workers share the port through SO_REUSEPORT). The issued pid carries the index of the worker
that owns the session in its top bits; a worker receiving someone else's cancel forwards the
16-byte request over that worker's unix socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import secrets
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

from proctor.adapters.postgres.ports import CancelTarget

log = logging.getLogger("proctor.cancel")

_WORKER_SHIFT = 24
_COUNTER_MASK = (1 << _WORKER_SHIFT) - 1
# Issued pids are (worker index + 1) << 24 | counter: never below 2^24, so never equal to a
# real backend pid (Linux pid_max is at most 2^22) that a client might pass to
# pg_terminate_backend. The pid must stay a positive int32, hence at most 126 workers.
MAX_WORKERS = 126
CANCEL_FORWARD_WAIT = 10.0


class PidMap:
    """Real backend pid -> the pid the gateway issued for it, shared by all workers.

    NotificationResponse names the notifying backend by its real pid, while clients only know
    issued pids; any worker may need to translate a pid another worker issued. A shared,
    file-backed array indexed by real pid (Linux pids are below 2^22) makes that one memory
    read. The file is sparse: only pages holding live pids take space.
    """

    SLOTS = 1 << 22

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size != self.SLOTS * 4:
                os.ftruncate(fd, self.SLOTS * 4)
            self._mm = mmap.mmap(fd, self.SLOTS * 4)
        finally:
            os.close(fd)
        self._slots = memoryview(self._mm).cast("i")

    def set(self, real: int, issued: int) -> None:
        if 0 < real < self.SLOTS:
            self._slots[real] = issued

    def clear(self, real: int, issued: int) -> None:
        if 0 < real < self.SLOTS and self._slots[real] == issued:
            self._slots[real] = 0

    def issued(self, real: int) -> int | None:
        if 0 < real < self.SLOTS:
            return self._slots[real] or None
        return None

    def close(self) -> None:
        self._slots.release()
        self._mm.close()


class CancelRouter:
    def __init__(
        self,
        worker_index: int,
        run_dir: Path,
        send: Callable[[CancelTarget], Awaitable[None]],
    ) -> None:
        if not 0 <= worker_index < MAX_WORKERS:
            raise ValueError(f"worker index must be below {MAX_WORKERS}")
        self._index = worker_index
        self._run_dir = run_dir
        self._send = send
        self._keys: dict[int, tuple[int, CancelTarget]] = {}
        self._counter = secrets.randbelow(_COUNTER_MASK)
        self.pids = PidMap(run_dir / "pids.map")
        self._server: asyncio.AbstractServer | None = None

    def socket_path(self, worker_index: int) -> Path:
        return self._run_dir / f"cancel-{worker_index}.sock"

    # CancelKeys interface
    def register(self, target: CancelTarget) -> tuple[int, int]:
        while True:
            self._counter = (self._counter + 1) & _COUNTER_MASK
            pid = ((self._index + 1) << _WORKER_SHIFT) | self._counter
            if pid and pid not in self._keys:
                break
        secret = secrets.randbits(32) - (1 << 31)
        self._keys[pid] = (secret, target)
        self.pids.set(target.pid, pid)
        return pid, secret

    def unregister(self, pid: int) -> None:
        entry = self._keys.pop(pid, None)
        if entry is not None:
            self.pids.clear(entry[1].pid, pid)

    def issued_pid(self, real_pid: int) -> int | None:
        return self.pids.issued(real_pid)

    async def cancel(self, pid: int, secret: int) -> None:
        owner = (pid >> _WORKER_SHIFT) - 1
        if owner < 0:
            log.info("cancel_ignored", extra={"reason": "unknown_key"})
            return
        if owner == self._index:
            await self._cancel_local(pid, secret)
        else:
            await self._forward(owner, pid, secret)

    async def _cancel_local(self, pid: int, secret: int) -> None:
        entry = self._keys.get(pid)
        # Compare as bytes in constant time: the secret is what stops strangers cancelling.
        if entry is None or not secrets.compare_digest(
            struct.pack("!i", entry[0]), struct.pack("!i", secret)
        ):
            log.info("cancel_ignored", extra={"reason": "unknown_key"})
            return
        on_cancel = entry[1].on_cancel
        if on_cancel is not None:
            try:
                on_cancel()  # e.g. withdraw a statement held for review
            except Exception:
                log.exception("cancel_hook_failed")
        try:
            await self._send(entry[1])
            log.info("cancel_forwarded", extra={"connection": entry[1].connection.name})
        except (OSError, TimeoutError) as exc:
            log.warning("cancel_failed", extra={"error": type(exc).__name__})

    async def _forward(self, owner: int, pid: int, secret: int) -> None:
        path = self.socket_path(owner)
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except OSError:
            log.info("cancel_ignored", extra={"reason": "no_such_worker"})
            return
        try:
            writer.write(struct.pack("!ii", pid, secret))
            await writer.drain()
            # The owner closes only once the cancel reached the server. Wait for that: the
            # client takes the close of its cancel connection as "cancel delivered" and sends
            # its next statement, which a late cancel would kill.
            async with asyncio.timeout(CANCEL_FORWARD_WAIT):
                await reader.read()
        except (OSError, TimeoutError):
            log.info("cancel_forward_incomplete", extra={"worker": owner})
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    # the unix socket other workers forward to
    async def serve(self) -> None:
        path = self.socket_path(self._index)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._handle, str(path))
        path.chmod(0o600)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                data = await reader.readexactly(8)
            pid, secret = struct.unpack("!ii", data)
            await self._cancel_local(pid, secret)
        except (asyncio.IncompleteReadError, TimeoutError, OSError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self.socket_path(self._index).unlink(missing_ok=True)
        self.pids.close()
