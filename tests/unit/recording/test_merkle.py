"""RFC 6962 hashing and proofs, against the published Certificate Transparency vectors
(the eight reference leaves used by certificate-transparency-go, trillian and
transparency-dev/merkle), then exhaustively on small trees."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proctor.recording.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex
LEAVES = [
    leaf_hash(h(x))
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof)
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def test_hash_prefixes() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


@pytest.mark.parametrize("size", range(9))
def test_roots_match_rfc6962_vectors(size: int) -> None:
    assert root_of(LEAVES[:size]).hex() == ROOTS[size]
    compact = CompactRange()
    for leaf in LEAVES[:size]:
        compact.append(leaf)
    assert compact.root().hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[str]) -> None:
    assert [p.hex() for p in inclusion_proof(LEAVES, index, size)] == proof
    root = h(ROOTS[size])
    assert verify_inclusion(index, size, LEAVES[index], [h(p) for p in proof], root)
    # Wrong index, wrong size, wrong leaf, extra or missing component: all rejected.
    assert not verify_inclusion(index + 1, size, LEAVES[index], [h(p) for p in proof], root)
    assert not verify_inclusion(index, size * 2, LEAVES[index], [h(p) for p in proof], root)
    assert not verify_inclusion(index, size, LEAVES[7], [h(p) for p in proof], root)
    assert not verify_inclusion(index, size, LEAVES[index], [h(p) for p in proof] + [root], root)
    assert not verify_inclusion(index, size, LEAVES[index], [h(p) for p in proof][:-1], root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vectors(old: int, new: int, proof: list[str]) -> None:
    assert [p.hex() for p in consistency_proof(LEAVES, old, new)] == proof
    old_root, new_root = h(ROOTS[old]), h(ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, [h(p) for p in proof])
    if proof:
        assert not verify_consistency(old, new, new_root, old_root, [h(p) for p in proof])
        assert not verify_consistency(old, new, old_root, new_root, [h(p) for p in proof][:-1])
        assert not verify_consistency(old, new, old_root, new_root, [])
        assert not verify_consistency(
            old, new, old_root, new_root, [*(h(p) for p in proof), old_root]
        )


def test_degenerate_consistency() -> None:
    assert verify_consistency(0, 8, EMPTY_ROOT, h(ROOTS[8]), [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, h(ROOTS[8]), [EMPTY_ROOT])
    assert not verify_consistency(4, 4, h(ROOTS[4]), h(ROOTS[5]), [])
    assert not verify_consistency(5, 4, h(ROOTS[5]), h(ROOTS[4]), [])


MANY = [leaf_hash(i.to_bytes(2, "big")) for i in range(70)]


def test_every_proof_verifies_up_to_70_leaves() -> None:
    roots = [root_of(MANY, 0, n) for n in range(len(MANY) + 1)]
    for n in range(1, len(MANY) + 1):
        for i in range(n):
            assert verify_inclusion(i, n, MANY[i], inclusion_proof(MANY, i, n), roots[n])
        for m in range(n + 1):
            assert verify_consistency(m, n, roots[m], roots[n], consistency_proof(MANY, m, n))


@given(
    st.integers(2, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
    st.data(),
)
def test_any_flipped_bit_in_a_proof_is_rejected(n_i: tuple[int, int], data: st.DataObject) -> None:
    n, i = n_i
    proof = inclusion_proof(MANY, i, n)
    k = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    bad = [bytearray(p) for p in proof]
    bad[k][bit // 8] ^= 1 << (bit % 8)
    assert not verify_inclusion(i, n, MANY[i], [bytes(p) for p in bad], root_of(MANY, 0, n))
    m = data.draw(st.integers(1, n - 1))
    cproof = consistency_proof(MANY, m, n)
    k = data.draw(st.integers(0, len(cproof) - 1))
    cbad = [bytearray(p) for p in cproof]
    cbad[k][bit // 8] ^= 1 << (bit % 8)
    assert not verify_consistency(
        m, n, root_of(MANY, 0, m), root_of(MANY, 0, n), [bytes(p) for p in cbad]
    )


def test_proof_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES, 8, 8)
    with pytest.raises(ValueError):
        consistency_proof(LEAVES, 5, 3)
    assert not verify_inclusion(0, 1, LEAVES[0], [], b"short")
    assert not verify_inclusion(0, 0, LEAVES[0], [], EMPTY_ROOT)
