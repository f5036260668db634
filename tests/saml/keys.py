"""Throwaway RSA keys and self-signed certificates for the SAML tests (made at test time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class KeyPair:
    key_pem: str = field(repr=False)
    cert_pem: str

    @property
    def cert_body(self) -> str:
        """The certificate's base64 without PEM armour (what SAML metadata holds)."""
        lines = self.cert_pem.strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))


def self_signed(common_name: str, days: int = 30) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return KeyPair(key_pem, cert.public_bytes(serialization.Encoding.PEM).decode())
