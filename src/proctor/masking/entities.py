"""What the engine detects (entities) and the column type categories it respects."""

from __future__ import annotations

import enum


class Entity(enum.StrEnum):
    """Built-in entity types. Custom detectors name their own entity (any lower-case word)."""

    CARD = "card"
    SSN = "ssn"
    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"
    IP = "ip"
    SECRET = "secret"  # noqa: S105 - an entity name, not a password
    DOB = "dob"
    NAME = "name"
    ADDRESS = "address"


BUILTIN_ENTITIES: frozenset[str] = frozenset(e.value for e in Entity)


class TypeCategory(enum.StrEnum):
    """How a result column's type constrains a replacement (DESIGN.md §5: type safety).

    The protocol adapter maps its type ids (PostgreSQL OIDs, MySQL field types) to these.
    """

    TEXT = "text"  # text, varchar, char, citext, name, xml, unknown-but-textual
    NUMERIC = "numeric"  # int2/4/8, numeric, float4/8, money-like
    DATE = "date"  # date, timestamp, timestamptz, time
    BINARY = "binary"  # bytea, blobs
    BOOL = "bool"
    OPAQUE = "opaque"  # uuid, oids, intervals, times, bits: cannot hold personal text
    JSON = "json"  # json, jsonb
    UNKNOWN = "unknown"  # anything else (arrays, enums, composites, user types)


def label(entity: str) -> str:
    """The redaction label for an entity: ``card`` -> ``[CARD]``."""
    return "[" + entity.upper() + "]"
