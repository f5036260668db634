"""Keys: Ed25519 signing keys with rotation, and envelope encryption of session data.

Two separate concerns, on purpose:
- Integrity uses Ed25519. Verifying needs only public keys, so an auditor can check a
  recording without any secret. A key id is the SHA-256 of the raw 32-byte public key:
  a record names its key, a verifier looks it up, and nobody can mint a second key with
  the same id.
- Confidentiality uses a per-session data key (AES-256-GCM) wrapped by a key-encryption
  key (KEK) kept outside recordings and the database. Reading content needs the KEK;
  verifying does not, because hashes and signatures cover ciphertext.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEK_ID_DOMAIN = b"proctor-recording-v1 kek-id\x00"
_WRAP_DOMAIN = b"proctor-recording-v1 wrap\x00"


class RecordingKeyError(Exception):
    """A key is missing, malformed or does not open what it should."""


def key_id(public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(public_bytes(public)).digest()


def public_bytes(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SigningKey:
    """An Ed25519 private key and its id."""

    __slots__ = ("id", "private", "public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private
        self.public = private.public_key()
        self.id = key_id(self.public)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise RecordingKeyError("recording signing keys must be Ed25519")
        return cls(key)

    def to_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


class PublicKeys(Mapping[bytes, Ed25519PublicKey]):
    """The verification side of a keyring: key id → public key, current and retired."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys = {key_id(k): k for k in keys}

    @classmethod
    def from_pems(cls, pems: Iterable[bytes]) -> PublicKeys:
        keys = []
        for pem in pems:
            key = serialization.load_pem_public_key(pem)
            if not isinstance(key, Ed25519PublicKey):
                raise RecordingKeyError("recording verification keys must be Ed25519")
            keys.append(key)
        return cls(keys)

    @classmethod
    def from_raw(cls, raws: Iterable[bytes]) -> PublicKeys:
        return cls(Ed25519PublicKey.from_public_bytes(r) for r in raws)

    def __getitem__(self, kid: bytes) -> Ed25519PublicKey:
        return self._keys[kid]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def verify(self, kid: bytes, signature: bytes, data: bytes) -> bool:
        """True if ``kid`` is known and signed ``data``; callers check ``kid in self``
        first when they must tell an unknown key from a bad signature."""
        key = self._keys.get(kid)
        if key is None:
            return False
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class Keyring:
    """The current signing key plus the public halves of retired ones.

    Rotation keeps old public keys forever (or as long as recordings they signed are
    kept): a recording signed before a rotation must still verify after it.
    """

    def __init__(self, current: SigningKey, retired: Iterable[Ed25519PublicKey] = ()) -> None:
        self.current = current
        self._retired = list(retired)

    def rotate(self, new: SigningKey) -> None:
        self._retired.append(self.current.public)
        self.current = new

    def public_keys(self) -> PublicKeys:
        return PublicKeys([self.current.public, *self._retired])


class KeyEncryptionKey(Protocol):
    """Wraps per-session data keys. A KMS can implement this: ``wrap`` and ``unwrap`` are
    its Encrypt/Decrypt with ``context`` as the encryption context / AAD."""

    @property
    def id(self) -> str:
        """Stable, non-secret name of this KEK, recorded beside each wrapped key."""
        ...

    def wrap(self, data_key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The data key; ``RecordingKeyError`` if this KEK did not wrap it for ``context``."""
        ...


class FileKeyEncryptionKey:
    """A 32-byte AES-256 key in a file of its own (mode 0600), outside the recordings
    directory and the database: stealing recordings alone reveals no content."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise RecordingKeyError("a key-encryption key is 32 bytes")
        self._aead = AESGCM(key)
        # The id is a hash of the key under a domain string: it names the key without
        # revealing anything usable about it.
        self._id = "file:" + hashlib.sha256(_KEK_ID_DOMAIN + key).hexdigest()[:32]

    @classmethod
    def generate(cls, path: Path) -> FileKeyEncryptionKey:
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.hex().encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> FileKeyEncryptionKey:
        text = path.read_bytes().strip()
        try:
            key = bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise RecordingKeyError(f"{path}: not a hex-encoded 32-byte key") from None
        return cls(key)

    @property
    def id(self) -> str:
        return self._id

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, data_key, _WRAP_DOMAIN + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], _WRAP_DOMAIN + context)
        except (InvalidTag, ValueError):
            raise RecordingKeyError("the key-encryption key does not open this data key") from None


class DataKey:
    """A session's AES-256-GCM key. Nonces are the record's sequence number: each data
    key encrypts one session's records, each seq once, so a nonce never repeats under a
    key — and the writer never reuses a data key (a new one per session, never persisted
    unwrapped)."""

    __slots__ = ("_aead", "key")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._aead = AESGCM(key)

    @classmethod
    def generate(cls) -> DataKey:
        return cls(secrets.token_bytes(32))

    def encrypt(self, seq: int, plaintext: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(seq.to_bytes(12, "big"), plaintext, aad)

    def decrypt(self, seq: int, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(seq.to_bytes(12, "big"), ciphertext, aad)
        except InvalidTag:
            msg = f"record {seq}: ciphertext does not open with the data key"
            raise RecordingKeyError(msg) from None
