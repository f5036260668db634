"""The C hit collector (``proctor.masking._hsnative``) against the ``hyperscan`` package: the
same (end, detector) pairs for every buffer, so `Prefilter.hits` may use either.

``make test`` builds it (libhs from Debian's libhyperscan-dev) and sets
PROCTOR_REQUIRE_ACCEL=1: then a missing build fails here instead of skipping.
"""

from __future__ import annotations

import os
import random
import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.masking import HAVE_HYPERSCAN, ColumnInfo, ColumnPlan, Masker, Profile, TypeCategory
from proctor.masking.native_hits import NATIVE, database_for
from proctor.masking.scanner import Prefilter, Scanner

pytestmark = pytest.mark.skipif(not HAVE_HYPERSCAN, reason="compares with the hyperscan package")


@pytest.fixture(scope="module", autouse=True)
def _native_built() -> None:
    if NATIVE is None:
        if os.environ.get("PROCTOR_REQUIRE_ACCEL") == "1" and not os.environ.get(
            "PROCTOR_PURE_PYTHON"
        ):
            pytest.fail("the C hit collector is not built (scripts/build-accel.py)")
        pytest.skip("the C hit collector is not built")


MASKER = Masker(Profile(), backend="hyperscan")
SCANNER: Scanner = MASKER.scanner
# Every detector with a trigger: the buffer's hits stand for a scan only when all active
# detectors have one (else `Prefilter.hits` says None).
EVERY = [i in SCANNER.gated for i in range(len(SCANNER.detectors))]

FRAGMENTS = [
    "4111 1111 1111 1111", "5100 0000 0047 5143", "378282246310005", "jane@example.com",
    "123-45-6789", "(806) 231-2102", "+44 20 7946 0958", "0044 20 7946 0958", "10.0.0.1",
    "::1", "DE89 3704 0044 0532 0130 00", "password=hunter2", "ghp_" + "x1" * 18,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "Authorization: Bearer abcdefghijklmnopq",
    "SECRET", "order 123456 shipped", "x" * 40, "\u00e9t\u00e9", "\x00\xff", "0", " ",
]  # fmt: skip


def binding_hits(prefilter: Prefilter, buf: bytes) -> list[tuple[int, int]]:
    prefilter._dense = False  # as after a sparse buffer: the hyperscan package scans
    hits = prefilter.hits(buf)
    assert hits is not None
    return hits


def native_hits(prefilter: Prefilter, buf: bytes) -> list[tuple[int, int]]:
    prefilter._dense = True  # as after a dense buffer: the C collector scans
    hits = prefilter.hits(buf)
    assert hits is not None
    return hits


def _rows(texts: list[str]) -> bytes:
    """DataRow-like framing: binary lengths between the texts, as the buffer scan sees."""
    out = bytearray()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        out += b"D" + struct.pack("!ih", 10 + len(data), 1) + struct.pack("!i", len(data)) + data
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=6).map(" ".join), max_size=20))
def test_native_hits_equal_the_packages(texts: list[str]) -> None:
    buf = _rows(texts)
    prefilter = Prefilter(SCANNER, EVERY)
    assert native_hits(prefilter, buf) == binding_hits(prefilter, buf)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_the_same_hits(data: bytes) -> None:
    prefilter = Prefilter(SCANNER, EVERY)
    assert native_hits(prefilter, data) == binding_hits(prefilter, data)


def _digit_soup(rng: random.Random) -> bytes:
    """Digit groups of every length the card and IBAN triggers count, separators and
    capitals around them: where the C emulation of those triggers could differ from libhs."""
    out = []
    for _ in range(rng.randint(1, 40)):
        r = rng.random()
        if r < 0.5:
            out.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20))))
        elif r < 0.8:
            out.append("".join(rng.choice("ABDEGZ") for _ in range(rng.randint(1, 3))))
        else:
            out.append(rng.choice(["", "a", "x"]))
        out.append(rng.choice([" ", "-", "", "", " ", "  ", ".", "/", "\x00"]))
    return "".join(out).encode()


def test_the_emulated_triggers_give_libhs_hits_on_digit_soup() -> None:
    """The card and IBAN triggers are matched in C (`_hsnative.c`), not by libhs: every end
    offset must still be the one the engine reports, at buffer edges too."""
    prefilter = Prefilter(SCANNER, EVERY)
    names = [d.name for d in SCANNER.detectors]
    rng = random.Random(1127)
    seen = {"card": 0, "iban": 0}
    for _ in range(3000):
        buf = _digit_soup(rng)
        expected = binding_hits(prefilter, buf)
        assert native_hits(prefilter, buf) == expected, buf
        for _, i in expected:
            if names[i] in seen:
                seen[names[i]] += 1
    assert seen["card"] > 1000 and seen["iban"] > 300  # both triggers were exercised


def test_the_triggers_handed_to_c_are_the_ones_it_emulates() -> None:
    from proctor.masking.detectors import BY_NAME

    assert NATIVE is not None
    assert BY_NAME["card"].trigger == NATIVE.CARD_TRIGGER
    assert BY_NAME["iban"].trigger == NATIVE.IBAN_TRIGGER
    # A caseless IBAN trigger (not what is emulated) stays with libhs: "de89..." hits.
    db = database_for(((0, NATIVE.IBAN_TRIGGER, True),))
    assert db is not None and db.hits(b"de89 3704 0044") == [(14, 0)]


def test_inactive_detectors_are_left_out_alike() -> None:
    rng = random.Random(4)
    buf = _rows([" ".join(rng.choices(FRAGMENTS, k=5)) for _ in range(200)])
    names = [d.name for d in SCANNER.detectors]
    gated = [names[i] for i in sorted(SCANNER.gated)]
    for keep in (["card"], ["phone", "email"], ["kv_secret", "ssn", "ipv4"], gated):
        active = [n in keep for n in names]
        prefilter = Prefilter(SCANNER, active)
        expected = binding_hits(prefilter, buf)
        assert expected, keep
        assert native_hits(prefilter, buf) == expected
        assert all(names[i] in keep for _, i in expected)


def test_the_buffer_density_picks_the_collector() -> None:
    """Card-dense buffers go to the C collector (a Python call per hit costs more than the
    scan there); buffers with few hits stay with the package (its engine is faster on
    them). Either way the hits are the same."""
    prefilter = Prefilter(SCANNER, EVERY)
    dense = _rows([f"paid with card 4111 1111 1111 {n:04d}" for n in range(300)])
    sparse = _rows(["x" * 100 for _ in range(300)])
    expected_dense = binding_hits(prefilter, dense)
    prefilter._dense = False
    assert prefilter.hits(dense) == expected_dense
    assert prefilter._dense  # decided after that buffer: the next one goes to C
    assert prefilter.hits(dense) == expected_dense
    assert prefilter.hits(sparse) == []
    assert not prefilter._dense


def test_threads_scanning_at_once_get_their_own_hits() -> None:
    """The collector releases the GIL while it scans; its scratch space is taken by one scan
    at a time."""
    prefilter = Prefilter(SCANNER, EVERY)
    bufs = [_rows([f"card 4111 1111 1111 {n:04d} mail a{n}@b.example"] * 50) for n in range(8)]
    expected = [binding_hits(prefilter, b) for b in bufs]
    assert NATIVE is not None
    db = SCANNER._native
    assert db is not None
    errors: list[BaseException] = []

    def scan(k: int) -> None:
        try:
            for _ in range(50):
                assert db.hits(bufs[k]) == expected[k]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_bad_arguments_are_clear_errors() -> None:
    assert NATIVE is not None
    with pytest.raises(ValueError, match="expression 0"):
        NATIVE.Database([b"(unclosed"], [0], [0])
    with pytest.raises(ValueError, match="same length"):
        NATIVE.Database([b"a", b"b"], [0], [0, 0])
    with pytest.raises(ValueError, match="not zero unless emulated"):
        NATIVE.Database([], [], [])
    with pytest.raises(OverflowError, match="32 bits"):
        NATIVE.Database([b"a"], [0], [0], 2**32)
    with pytest.raises(TypeError):
        NATIVE.Database(["text, not bytes"], [0], [0])
    with pytest.raises(OverflowError, match="32 bits"):
        NATIVE.Database([b"a"], [2**32], [0])  # not silently detector 0
    with pytest.raises(OverflowError):
        NATIVE.Database([b"a"], [-1], [0])
    db = NATIVE.Database([b"ab", b"b"], [7, 3], [NATIVE.CASELESS, 0])
    assert db.hits(b"xAB ab") == [(3, 7), (6, 3), (6, 7)]  # "b" is not caseless
    assert db.hits(memoryview(b"..ab")[2:]) == [(2, 3), (2, 7)]
    assert db.hits(bytearray(b"b")) == [(1, 3)]
    assert db.hits(b"ab", active=bytes([0, 0, 0, 1])) == [(2, 3)]  # 7 is past the mask: out
    assert db.hits(b"") == []
    with pytest.raises(TypeError):
        db.hits("text")
    emulated = NATIVE.Database([], [], [], card=5, iban=6)  # no libhs database at all
    assert emulated.hits(b"4111 1111 1111 1111 DE89 3704 0044") == [(14, 5), (19, 5), (34, 6)]
    assert emulated.hits(b"4111 1111 1111 1111", active=bytes(6)) == []
    unset = NATIVE.Database.__new__(NATIVE.Database)
    with pytest.raises(RuntimeError, match="not initialized"):
        unset.hits(b"ab")


def test_a_column_plans_prefilter_gets_the_same_hits_either_way() -> None:
    """Through a column plan's own prefilter (its active detectors, a skipped column)."""
    plan = ColumnPlan(MASKER, [ColumnInfo("g", TypeCategory.NUMERIC), ColumnInfo("memo")])
    texts = [
        f"paid with card 4111 1111 1111 {n:04d}" if n % 3 == 0 else f"order {n}" for n in range(90)
    ]
    buf = _rows(texts)
    pre = plan._prefilter
    assert native_hits(pre, buf) == binding_hits(pre, buf)
