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


def test_published_batch_vector() -> None:
    """Format 2 (§10): a batch record of a statement and a raw result, unencrypted."""
    from proctor.recording.batch import batch_payload, raw_result_entry, statement_entry

    at = to_micros(AT)
    statement = statement_entry(at, "SELECT 1", "simple", "allow", None, None)
    result = raw_result_entry(at + 1000, b"C\x00\x00\x00\x0dSELECT 1\x00", "pgwire-backend")
    assert statement.hex() == (
        "83021b00062f46a99b3000a5646b696e646673696d706c656472756c65f66473746d74f6647465"
        "78746853454c4543542031677665726469637465616c6c6f77"
    )
    assert result.hex() == (
        "83051b00062f46a99b33e8a7637261774e430000000d53454c45435420310064726f7773806473"
        "746d74f6666d61736b6564a067636f6c756d6e738069726f775f636f756e74006a7261775f666f"
        "726d61746e7067776972652d6261636b656e64"
    )
    payload = batch_payload([statement, result])
    assert payload == b"\x82" + statement + result
    raw, digest = encode_record(9, 1, at, genesis("s1"), session_tag("s1"), payload)
    assert raw.hex() == (
        "8609011b00062f46a99b3000582054981629311b192505ca31aa48ad176847a4f81261acbecb75d4"
        "98c4268f5e304854981629311b192558a2" + payload.hex()
    )
    assert digest.hex() == "1ddd172aab5cfa1208aaf6c5aa982980b21da21a0abf47e341fd71f5dabd07c6"
