"""Opening the state store for admin commands, and the output helpers they share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from proctor.config import ConfigError, load_config
from proctor.store import SqlStore, UnsupportedStoreURL, open_store


def open_store_from_config(config_path: Path) -> SqlStore:
    """The store named by the configuration, its schema upgraded to the newest revision.

    Every failure becomes a one-line ``click.ClickException`` (exit status 1), never a
    traceback; no message includes the store's password.
    """
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        return open_store(cfg.store.url, migrate=True)
    except UnsupportedStoreURL as exc:
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        # The driver's own message (e.g. "connection refused"), not SQLAlchemy's wrapper,
        # which would add the SQL statement and a documentation link.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(f"cannot open the state store: {reason}") from exc


# Terminal control characters other than newline and tab. Statement text, database names and
# the like come from clients: printed raw, an escape sequence could rewrite the operator's
# terminal (or hide a line of the audit trail from them).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def format_time(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def iso_time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def format_duration(value: timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``5m 3s``, ``42s``: the two largest units are plenty to read."""
    seconds = max(0, int(value.total_seconds()))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count or (unit == "s" and not parts):
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    cells = [list(headers), *([printable(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
