"""How far the gateway's clock can be trusted, from the kernel's NTP discipline.

Recordings state times in UTC from the gateway's clock. An auditor comparing them with other
logs needs to know whether that clock was synchronized and within what error, so each session
start records what the kernel reports through ``adjtimex(2)`` (read-only: ``modes = 0``, no
privilege needed): whether an NTP daemon keeps the clock synchronized (``STA_UNSYNC`` clear),
and the kernel's maximum and estimated error. Where the call is unavailable (not Linux, a
sandbox refusing it) nothing is claimed: ``read_clock`` returns None.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from dataclasses import dataclass
from typing import Any

_STA_UNSYNC = 0x0040
_STA_NANO = 0x2000
_TIME_ERROR = 5


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex of <sys/timex.h> (Linux); the trailing padding is part of the ABI.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


@dataclass(frozen=True, slots=True)
class ClockStatus:
    synchronized: bool
    max_error_us: int  # the kernel's bound on the clock's error
    est_error_us: int  # its estimate
    offset_us: int  # the last offset the NTP discipline measured
    source: str = "adjtimex"

    def as_map(self) -> dict[str, Any]:
        return {
            "sync": self.synchronized,
            "max_err_us": self.max_error_us,
            "est_err_us": self.est_error_us,
            "offset_us": self.offset_us,
            "src": self.source,
        }

    @classmethod
    def from_map(cls, m: Any) -> ClockStatus | None:
        """The recorded form back; None when absent or not understood (older recordings)."""
        if not isinstance(m, dict):
            return None
        try:
            return cls(
                bool(m["sync"]),
                int(m["max_err_us"]),
                int(m["est_err_us"]),
                int(m["offset_us"]),
                str(m.get("src", "adjtimex")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        state = "synchronized" if self.synchronized else "NOT synchronized"
        return f"clock {state} (max error {self.max_error_us / 1e6:g} s, {self.source})"


_adjtimex: Any = None


def read_clock() -> ClockStatus | None:
    """The clock's state now (one cheap system call), or None where unavailable."""
    global _adjtimex
    if not sys.platform.startswith("linux"):
        return None
    try:
        if _adjtimex is None:
            _adjtimex = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).adjtimex
        timex = _Timex()
        state = _adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    offset = timex.offset // 1000 if timex.status & _STA_NANO else timex.offset
    return ClockStatus(
        synchronized=state != _TIME_ERROR and not timex.status & _STA_UNSYNC,
        max_error_us=int(timex.maxerror),
        est_error_us=int(timex.esterror),
        offset_us=int(offset),
    )
