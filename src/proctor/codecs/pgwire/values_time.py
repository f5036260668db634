"""Binary <-> text for date, time, timetz, timestamp, timestamptz and interval.

Binary forms (integer datetimes, PostgreSQL 10+): date = int32 days since 2000-01-01;
timestamp(tz) = int64 microseconds since 2000-01-01 00:00:00 (UTC for timestamptz);
time = int64 microseconds since midnight; timetz = that + int32 zone (seconds *west* of UTC);
interval = int64 microseconds, int32 days, int32 months. ``±infinity`` are INT32/INT64 min/max.

Text forms are PostgreSQL's with DateStyle ISO and IntervalStyle postgres. Years are
astronomical inside (0 = 1 BC) and printed as ``0044-03-15 BC``; calendar arithmetic is
PostgreSQL's own ``date2j``/``j2date`` (proleptic Gregorian, beyond Python's year 1..9999).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import struct
import zoneinfo

Buf = bytes | bytearray | memoryview
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_TIMETZ = struct.Struct(">qi")
_INTERVAL = struct.Struct(">qii")

POSTGRES_EPOCH_JDATE = 2451545
_DATE_END = 2147483494 - POSTGRES_EPOCH_JDATE  # exclusive, in days since 2000-01-01
_DATE_MIN = -POSTGRES_EPOCH_JDATE
_MIN_TIMESTAMP = -211813488000000000
_END_TIMESTAMP = 9223371331200000000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_USECS_DAY = 86_400_000_000
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z", "Zulu", "UCT", "Universal"})
_PY_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def date2j(y: int, m: int, d: int) -> int:
    """PostgreSQL's date2j: Julian day number of an astronomical-year Gregorian date."""
    if m > 2:
        m += 1
        y += 4800
    else:
        m += 13
        y += 4799
    century = y // 100
    julian = y * 365 - 32167
    julian += y // 4 - century + century // 4
    julian += 7834 * m // 256 + d
    return julian


def j2date(jd: int) -> tuple[int, int, int]:
    """PostgreSQL's j2date (valid for jd >= 0)."""
    julian = jd + 32044
    quad = julian // 146097
    extra = (julian - quad * 146097) * 4 + 3
    julian += 60 + quad * 3 + extra // 146097
    quad = julian // 1461
    julian -= quad * 1461
    y = julian * 4 // 1461
    julian = ((julian + 305) % 365 if y != 0 else (julian + 306) % 366) + 123
    y += quad * 4
    quad = julian * 2141 // 65536
    return y - 4800, (quad + 10) % 12 + 1, julian - 7834 * quad // 256


def _ymd(year: int, month: int, day: int) -> str:
    if year > 0:
        return f"{year:04d}-{month:02d}-{day:02d}"
    return f"{1 - year:04d}-{month:02d}-{day:02d}"


def _hms(usecs: int) -> str:
    secs, frac = divmod(usecs, 1_000_000)
    mins, s = divmod(secs, 60)
    h, mi = divmod(mins, 60)
    if frac:
        return f"{h:02d}:{mi:02d}:{s:02d}." + f"{frac:06d}".rstrip("0")
    return f"{h:02d}:{mi:02d}:{s:02d}"


def _offset(east: int) -> str:
    """PostgreSQL's EncodeTimezone: ``+HH``, ``+HH:MM`` or ``+HH:MM:SS``."""
    sign = "-" if east < 0 else "+"
    mins, s = divmod(abs(east), 60)
    h, mi = divmod(mins, 60)
    if s:
        return f"{sign}{h:02d}:{mi:02d}:{s:02d}"
    if mi:
        return f"{sign}{h:02d}:{mi:02d}"
    return f"{sign}{h:02d}"


def date_out(data: Buf) -> str:
    (days,) = _I32.unpack(data)
    if days == _INT32_MAX:
        return "infinity"
    if days == _INT32_MIN:
        return "-infinity"
    if not _DATE_MIN <= days < _DATE_END:
        raise ValueError("date out of range")
    y, m, d = j2date(days + POSTGRES_EPOCH_JDATE)
    return _ymd(y, m, d) + (" BC" if y <= 0 else "")


def _timestamp(usecs: int, east: int | None) -> str:
    if not _MIN_TIMESTAMP <= usecs < _END_TIMESTAMP:
        raise ValueError("timestamp out of range")
    days, time = divmod(usecs + (east or 0) * 1_000_000, _USECS_DAY)
    y, m, d = j2date(days + POSTGRES_EPOCH_JDATE)
    text = _ymd(y, m, d) + " " + _hms(time)
    if east is not None:
        text += _offset(east)
    return text + " BC" if y <= 0 else text


def timestamp_out(data: Buf) -> str:
    (usecs,) = _I64.unpack(data)
    if usecs == _INT64_MAX:
        return "infinity"
    if usecs == _INT64_MIN:
        return "-infinity"
    return _timestamp(usecs, None)


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("unknown time zone") from None


_PY_FIRST = (dt.datetime(1, 1, 2, tzinfo=dt.UTC) - _PY_EPOCH) // dt.timedelta(microseconds=1)
_PY_LAST = (dt.datetime(9999, 12, 30, tzinfo=dt.UTC) - _PY_EPOCH) // dt.timedelta(microseconds=1)
_400_YEARS = 146097 * _USECS_DAY  # the Gregorian cycle: dates and weekdays repeat


def _into_python_range(usecs: int) -> int:
    """An instant with the same zone offset inside Python's years 1..9999: before year 1 every
    zone is at its first offset (LMT), as in PostgreSQL; after 9999 the zone's POSIX rule
    repeats every 400 years (PostgreSQL's localtime.c uses the same cycle)."""
    if usecs < _PY_FIRST:
        return _PY_FIRST
    if usecs > _PY_LAST:
        return usecs - -(-(usecs - _PY_LAST) // _400_YEARS) * _400_YEARS
    return usecs


def _east_of_utc(usecs: int, timezone: str) -> int:
    """Seconds east of UTC of ``timezone`` at ``usecs`` (UTC, PostgreSQL epoch)."""
    if timezone in _UTC_NAMES:
        return 0
    zone = _zone(timezone)
    when = _PY_EPOCH + dt.timedelta(microseconds=_into_python_range(usecs))
    off = when.astimezone(zone).utcoffset()
    return 0 if off is None else int(off.total_seconds())


def timestamptz_out(data: Buf, timezone: str) -> str:
    (usecs,) = _I64.unpack(data)
    if usecs == _INT64_MAX:
        return "infinity"
    if usecs == _INT64_MIN:
        return "-infinity"
    if not _MIN_TIMESTAMP <= usecs < _END_TIMESTAMP:
        raise ValueError("timestamp out of range")
    return _timestamp(usecs, _east_of_utc(usecs, timezone))


def time_out(data: Buf) -> str:
    (usecs,) = _I64.unpack(data)
    if not 0 <= usecs <= _USECS_DAY:
        raise ValueError("time out of range")
    return _hms(usecs)


def timetz_out(data: Buf) -> str:
    usecs, west = _TIMETZ.unpack(data)
    if not 0 <= usecs <= _USECS_DAY or not -57600 <= west <= 57600:
        raise ValueError("time out of range")
    return _hms(usecs) + _offset(-west)


def _quot(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def interval_out(data: Buf) -> str:
    """IntervalStyle postgres: ``1 year 2 mons -3 days +04:05:06.5``."""
    time, days, months = _INTERVAL.unpack(data)
    out: list[str] = []
    is_before = False
    for value, unit in ((_quot(months, 12), "year"), (months - _quot(months, 12) * 12, "mon")):
        if value:
            out.append(
                f"{'+' if is_before and value > 0 else ''}{value} {unit}{'' if value == 1 else 's'}"
            )
            is_before = value < 0
    if days:
        out.append(f"{'+' if is_before and days > 0 else ''}{days} day{'' if days == 1 else 's'}")
        is_before = days < 0
    if not out or time:
        hours = _quot(time, 3_600_000_000)
        rest = time - hours * 3_600_000_000
        sign = "-" if time < 0 else ("+" if is_before else "")
        out.append(sign + _hms(abs(hours) * 3_600_000_000 + abs(rest)))
    return " ".join(out)


# -- text -> binary -------------------------------------------------------------------------------

_DATE_TEXT = re.compile(
    r"\s*([0-9]{4,7})-([0-9]{2})-([0-9]{2})"
    r"(?:[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
    r"(?:\s*(Z|[+-][0-9]{2}(?::?[0-9]{2}(?::?[0-9]{2})?)?))?)?"
    r"(\s+BC)?\s*",
    re.ASCII,
)
_INFINITY = {"infinity": True, "+infinity": True, "-infinity": False}


def _parse(text: str) -> tuple[int, int, int | None] | None:
    """(days since 2000-01-01, usecs in the day, offset east in seconds or None)."""
    m = _DATE_TEXT.fullmatch(text)
    if m is None:
        return None
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if year == 0 or not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    if m[9]:
        year = 1 - year
    jd = date2j(year, month, day)
    if j2date(jd) != (year, month, day):
        return None  # e.g. February 30
    usecs = 0
    if m[4] is not None:
        h, mi, s = int(m[4]), int(m[5]), int(m[6])
        if h > 23 or mi > 59 or s > 59:
            return None
        usecs = ((h * 60 + mi) * 60 + s) * 1_000_000 + int((m[7] or "0").ljust(6, "0"))
    east = None
    if m[8]:
        tz = m[8]
        if tz == "Z":
            east = 0
        else:
            nums = tz[1:].replace(":", "")
            east = int(nums[0:2]) * 3600 + int(nums[2:4] or 0) * 60 + int(nums[4:6] or 0)
            if east > 15 * 3600 + 59 * 60 + 59:
                return None
            east = -east if tz[0] == "-" else east
    return jd - POSTGRES_EPOCH_JDATE, usecs, east


def date_in(text: str) -> bytes | None:
    inf = _INFINITY.get(text.strip().lower())
    if inf is not None:
        return _I32.pack(_INT32_MAX if inf else _INT32_MIN)
    parsed = _parse(text)
    if parsed is None or parsed[1] or parsed[2] is not None:
        return None
    days = parsed[0]
    return _I32.pack(days) if _DATE_MIN <= days < _DATE_END else None


def _timestamp_in(text: str, timezone: str | None) -> bytes | None:
    inf = _INFINITY.get(text.strip().lower())
    if inf is not None:
        return _I64.pack(_INT64_MAX if inf else _INT64_MIN)
    parsed = _parse(text)
    if parsed is None:
        return None
    days, usecs, east = parsed
    local = days * _USECS_DAY + usecs
    if timezone is not None:  # timestamptz: to UTC
        if east is None:
            east = _local_offset(local, timezone)
        local -= east * 1_000_000
    # timestamp without time zone ignores a given offset, as PostgreSQL does
    if not _MIN_TIMESTAMP <= local < _END_TIMESTAMP:
        return None
    return _I64.pack(local)


def _local_offset(local: int, timezone: str) -> int:
    if timezone in _UTC_NAMES:
        return 0
    zone = _zone(timezone)
    naive = _PY_EPOCH.replace(tzinfo=None) + dt.timedelta(microseconds=_into_python_range(local))
    # In a gap (spring forward) PostgreSQL takes the offset before the transition, in an
    # overlap (fall back) the one after: the smaller of the two either way.
    offsets = [naive.replace(tzinfo=zone, fold=f).utcoffset() for f in (0, 1)]
    return min(0 if off is None else int(off.total_seconds()) for off in offsets)


def timestamp_in(text: str) -> bytes | None:
    return _timestamp_in(text, None)


def timestamptz_in(text: str, timezone: str) -> bytes | None:
    return _timestamp_in(text, timezone)
