"""Stored sessions and statements as model values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import RowMapping

from proctor.model import SessionEnd, SessionStart, StatementRecord


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A stored session: how it started and, once it has, how it ended."""

    start: SessionStart
    end: SessionEnd | None = None

    @property
    def id(self) -> str:
        return self.start.id


def session_from_row(row: RowMapping) -> SessionRow:
    start = SessionStart(
        id=row["id"],
        subject=row["subject"],
        groups=frozenset(row["groups"]),
        connection=row["connection"],
        database=row["database"],
        protocol=row["protocol"],
        client_addr=row["client_addr"],
        started_at=row["started_at"],
        token_id=row["token_id"],
        gateway_version=row["gateway_version"],
        policy_hash=row["policy_hash"],
    )
    if row["ended_at"] is None:
        return SessionRow(start)
    end = SessionEnd(
        id=row["id"],
        ended_at=row["ended_at"],
        reason=row["end_reason"],
        statements=row["statements"],
        bytes_from_client=row["bytes_from_client"],
        bytes_to_client=row["bytes_to_client"],
        masked=row["masked"] or {},
    )
    return SessionRow(start, end)


def start_values(start: SessionStart) -> dict[str, Any]:
    return {
        "id": start.id,
        "subject": start.subject,
        "groups": sorted(start.groups),
        "connection": start.connection,
        "database": start.database,
        "protocol": start.protocol,
        "client_addr": start.client_addr,
        "token_id": start.token_id,
        "gateway_version": start.gateway_version,
        "started_at": start.started_at,
        "policy_hash": start.policy_hash,
    }


def end_values(end: SessionEnd) -> dict[str, Any]:
    return {
        "ended_at": end.ended_at,
        "end_reason": end.reason,
        "statements": end.statements,
        "bytes_from_client": end.bytes_from_client,
        "bytes_to_client": end.bytes_to_client,
        "masked": {where: dict(counts) for where, counts in end.masked.items()} or None,
    }


# Text from clients must not be able to make the database refuse a batch, which would stop
# recording: PostgreSQL text cannot hold NUL (stored as U+FFFD instead), and neither backend
# can encode lone surrogates (left by a surrogateescape decode; stored backslash-escaped).
# Both backends get the same treatment, so that they behave alike.
_NUL_FREE = str.maketrans({"\x00": "\ufffd"})


def storable_text(text: str) -> str:
    # Runs for every recorded statement: test cheaply before transforming.
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    text = text.translate(_NUL_FREE)
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode(errors="backslashreplace").decode()
    return text


def statement_from_row(row: RowMapping) -> StatementRecord:
    return StatementRecord(
        session_id=row["session_id"],
        seq=row["seq"],
        at=row["at"],
        text=row["text"],
        kind=row["kind"],
        verdict=row["verdict"],
        error=row["error"],
        rule=row["rule"],
    )
