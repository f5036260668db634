"""The card kernel (``proctor.masking._cardmask``) against the Python path it stands for.

``mask_cell`` must give what the card detector's pattern (``finditer``), its check and the
card strategy give for a cell; ``mask_run`` what `_hit_cells` does for a run of DataRows,
stopping at the rows only Python may mask. Generated cells walk every alternative of the
pattern and its edges (lookarounds, separators, lengths, Luhn, issuer ranges).

``make test`` builds it and sets PROCTOR_REQUIRE_ACCEL=1: then a missing build fails here
instead of skipping.
"""

from __future__ import annotations

import os
import random
import re
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.codecs.pgwire import encode
from proctor.masking import Masker, Profile
from proctor.masking.cardmask import NATIVE, ascii_transparent, kernel_for
from proctor.masking.detectors import BY_NAME
from proctor.masking.strategies import Kind, Strategy, _star_digits

CARD = BY_NAME["card"]
PHONE = BY_NAME["phone"]

CARDS = [
    "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005",
    "3782 822463 10005", "5555555555554444", "6011 1111 1111 1117", "4222222222222",
    "6304000000000000", "2221000000000009", "4000 0002 3757 0009", "3056 930902 5904",
    "6011-0009-9013-9424", "4111 1111 1111 1111 123", "36227206271667", "3530111333300000",
]  # fmt: skip
ALPHABET = "0123456789   --..a_x/"


@pytest.fixture(scope="module", autouse=True)
def _built() -> None:
    if NATIVE is None:
        if os.environ.get("PROCTOR_REQUIRE_ACCEL") == "1" and not os.environ.get(
            "PROCTOR_PURE_PYTHON"
        ):
            pytest.fail("the card kernel is not built (scripts/build-accel.py)")
        pytest.skip("the card kernel is not built")


def python_cards(text: str, keep: int, label: str | None) -> tuple[int, str]:
    """The Python path's answer for a cell hit only by the card trigger."""
    out, pos, n = [], 0, 0
    for m in CARD.pattern.finditer(text):
        assert CARD.check is not None
        span = CARD.check(m, m.span())
        if span is None:
            continue
        s, e = span
        out += [text[pos:s], label if label is not None else _star_digits(keep, text[s:e])]
        pos, n = e, n + 1
    return n, "".join([*out, text[pos:]])


def kernel_cards(text: str, keep: int, label: str | None) -> tuple[int, str]:
    data = b"\x00\x01" + text.encode() + b"\x02"
    done = NATIVE.mask_cell(
        data, 2, len(text), keep, None if label is None else label.encode(), {9: [1]}, 9, b""
    )
    assert done is not None
    n, new = done
    return n, (new.decode() if n else text)


def _mixed(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        if r < 0.4:
            parts.append(rng.choice(CARDS))
        elif r < 0.6:  # a card with one character changed
            c = rng.choice(CARDS)
            i = rng.randrange(len(c))
            parts.append(c[:i] + rng.choice(ALPHABET) + c[i + 1 :])
        else:
            parts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 25))))
    return "".join(rng.choice(["", " ", "-", ".", "a", "_", "/", ". "]) + p for p in parts)


def _grouped(rng: random.Random) -> str:
    """Digit groups of the lengths the alternatives count, with every separator."""
    text = ""
    for _ in range(rng.randint(1, 6)):
        size = rng.choice([1, 3, 4, 4, 4, 5, 6, 6, 11, 12, 13, 15, 16, 19, 20])
        text += "".join(rng.choice("0123456789") for _ in range(size))
        text += rng.choice([" ", "-", " ", "-", ".", "", "a", ". ", ".5", "_"])
    return text[: rng.randint(0, len(text))] if rng.random() < 0.3 else text


@pytest.mark.parametrize("make", [_mixed, _grouped])
def test_a_cell_is_masked_as_the_python_path_masks_it(make: object) -> None:
    rng = random.Random(20261127)
    masked = 0
    for _ in range(40_000):
        text = make(rng)  # type: ignore[operator]
        keep = rng.choice([0, 2, 4, 4, 10, -1])
        label = rng.choice([None, None, "[CARD]", ""])
        want = python_cards(text, keep, label)
        assert kernel_cards(text, keep, label) == want, (text, keep, label)
        masked += want[0] > 0
    assert masked > 100  # the generator does reach valid cards


def test_every_form_of_the_pattern() -> None:
    for text, n in [
        ("4111111111111111", 1), ("card 4111 1111 1111 1111.", 1), ("4111-1111-1111-1111", 1),
        ("4111 1111-1111 1111", 0),  # mixed separators
        ("x4111111111111111", 0), ("-4111111111111111", 0), ("4111111111111111-", 0),
        ("4111111111111111.5", 0), ("4111111111111111.", 1), ("4111111111111111_", 0),
        ("3782 822463 10005", 1), ("3782-822463-10005", 1), ("41111111111111111111", 0),
        ("4111 1111 1111 1111 1111", 1),  # the first four groups; the fifth is left
        ("4111 1111 1111 1111 111", 0),  # 19 digits: the Luhn sum fails
        ("4111111111111111 and 5555555555554444", 2), ("", 0), ("4111", 0),
    ]:  # fmt: skip
        assert kernel_cards(text, 4, None)[0] == n == python_cards(text, 4, None)[0], text


def test_non_ascii_cells_and_crowded_ones_are_left_to_python() -> None:
    text = "é 4111111111111111".encode()
    assert NATIVE.mask_cell(text, 0, len(text), 4, None, {9: [1]}, 9, b"") is None
    crowded = " ".join(["4111111111111111"] * 65).encode()
    assert NATIVE.mask_cell(crowded, 0, len(crowded), 4, None, {9: [1]}, 9, b"") is None
    with pytest.raises(ValueError, match="outside"):
        NATIVE.mask_cell(b"abc", 2, 5, 4, None, {}, 9, b"")


def test_other_hits_count_unless_they_end_inside_a_masked_card() -> None:
    text = b"call 4111 1111 1111 1111"
    coverable = bytes(i == 18 for i in range(20))
    # a phone hit inside the card: skipped as the Python path skips it
    assert NATIVE.mask_cell(text, 0, len(text), 4, None, {9: [19], 18: [14]}, 9, coverable) == (
        1,
        b"call **** **** **** 1111",
    )
    for hits in ({9: [19], 18: [4]}, {9: [19], 17: [14]}, {18: [14]}):
        # outside the card; a detector that is not coverable; no card hit at all
        assert NATIVE.mask_cell(text, 0, len(text), 4, None, hits, 9, coverable) is None


def test_the_kernel_stands_only_for_the_built_in_detector_and_two_strategies() -> None:
    detectors = Profile().detectors()
    assert kernel_for(detectors, Strategy(Kind.PARTIAL, 4), "[CARD]") is not None
    redact = kernel_for(detectors, Strategy(Kind.REDACT), "[CARD]")
    assert redact is not None and redact.label == b"[CARD]"
    for strategy in (Strategy(Kind.HASH), Strategy(Kind.FPE), Strategy(Kind.NULL)):
        assert kernel_for(detectors, strategy, "[CARD]") is None
    assert kernel_for(detectors, Strategy(Kind.REDACT), "[CARTE BANCAIRE é]") is None
    custom = Profile.from_dict(
        {
            "name": "c",
            "disable": ["card"],
            "custom": [{"name": "pan", "entity": "card", "pattern": r"\d{16}"}],
        }
    )
    assert Masker(custom).card_kernel is None
    coverable = kernel_for(detectors, Strategy(Kind.PARTIAL, 4), "[CARD]")
    assert coverable is not None
    assert coverable.coverable[detectors.index(PHONE)] == 1
    assert coverable.coverable[detectors.index(BY_NAME["jwt"])] == 0  # ranks above cards


def test_a_profile_label_redacts_in_the_kernel_too() -> None:
    kernel = Masker(Profile.from_dict({"name": "l", "labels": {"card": "[PAN]"}})).card_kernel
    assert kernel is not None and kernel.label == b"[PAN]"


def test_encodings_whose_multibyte_characters_may_end_in_an_ascii_byte_are_excluded() -> None:
    assert ascii_transparent("utf-8") and ascii_transparent("latin-1")
    assert not ascii_transparent("shift-jis") and not ascii_transparent("big5")


# --- runs --------------------------------------------------------------------------------------


def _run(cells: list[list[bytes | None]]) -> tuple[bytes, list[int]]:
    data = b"".join(encode.data_row(list(row)) for row in cells)
    ends, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("!i", data, pos + 1)
        pos += 1 + length
        ends.append(pos)
    return data, ends


def _card_hits(data: bytes) -> list[tuple[int, int]]:
    return [(m.end(), 9) for m in re.finditer(rb"\d{4}[ -]?\d{4}[ -]?\d{4}", data)]


def _mask_run(
    data: bytes,
    ends: list[int],
    hits: list[tuple[int, int]],
    h: int = 0,
    r: int = 0,
    label: bytes | None = None,
) -> Any:
    """Columns 0 and 1 local and the kernel's, column 2 neither; card detector 9."""
    return NATIVE.mask_run(
        data, 0, ends, hits, h, r, b"\x01\x01\x00", b"\x01\x01\x00", 9, b"", 4, label
    )


def test_a_run_is_masked_until_a_row_needs_python() -> None:
    data, ends = _run([
        [b"4111 1111 1111 1111", b"x"],
        [b"x", b"5555555555554444"],
        [b"a", b"b", b"4111111111111111"],  # column 2 is not local: its hit is ignored
        [b"4111111111111111 jane@example.com", None],
        [b"5555555555554444", b"y"],
    ])  # fmt: skip
    hits = sorted([*_card_hits(data), (data.index(b"@") + 2, 12)])
    found, counts, h, h_end, r = _mask_run(data, ends, hits)
    assert counts == [1, 1, 0] and r == 3  # rows 0-1 masked; row 3 holds an email hit
    assert [data[s:e] for s, e, _ in found] == [b"4111 1111 1111 1111", b"5555555555554444"]
    assert [new for _, _, new in found] == [b"**** **** **** 1111", b"************4444"]
    assert {to for to, _ in hits[h:h_end]} <= set(range(ends[2], ends[3] + 1))
    found, counts, h, h_end, r = _mask_run(data, ends, hits, h_end, r + 1)
    assert (h, h_end, r, counts) == (len(hits), len(hits), 5, [1, 0, 0])


def test_a_redaction_fixes_the_lengths_of_its_cell_and_row() -> None:
    data, ends = _run([[b"card 4111111111111111", b"5555555555554444"]])
    found, counts, h, _, _ = _mask_run(data, ends, _card_hits(data), label=b"[CARD]")
    assert counts == [1, 1, 0] and h == 2
    parts, pos = [], 0
    for s, e, new in found:
        parts += [data[pos:s], new]
        pos = e
    assert b"".join([*parts, data[pos:]]) == encode.data_row([b"card [CARD]", b"[CARD]"])


def test_a_malformed_row_is_left_to_python() -> None:
    data, ends = _run([[b"4111111111111111", b"x"]])
    broken = data[:7] + struct.pack("!i", 400) + data[11:]  # a cell longer than its row
    found, counts, h, h_end, r = _mask_run(broken, ends, _card_hits(data))
    assert (found, counts, h, h_end, r) == ([], None, 0, 1, 0)


def test_hits_past_every_row_are_ignored() -> None:
    data, ends = _run([[b"x", b"y"]])
    assert _mask_run(data, ends, [(len(data) + 3, 9)])[2] == 1


@settings(max_examples=400, deadline=None)
@given(
    st.binary(max_size=300),
    st.lists(st.integers(-5, 320), max_size=8),
    st.lists(st.tuples(st.integers(-5, 320), st.integers(-1, 30)), max_size=12),
    st.integers(-1, 12),
    st.integers(-1, 9),
)
def test_garbage_in_a_run_is_an_error_or_a_stop_never_a_crash(
    data: bytes, ends: list[int], hits: list[tuple[int, int]], h: int, r: int
) -> None:
    """Rows the kernel is handed come from the framing (well-formed offsets), but a broken
    server may send anything inside them: the kernel refuses or stops, it never reads past
    the buffer (the sanitizer-free check here is that it returns, with sane values)."""
    try:
        found, counts, h2, h_end, r2 = NATIVE.mask_run(
            data, 0, sorted(ends), sorted(hits), h, r, b"\x01\x01\x01", b"\x01\x01\x00", 9,
            bytes(20), 4, None,
        )  # fmt: skip
    except ValueError:
        return
    if h2 < len(hits):  # stopped at a row for Python: its hits and index are real
        assert h <= h2 < h_end <= len(hits) and r <= r2 < len(ends)
    assert counts is None or len(counts) == 3
    for s, e, new in found:
        assert 0 <= s <= e <= len(data) and isinstance(new, bytes)
