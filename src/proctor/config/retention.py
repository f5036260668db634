"""``recordings.retention:``: how long session recordings are kept, per connection or tag.

```yaml
recordings:
  retention:
    retain: 400d                          # the default (also: 8w, 7y, forever)
    rules:
      - {connections: [shop], retain: 30d}
      - {tags: {env: prod}, retain: 7y}   # every listed tag must match
      - {connections: [billing], tags: {env: prod}, retain: forever}
```

A rule matches a session when its connection is one of ``connections`` (if given) *and* the
connection carries every tag in ``tags`` (if given). When several rules match, the **longest**
retention wins: audit data is never deleted while any rule still wants it kept, so adding a
rule can only lengthen retention, never shorten someone else's. No match: ``retain``.

Retention counts from the session's last recorded event (its seal, or the last checkpoint of a
session that never closed). ``proctor recordings purge`` applies it; legal holds override it.
A year is 365 days.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from proctor.config import units
from proctor.config.base import ConfigModel
from proctor.config.fields import ConnectionName, TagKey, TagValue

DAY = 86400.0
WEEK = 7 * DAY
YEAR = 365 * DAY
FOREVER = math.inf
MAX_YEARS = 100  # more is surely a typo (S3 Object Lock stops at 100 years too)
RETAIN_HELP = "a retention such as 30d, 8w, 400d, 7y or forever (at least 1h, at most 100y)"

_LONG_UNIT = re.compile(r"(\d+(?:\.\d+)?)(w|y)")


def parse_retain(value: object) -> float:
    """Seconds (``inf`` for ``forever``) from ``400d``, ``7y``, ``8w``, ``forever`` or any
    configuration duration (``36h``)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "forever":
            return FOREVER
        long = _LONG_UNIT.fullmatch(text)
        if long is not None:
            number, unit = long.groups()
            return float(number) * (YEAR if unit == "y" else WEEK)
    return units.parse_duration(value)


def _retain(value: object) -> float:
    try:
        seconds = parse_retain(value)
    except ValueError:
        raise PydanticCustomError("retain", f"expected {RETAIN_HELP}") from None
    if seconds != FOREVER and not 3600 <= seconds <= MAX_YEARS * YEAR:
        # Below an hour is a unit mistake ("30" meaning days is read as 30 seconds) that would
        # delete the audit trail of sessions still running.
        raise PydanticCustomError("retain", f"expected {RETAIN_HELP}")
    return seconds


Retain = Annotated[float, BeforeValidator(_retain)]


def format_retain(seconds: float) -> str:
    """``forever``, ``7y``, ``400d``, ``36h``: the way it was most likely written."""
    if seconds == FOREVER:
        return "forever"
    for unit, size in (("y", YEAR), ("w", WEEK), ("d", DAY), ("h", 3600.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class RetentionRule(ConfigModel):
    connections: tuple[ConnectionName, ...] = ()
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)
    retain: Retain

    @model_validator(mode="after")
    def _selects_something(self) -> Self:
        if not self.connections and not self.tags:
            # A rule with neither would match every session: that is what ``retain`` is for.
            raise PydanticCustomError(
                "retention_rule",
                "a retention rule needs connections or tags (the default goes in 'retain')",
            )
        return self

    def matches(self, connection: str, tags: Mapping[str, str] | None) -> bool:
        """``tags`` None: the connection's tags are unknown; a rule by tags then never
        matches (the caller decides what an unknown connection means)."""
        if self.connections and connection not in self.connections:
            return False
        if self.tags:
            if tags is None:
                return False
            return all(tags.get(k) == v for k, v in self.tags.items())
        return True

    def describe(self) -> str:
        parts = []
        if self.connections:
            parts.append("connections " + ", ".join(self.connections))
        if self.tags:
            parts.append("tags " + ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items())))
        return " and ".join(parts)


class RetentionConfig(ConfigModel):
    retain: Retain = 400 * DAY
    rules: tuple[RetentionRule, ...] = ()

    @property
    def uses_tags(self) -> bool:
        return any(r.tags for r in self.rules)

    def retention_for(
        self, connection: str, tags: Mapping[str, str] | None
    ) -> tuple[float, RetentionRule | None]:
        """Seconds to keep a session of ``connection`` and the rule that decided (None: the
        default). The longest matching retention wins."""
        best: tuple[float, RetentionRule | None] = (self.retain, None)
        matched = [r for r in self.rules if r.matches(connection, tags)]
        if matched:
            rule = max(matched, key=lambda r: r.retain)
            best = (rule.retain, rule)
        return best
