"""Durations and sizes as people write them in a config file.

Pure functions that raise ``ValueError`` with a message saying what is accepted; the schema
turns that into a located problem. A bare number is always the base unit (seconds, bytes)
because values from ``${env:...}`` references arrive as strings such as ``"30"``.
"""

from __future__ import annotations

import math
import re

DURATION_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

# Decimal units are powers of 1000 (SI), binary units powers of 1024 (IEC). Matching ignores
# case, so "mib" is MiB and "KB" is kB: the "i" alone decides which family is meant.
SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}

DURATION_HELP = "a duration such as 500ms, 30s, 5m, 8h, 2d, 1h30m or a number of seconds"
SIZE_HELP = "a size such as 64MiB, 10kB, 1GiB or a number of bytes"

_NUMBER = r"\d+(?:\.\d+)?"
_DURATION_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_DURATION = re.compile(rf"(?:{_NUMBER}(?:ms|s|m|h|d))+")
_SIZE = re.compile(rf"({_NUMBER})\s*([A-Za-z]*)")


def parse_duration(value: object) -> float:
    """Seconds from ``30``, ``"30"``, ``"500ms"``, ``"1h30m"``; never negative."""
    if isinstance(value, bool):  # YAML "yes"/"no" arrive as bools; they are not numbers here
        raise ValueError(f"expected {DURATION_HELP}")
    if isinstance(value, int | float):
        return _non_negative_finite(float(value), DURATION_HELP)
    if not isinstance(value, str):
        raise ValueError(f"expected {DURATION_HELP}")
    text = value.strip()
    if re.fullmatch(_NUMBER, text):
        return float(text)
    if not _DURATION.fullmatch(text):
        raise ValueError(f"expected {DURATION_HELP}")
    total = sum(
        float(number) * DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text)
    )
    return _non_negative_finite(total, DURATION_HELP)


def parse_size(value: object) -> int:
    """Bytes from ``1024``, ``"1024"``, ``"64MiB"`` or ``"10 kB"``; a whole number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected {SIZE_HELP}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected {SIZE_HELP} (zero or more)")
        return value
    if isinstance(value, float):
        return _whole_bytes(_non_negative_finite(value, SIZE_HELP))
    if not isinstance(value, str):
        raise ValueError(f"expected {SIZE_HELP}")
    match = _SIZE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"expected {SIZE_HELP}")
    number, unit = match.groups()
    multiplier = SIZE_UNITS.get(unit.lower() or "b")
    if multiplier is None:
        raise ValueError(f"expected {SIZE_HELP}; units are B, kB, MB, GB, TB, KiB, MiB, GiB, TiB")
    if "." not in number:  # exact integer arithmetic for the common case
        return int(number) * multiplier
    return _whole_bytes(float(number) * multiplier)


def _non_negative_finite(value: float, help_text: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected {help_text} (zero or more)")
    return value


def _whole_bytes(value: float) -> int:
    if not value.is_integer():
        raise ValueError(f"expected a whole number of bytes ({SIZE_HELP})")
    return int(value)
