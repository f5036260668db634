"""What a decision knows besides the statement, identity and connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Where and when a command arrives.

    ``client_addr`` is the client's IP address as text (None when unknown, e.g. a Unix
    socket); ``now`` must be timezone-aware (time windows convert it to their own zone);
    ``protocol`` is the wire protocol the client speaks (``postgres``, ``mysql``, ...).
    """

    client_addr: str | None = None
    now: datetime = field(default_factory=_utc_now)
    protocol: str = "postgres"

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("DecisionContext.now must be timezone-aware")
