"""The test vectors published in docs/recording-format.md §10: if these change, the format
changed, and every third-party verifier with it."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from proctor.recording.format import (
    dumps,
    encode_record,
    genesis,
    session_tag,
    signature_input,
    to_micros,
)
from proctor.recording.keys import SigningKey

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
h = bytes.fromhex


def test_published_vectors() -> None:
    assert genesis("s1").hex() == "54981629311b192505ca31aa48ad176847a4f81261acbecb75d498c4268f5e30"
    assert session_tag("s1").hex() == "54981629311b1925"
    assert to_micros(AT) == 1740830400000000
    payload = dumps(
        {"text": "SELECT 1", "kind": "simple", "verdict": "allow", "rule": None, "stmt": None}
    )
    assert payload.hex() == (
        "a5646b696e646673696d706c656472756c65f66473746d74f664746578746853454c4543"
        "542031677665726469637465616c6c6f77"
    )
    raw, digest = encode_record(2, 1, to_micros(AT), genesis("s1"), session_tag("s1"), payload)
    assert raw.hex() == (
        "8602011b00062f46a99b3000582054981629311b192505ca31aa48ad176847a4f81261acbecb75d4"
        "98c4268f5e304854981629311b19255835a5646b696e646673696d706c656472756c65f6647374"
        "6d74f664746578746853454c4543542031677665726469637465616c6c6f77"
    )
    assert digest.hex() == "a2842f4b2d8ab92f861a99d83a114a6c087493f73adc024f32b2f34f6a44f838"

    key = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    assert key.id.hex() == "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c"
    body = {"sid": "s1", "segment": 0, "kid": key.id}
    signed = signature_input([64, 2, to_micros(AT), digest, session_tag("s1"), body])
    sig = key.sign(signed)  # Ed25519 is deterministic
    assert sig.hex() == (
        "497290e971203845aff1f741052a65b99435ce3b9cd46cf44dfe486418d14991"
        "f68cf10b68b210c4f8db11386325b5b9f310f2cba28c6f6f5ae6bd541bf5d20a"
    )
    _, ckpt = encode_record(64, 2, to_micros(AT), digest, session_tag("s1"), {**body, "sig": sig})
    assert ckpt.hex() == "42bc5b6ab2d59ee50f5a3fda598e3736f66a0e6ea6537faaa2d061e8e428bff3"
