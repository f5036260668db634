"""Proctor-Signature: made by the notifier, checked by receivers."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from proctor.approvals.notify import SignatureError, sign_webhook, verify_webhook_signature

SECRET = "whsec-0123456789abcdef"
BODY = b'{"specversion":"1.0","id":"x"}'
T = 1_714_557_600


def test_header_format_is_the_documented_recipe() -> None:
    header = sign_webhook(SECRET, BODY, T)
    # What docs/approvals-notifications.md tells receivers to compute.
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"


def test_round_trip() -> None:
    header = sign_webhook(SECRET, BODY, T)
    assert verify_webhook_signature(SECRET, header, BODY, now=T + 10) == T
    assert verify_webhook_signature(SECRET.encode(), header, BODY, now=T - 10) == T


@pytest.mark.parametrize(
    ("secret", "body", "now", "message"),
    [
        (SECRET, BODY + b" ", T, "does not match"),
        (SECRET, BODY.replace(b"x", b"y"), T, "does not match"),
        ("whsec-another-secret-000", BODY, T, "does not match"),
        (SECRET, BODY, T + 301, "outside the tolerance"),
        (SECRET, BODY, T - 301, "outside the tolerance"),
    ],
)
def test_refused(secret: str, body: bytes, now: float, message: str) -> None:
    header = sign_webhook(SECRET, BODY, T)
    with pytest.raises(SignatureError, match=message):
        verify_webhook_signature(secret, header, body, now=now)


def test_the_timestamp_is_signed() -> None:
    header = sign_webhook(SECRET, BODY, T)
    moved = header.replace(f"t={T}", f"t={T + 100}")
    with pytest.raises(SignatureError, match="does not match"):
        verify_webhook_signature(SECRET, moved, BODY, now=T + 100)


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=abc", f"t={T}", "t=soon,v1=abc", "garbage", f"t={T},t={T},v1=ab", "t=1,v1=é"],
)
def test_malformed_headers(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_webhook_signature(SECRET, header, BODY, now=T)


def test_any_of_several_signatures_and_unknown_schemes() -> None:
    good = sign_webhook(SECRET, BODY, T).split(",")[1]
    header = f"t={T}, v1={'0' * 64}, {good}, v2=whatever"
    assert verify_webhook_signature(SECRET, header, BODY, now=T) == T
