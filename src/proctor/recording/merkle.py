"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion proofs and consistency proofs.

Hand-written because no maintained Python library fits (the ledger needs the exact RFC
hashing so that anyone's CT tooling can check our proofs). Leaves are hashed with a 0x00
prefix and interior nodes with 0x01, so a leaf can never be passed off as a node (the
second-preimage attack on plain Merkle trees). Trees are split at the largest power of two
smaller than the size, not at the midpoint: a midpoint split builds a tree too, silently
incompatible with every other implementation.

Proof generation works over the list of leaf hashes; verification needs only the proof,
the sizes and the roots (RFC 9162 §2.1.3.2 and §2.1.4.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes], lo: int = 0, hi: int | None = None) -> bytes:
    """MTH over leaf hashes ``leaves[lo:hi]``."""
    hi = len(leaves) if hi is None else hi
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return node_hash(root_of(leaves, lo, lo + k), root_of(leaves, lo + k, hi))


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[size]) of RFC 6962 §2.1.1."""
    size = len(leaves) if size is None else size
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"no leaf {index} in a tree of size {size}")
    return _path(leaves, index, 0, size)


def _path(leaves: Sequence[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(leaves, m, lo, lo + k), root_of(leaves, lo + k, hi)]
    return [*_path(leaves, m - k, lo + k, hi), root_of(leaves, lo, lo + k)]


def consistency_proof(leaves: Sequence[bytes], old: int, new: int | None = None) -> list[bytes]:
    """PROOF(old, D[new]) of RFC 6962 §2.1.2 (empty when old is 0 or equals new)."""
    new = len(leaves) if new is None else new
    if not 0 <= old <= new <= len(leaves):
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    return _subproof(leaves, old, 0, new, True)


def _subproof(leaves: Sequence[bytes], m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [root_of(leaves, lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves, m, lo, lo + k, whole), root_of(leaves, lo + k, hi)]
    return [*_subproof(leaves, m - k, lo + k, hi, False), root_of(leaves, lo, lo + k)]


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2); ValueError if malformed."""
    if not 0 <= index < size:
        raise ValueError("index out of range")
    if len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        raise ValueError("hash of the wrong size")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    try:
        return root_from_inclusion(index, size, leaf, proof) == root
    except ValueError:
        return False


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does the tree of size ``new`` extend the one of size ``old``?"""
    if not 0 <= old <= new:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    if old == new:
        return old_root == new_root and not proof
    if old == 0:
        # Every tree extends the empty one; RFC 9162 calls for an empty proof.
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class CompactRange:
    """The roots of the perfect subtrees covering leaves 0..size: O(log n) memory, and the
    tree's root without keeping (or rehashing) every leaf — what an appending ledger needs."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    @property
    def frontier(self) -> list[bytes]:
        """The subtree roots, largest (leftmost) first: with the size, all the range is."""
        return list(self._stack)

    @classmethod
    def resume(cls, size: int, frontier: Sequence[bytes]) -> CompactRange:
        """The range of ``size`` leaves from its frontier (one root per set bit of
        ``size``). Whether it is the right one is for the caller to check, against a
        signed root."""
        if size < 0 or len(frontier) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} roots")
        if any(len(h) != HASH_SIZE for h in frontier):
            raise ValueError("frontier roots must be SHA-256 hashes")
        compact = cls()
        compact._stack = list(frontier)
        compact._size = size
        return compact

    def append(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        self._size += 1
        # Merge as many times as the new size has trailing zero bits: equal-sized neighbours.
        n = self._size
        while not n & 1:
            right = self._stack.pop()
            self._stack[-1] = node_hash(self._stack[-1], right)
            n >>= 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        r = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            r = node_hash(left, r)
        return r
