"""Ledger leaves and signed tree heads: what the gateway-wide Merkle tree commits to.

A leaf's data is the deterministic CBOR of one of three maps:
- ``checkpoint``: a session reached a signed checkpoint (its record hash, which through
  the chain commits to every earlier record of the session);
- ``seal``: a session was sealed (the seal record's hash: the whole session);
- ``tombstone``: a session was deleted under retention, signed by the gateway, so that a
  verifier can tell "deleted by policy on date X" from "missing".
Any session the ledger names must be in storage, or have a tombstone.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cbor2

from proctor.recording.format import FormatError, dumps, from_micros, to_micros
from proctor.recording.keys import PublicKeys, SigningKey

BATCH_MAGIC = b"PRCTLVS\x01"
_LEN = struct.Struct(">I")
_TOMBSTONE_DOMAIN = b"proctor-recording-v1 tombstone\x00"
_HEAD_DOMAIN = b"proctor-recording-v1 tree-head\x00"


@dataclass(frozen=True, slots=True)
class SessionLeaf:
    """A checkpoint (``sealed=False``) or seal (``sealed=True``) of a session."""

    session_id: str
    segment: int
    seq: int
    record_hash: bytes
    key_id: bytes
    sealed: bool

    def encode(self) -> bytes:
        return dumps(
            {
                "kind": "seal" if self.sealed else "checkpoint",
                "sid": self.session_id,
                "segment": self.segment,
                "seq": self.seq,
                "hash": self.record_hash,
                "kid": self.key_id,
            }
        )


@dataclass(frozen=True, slots=True)
class Tombstone:
    session_id: str
    reason: str
    at: datetime
    by: str
    key_id: bytes
    signature: bytes

    @staticmethod
    def _signed_part(session_id: str, reason: str, at: int, by: str, kid: bytes) -> dict[str, Any]:
        return {
            "kind": "tombstone",
            "sid": session_id,
            "reason": reason,
            "at": at,
            "by": by,
            "kid": kid,
        }

    @classmethod
    def create(
        cls, signer: SigningKey, session_id: str, reason: str, by: str, at: datetime
    ) -> Tombstone:
        body = cls._signed_part(session_id, reason, to_micros(at), by, signer.id)
        sig = signer.sign(_TOMBSTONE_DOMAIN + dumps(body))
        return cls(session_id, reason, from_micros(to_micros(at)), by, signer.id, sig)

    def encode(self) -> bytes:
        body = self._signed_part(
            self.session_id, self.reason, to_micros(self.at), self.by, self.key_id
        )
        return dumps({**body, "sig": self.signature})

    def signature_valid(self, keys: PublicKeys) -> bool:
        body = self._signed_part(
            self.session_id, self.reason, to_micros(self.at), self.by, self.key_id
        )
        return keys.verify(self.key_id, self.signature, _TOMBSTONE_DOMAIN + dumps(body))


Leaf = SessionLeaf | Tombstone


def _field(m: dict[str, Any], key: str, kind: type) -> Any:
    v = m.get(key)
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise FormatError(f"ledger leaf field {key!r} missing or of the wrong type")
    return v


def decode_leaf(data: bytes) -> Leaf:
    try:
        m = cbor2.loads(data)
    except Exception as exc:  # any decoding failure means the same: not a leaf
        raise FormatError(f"ledger leaf is not CBOR: {exc}") from None
    if not isinstance(m, dict):
        raise FormatError("ledger leaf is not a map")
    kind = m.get("kind")
    if kind in ("checkpoint", "seal"):
        return SessionLeaf(
            _field(m, "sid", str),
            _field(m, "segment", int),
            _field(m, "seq", int),
            _field(m, "hash", bytes),
            _field(m, "kid", bytes),
            kind == "seal",
        )
    if kind == "tombstone":
        return Tombstone(
            _field(m, "sid", str),
            _field(m, "reason", str),
            from_micros(_field(m, "at", int)),
            _field(m, "by", str),
            _field(m, "kid", bytes),
            _field(m, "sig", bytes),
        )
    raise FormatError(f"unknown ledger leaf kind {kind!r}")


def encode_batch(leaves: list[bytes]) -> bytes:
    return BATCH_MAGIC + b"".join(_LEN.pack(len(d)) + d for d in leaves)


def iter_batch(blob: bytes) -> Iterator[bytes]:
    if blob[: len(BATCH_MAGIC)] != BATCH_MAGIC:
        raise FormatError("not a ledger leaf batch (bad magic)")
    pos, end = len(BATCH_MAGIC), len(blob)
    while pos < end:
        if end - pos < 4:
            raise FormatError(f"leaf batch truncated at byte {pos}")
        (n,) = _LEN.unpack_from(blob, pos)
        if end - pos - 4 < n:
            raise FormatError(f"leaf batch truncated at byte {pos}")
        yield blob[pos + 4 : pos + 4 + n]
        pos += 4 + n


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A signed tree head: the ledger's size and root at a time, signed by the gateway.
    Keep the latest one you have seen somewhere else (auditor, ticket, database): it is
    what proves a later ledger was not rolled back."""

    size: int
    root: bytes
    at: datetime
    key_id: bytes
    signature: bytes

    @staticmethod
    def _signed(size: int, root: bytes, at: int, kid: bytes) -> bytes:
        return _HEAD_DOMAIN + dumps({"size": size, "root": root, "at": at, "kid": kid})

    @classmethod
    def create(cls, signer: SigningKey, size: int, root: bytes, at: datetime) -> TreeHead:
        us = to_micros(at)
        sig = signer.sign(cls._signed(size, root, us, signer.id))
        return cls(size, root, from_micros(us), signer.id, sig)

    def encode(self) -> bytes:
        return dumps(
            {
                "size": self.size,
                "root": self.root,
                "at": to_micros(self.at),
                "kid": self.key_id,
                "sig": self.signature,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> TreeHead:
        try:
            m = cbor2.loads(data)
        except Exception as exc:  # any decoding failure means the same: not a tree head
            raise FormatError(f"tree head is not CBOR: {exc}") from None
        if not isinstance(m, dict):
            raise FormatError("tree head is not a map")
        return cls(
            _field(m, "size", int),
            _field(m, "root", bytes),
            from_micros(_field(m, "at", int)),
            _field(m, "kid", bytes),
            _field(m, "sig", bytes),
        )

    def signature_valid(self, keys: PublicKeys) -> bool:
        data = self._signed(self.size, self.root, to_micros(self.at), self.key_id)
        return keys.verify(self.key_id, self.signature, data)
