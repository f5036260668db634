from __future__ import annotations

import pytest

from proctor.config.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        (0, 0.0),
        ("30", 30.0),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("8h", 28800.0),
        ("2d", 172800.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        (" 10s ", 10.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["30x", "s", "", "-5s", -1, "5 m", "1M", True, None, [1], "inf", float("nan")]
)
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (1024, 1024),
        ("1024", 1024),
        ("64MiB", 64 * 1024**2),
        ("64 MiB", 64 * 1024**2),
        ("64mib", 64 * 1024**2),
        ("10kB", 10_000),
        ("10KB", 10_000),
        ("1KiB", 1024),
        ("1GiB", 1024**3),
        ("2TB", 2 * 1000**4),
        ("1.5KiB", 1536),
        ("7B", 7),
        (2048.0, 2048),
    ],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text", ["64XB", "MiB", "", "-1", -1, "1.3B", 0.5, True, None, "1e6", "64 Mi B"]
)
def test_bad_sizes(text: object) -> None:
    with pytest.raises(ValueError, match=r"expected a (size|whole number of bytes)"):
        parse_size(text)
