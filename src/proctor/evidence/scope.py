"""The period and connections a pack covers, from what a person types (CLI or API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from proctor import __version__
from proctor.evidence.model import Scope
from proctor.model import Connection


class ScopeError(ValueError):
    """A period or filter that cannot be used (the message is safe to show)."""


def parse_when(text: str, *, end: bool) -> datetime:
    """``2026-09-30`` is a whole day (as ``end``, the day is included: the moment after it);
    otherwise an ISO 8601 date-time, UTC unless it carries an offset."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ScopeError(f"{text!r} is not a date (YYYY-MM-DD) or ISO date-time") from None
    except OverflowError:  # the day after 9999-12-31
        raise ScopeError(f"{text!r} is beyond the last representable day") from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # an offset that moves it outside the representable range
        raise ScopeError(f"{text!r} is outside the representable range") from None


def parse_period(start_text: str, end_text: str) -> tuple[datetime, datetime]:
    start = parse_when(start_text, end=False)
    end = parse_when(end_text, end=True)
    if end <= start:
        raise ScopeError("the end of the period (--to) must not be before its start (--from)")
    return start, end


def export_scope(
    start: datetime,
    end: datetime,
    connections: tuple[str, ...],
    tags: Mapping[str, str],
    generated_by: str,
) -> Scope:
    """The scope of a pack made now by ``generated_by`` with this gateway version."""
    return Scope(
        start=start,
        end=end,
        connections=connections,
        tags=dict(tags),
        generated_at=datetime.now(UTC),
        generated_by=generated_by,
        gateway_version=__version__,
    )


def parse_tags(values: Sequence[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise ScopeError(f"tag {value!r}: expected KEY=VALUE")
        tags[key] = val
    return tags


def scope_connections(
    configured: Mapping[str, Connection], names: Sequence[str], tags: Mapping[str, str]
) -> tuple[str, ...]:
    """The connections chosen by name and tags (empty: all of them).

    A name no longer configured is still accepted — old sessions outlive a removed
    connection — but a tag filter can only match connections configured now.
    """
    if not names and not tags:
        return ()
    chosen = set(names)
    if tags:
        tagged = {
            c.name for c in configured.values() if all(c.tags.get(k) == v for k, v in tags.items())
        }
        chosen = (chosen & tagged) if names else tagged
        if not chosen:
            raise ScopeError(
                "no configured connection has the tags "
                + ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))
            )
    return tuple(sorted(chosen))
