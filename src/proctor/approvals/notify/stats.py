"""Per-channel delivery counters, written by the delivery thread and read by whoever exports
metrics (a snapshot under a lock: no torn reads across the four counters).

``delivered``: events the receiver accepted. ``retried``: attempts that failed and were tried
again. ``failed``: events given up on (permanent error or attempts exhausted). ``dropped``:
events never attempted to the end: the queue was full, the notifier was closed, or shutdown
cut a delivery short.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class ChannelCounts:
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    dropped: int = 0
    pending: int = 0  # accepted and not yet delivered, failed or dropped


class NotifyStats:
    def __init__(self, channels: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._counts = {name: ChannelCounts() for name in channels}

    def add(self, channel: str, **deltas: int) -> None:
        with self._lock:
            current = self._counts.get(channel, ChannelCounts())
            changed = {key: getattr(current, key) + delta for key, delta in deltas.items()}
            self._counts[channel] = replace(current, **changed)

    def snapshot(self) -> dict[str, ChannelCounts]:
        with self._lock:
            return dict(self._counts)

    def __getitem__(self, channel: str) -> ChannelCounts:
        with self._lock:
            return self._counts[channel]
