"""HMAC-SHA256 signatures of webhook bodies: ``Proctor-Signature: t=<unix>,v1=<hex>``.

The signed message is ``<t>.`` followed by the exact body bytes, so the timestamp cannot be
changed without breaking the signature and a receiver can refuse old deliveries (replays).
The scheme is Stripe's: receivers with a Stripe-style verifier need only the header name.
A header may carry several ``v1`` values (one per secret while a secret is rotated); one
matching is enough. Unknown keys (a future ``v2``) are ignored, so the format can grow.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Proctor-Signature"
DEFAULT_TOLERANCE = 300.0  # seconds either way: clocks drift, retries re-sign with a fresh t


class SignatureError(ValueError):
    """The signature is missing, malformed, stale or wrong; the message is safe to show."""


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def webhook_signature(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def sign_webhook(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The ``Proctor-Signature`` header value for ``body``, signed now unless told when."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={webhook_signature(secret, body, t)}"


def verify_webhook_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """Check a ``Proctor-Signature`` header against the raw request body.

    Pass the body exactly as received (before any JSON parsing). Returns the signed timestamp;
    raises ``SignatureError`` when the header is missing or malformed, the timestamp is more
    than ``tolerance`` seconds from ``now`` (default: the current time), or no ``v1``
    signature matches. Receivers that want replay protection beyond the tolerance window
    remember the CloudEvent ``id`` of deliveries they have processed.
    """
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, equals, value = item.strip().partition("=")
        if not equals:
            raise SignatureError(f"malformed {SIGNATURE_HEADER} header")
        if key == "t":
            if not value.isdigit() or timestamp is not None:
                raise SignatureError(f"malformed timestamp in {SIGNATURE_HEADER}")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None:
        raise SignatureError(f"no timestamp (t=) in {SIGNATURE_HEADER}")
    if not candidates:
        raise SignatureError(f"no v1 signature in {SIGNATURE_HEADER}")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("signature timestamp outside the tolerance (replayed or clock skew)")
    expected = webhook_signature(secret, body, timestamp)
    # compare_digest for each candidate: the time taken reveals nothing about the expected value.
    wanted = expected.encode("ascii")
    if not any(hmac.compare_digest(wanted, c.lower().encode(errors="replace")) for c in candidates):
        raise SignatureError("signature does not match")
    return timestamp
