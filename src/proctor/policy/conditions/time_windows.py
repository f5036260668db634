"""The ``time`` condition: weekly windows of days and hours in a time zone."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import datetime

from proctor.model import Connection, Identity, Statement
from proctor.policy.conditions.base import Condition, _listed
from proctor.policy.context import DecisionContext
from proctor.policy.fields import DAYS
from proctor.policy.schema import TimeWindow


class _Window:
    __slots__ = ("days", "hours", "zone")

    def __init__(self, window: TimeWindow) -> None:
        self.days = frozenset(day for span in window.days for day in span)
        self.hours = tuple(window.hours)
        self.zone = zoneinfo.ZoneInfo(window.timezone)

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        if local.weekday() not in self.days:
            return False
        minute = local.hour * 60 + local.minute
        for start, end in self.hours:
            if start < end:
                if start <= minute < end:
                    return True
            elif minute >= start or minute < end:  # wraps past midnight: 22:00-06:00
                return True
        return False

    def describe(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days))
        hours = ",".join(
            f"{s // 60:02}:{s % 60:02}-{e // 60:02}:{e % 60:02}" for s, e in self.hours
        )
        return f"{days} {hours} {self.zone.key}"


class Time(Condition):
    __slots__ = ("_windows",)
    key = "time"

    def __init__(self, windows: Iterable[TimeWindow]) -> None:
        self._windows = tuple(_Window(window) for window in windows)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        now = context.now
        return any(window.contains(now) for window in self._windows)

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return (
            f"{context.now.isoformat()} is outside {_listed(w.describe() for w in self._windows)}"
        )

    def describe(self) -> str:
        return f"time: {_listed(w.describe() for w in self._windows)}"
