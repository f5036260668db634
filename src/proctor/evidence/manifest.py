"""``manifest.json``: every file of the pack with its SHA-256, signed by the gateway.

The signature is Ed25519 (the recordings' signing key) over a canonical encoding of the
manifest without its ``signature`` field: the domain line ``proctor-evidence-manifest/1``
and a newline, then the JSON with sorted keys, no insignificant whitespace, UTF-8. Anyone
with the gateway's public keys (``<keys_dir>/public/*.pem``) can check it; the pack also
carries the public key that signed it (``signing-key.pem``) so a reader can see which one
to compare, but verifying against that copy alone proves only internal consistency.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proctor.recording.keys import PublicKeys, SigningKey

FORMAT = "proctor-evidence-manifest/1"
MANIFEST = "manifest.json"
SIGNING_KEY_FILE = "signing-key.pem"
_DOMAIN = FORMAT.encode() + b"\n"
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def canonical(body: Mapping[str, Any]) -> bytes:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _DOMAIN + text.encode("utf-8")


def pack_files(directory: Path) -> list[Path]:
    """Every regular file of the pack except the manifest, in name order."""
    return sorted(
        (p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST),
        key=lambda p: p.relative_to(directory).as_posix(),
    )


def write_manifest(directory: Path, signer: SigningKey, about: Mapping[str, Any]) -> dict[str, Any]:
    """Hash every file in ``directory``, sign, write ``manifest.json``; returns it."""
    (directory / SIGNING_KEY_FILE).write_bytes(signer.public_pem())
    files = [
        {
            "name": p.relative_to(directory).as_posix(),
            "sha256": file_sha256(p),
            "bytes": p.stat().st_size,
        }
        for p in pack_files(directory)
    ]
    body: dict[str, Any] = {
        "format": FORMAT,
        **about,
        "files": files,
        "key_id": signer.id.hex(),
    }
    body["signature"] = base64.b64encode(signer.sign(canonical(body))).decode()
    (directory / MANIFEST).write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    return body


@dataclass
class ManifestCheck:
    signature_ok: bool = False
    key_id: str = ""
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signature_ok and not self.problems


def verify_manifest(directory: Path, keys: PublicKeys) -> ManifestCheck:
    """Check the signature with ``keys`` and every file's hash; also that no file was added
    to or removed from the pack."""
    check = ManifestCheck()
    path = directory / MANIFEST
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        check.problems.append(f"{MANIFEST}: cannot be read ({exc})")
        return check
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        check.problems.append(f"{MANIFEST}: not a {FORMAT} manifest")
        return check
    signature = body.pop("signature", None)
    check.key_id = str(body.get("key_id", ""))
    try:
        kid = bytes.fromhex(check.key_id)
        sig = base64.b64decode(str(signature), validate=True)
    except ValueError:
        check.problems.append(f"{MANIFEST}: malformed key id or signature")
        return check
    if kid not in keys:
        check.problems.append(f"{MANIFEST}: signed by key {check.key_id}, which is not trusted")
    elif keys.verify(kid, sig, canonical(body)):
        check.signature_ok = True
    else:
        check.problems.append(f"{MANIFEST}: the signature does not match its content")
    listed: dict[str, Any] = {}
    for entry in body.get("files") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            listed[entry["name"]] = entry
    present = {p.relative_to(directory).as_posix(): p for p in pack_files(directory)}
    for name, entry in sorted(listed.items()):
        file = present.get(name)
        if file is None:
            check.problems.append(f"{name}: listed in the manifest but missing")
            continue
        check.files_checked += 1
        if file_sha256(file) != entry.get("sha256"):
            check.problems.append(f"{name}: content differs from the manifest (SHA-256)")
    for name in sorted(set(present) - set(listed)):
        check.problems.append(f"{name}: not listed in the manifest (added later)")
    return check
