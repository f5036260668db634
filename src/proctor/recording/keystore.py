"""The recording keys on disk: signing keys (rotated, old public keys kept) and the KEK.

    <keys_dir>/
      current              key id (hex) of the signing key in use
      signing/<kid>.pem    private signing keys (0600); only the current one signs
      public/<kid>.pem     every public key ever used: all a verifier needs (share these)
      kek.key              the key-encryption key (0600): reading content needs it

The directory lives outside the recordings and the database (the KEK must never sit next
to what it protects). Keys are made on first start, before workers fork, so workers never
race to create them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from proctor.recording.keys import (
    FileKeyEncryptionKey,
    KeyEncryptionKey,
    PublicKeys,
    SigningKey,
)

KEK_FILE = "kek.key"


class KeyStoreError(Exception):
    """The key directory is missing something it needs (the message is safe to show)."""


@dataclass(frozen=True)
class RecordingKeys:
    signer: SigningKey
    public: PublicKeys
    kek: KeyEncryptionKey | None


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _install(keys_dir: Path, key: SigningKey) -> str:
    kid = key.id.hex()
    _write_private(keys_dir / "signing" / f"{kid}.pem", key.to_pem())
    public = keys_dir / "public" / f"{kid}.pem"
    public.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    public.write_bytes(key.public_pem())
    tmp = keys_dir / "current.tmp"
    tmp.write_text(kid + "\n")
    tmp.replace(keys_dir / "current")
    return kid


def ensure_keys(keys_dir: Path, *, encrypt: bool) -> None:
    """Create a signing key (and the KEK when ``encrypt``) unless they exist."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (keys_dir / "current").exists():
        _install(keys_dir, SigningKey.generate())
    if encrypt and not (keys_dir / KEK_FILE).exists():
        FileKeyEncryptionKey.generate(keys_dir / KEK_FILE)


def rotate(keys_dir: Path) -> str:
    """A new current signing key; the old ones stay (public keys verify old recordings)."""
    if not (keys_dir / "current").exists():
        raise KeyStoreError(f"no recording keys in {keys_dir}")
    return _install(keys_dir, SigningKey.generate())


def public_keys(keys_dir: Path) -> PublicKeys:
    """Every public key in ``<keys_dir>/public`` (or ``keys_dir`` itself holding PEMs)."""
    folder = keys_dir / "public" if (keys_dir / "public").is_dir() else keys_dir
    pems = [p.read_bytes() for p in sorted(folder.glob("*.pem"))]
    if not pems:
        raise KeyStoreError(f"no public keys (*.pem) in {folder}")
    return PublicKeys.from_pems(pems)


def load_keys(keys_dir: Path, *, encrypt: bool) -> RecordingKeys:
    try:
        kid = (keys_dir / "current").read_text().strip()
        signer = SigningKey.from_pem((keys_dir / "signing" / f"{kid}.pem").read_bytes())
    except OSError as exc:
        raise KeyStoreError(f"cannot read the current signing key in {keys_dir}: {exc}") from None
    kek: KeyEncryptionKey | None = None
    if encrypt:
        try:
            kek = FileKeyEncryptionKey.load(keys_dir / KEK_FILE)
        except OSError as exc:
            raise KeyStoreError(f"cannot read {keys_dir / KEK_FILE}: {exc}") from None
    return RecordingKeys(signer, public_keys(keys_dir), kek)


def keks(keys_dir: Path) -> list[KeyEncryptionKey]:
    """The key-encryption keys available for reading content (empty if none)."""
    path = keys_dir / KEK_FILE
    return [FileKeyEncryptionKey.load(path)] if path.exists() else []
