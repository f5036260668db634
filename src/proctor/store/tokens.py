"""Token secrets: how they are made and how they are stored.

A secret is ``prt_`` + 32 random bytes, base64url: 256 bits from the OS CSPRNG. The store
keeps only its SHA-256. A fast, unsalted hash is the right tool here, unlike for passwords:
password hashing is slow and salted because passwords are guessable, so an attacker holding
the hashes could try likely candidates. Nobody can enumerate 2**256 random secrets, at any
hash speed, and without a salt the hash can be the lookup key, so a verification is one
indexed query. That lookup also compares hashes, not secrets: how long the database takes to
find (or miss) a row tells a timing attacker nothing about the secret itself.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.engine import RowMapping

from proctor.model import TokenRecord

SECRET_PREFIX = "prt_"  # noqa: S105 - a public prefix, not a secret
ID_PREFIX = "tok_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def new_token_id() -> str:
    # 9 random bytes are exactly 12 base64url characters (72 bits: ids are not secrets,
    # they only need to be unique).
    return ID_PREFIX + secrets.token_urlsafe(9)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_secret(secret: str) -> bool:
    """Cheap shape check, so that obvious junk never reaches the database."""
    return secret.startswith(SECRET_PREFIX) and 20 <= len(secret) <= 200


def record_from_row(row: RowMapping) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        subject=row["subject"],
        groups=frozenset(row["groups"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        connections=frozenset(row["connections"]),
        description=row["description"],
    )
