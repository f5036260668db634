"""Masking a run of rows from one buffer scan: ``ColumnPlan.scan_hits`` + ``mask_cell_hits``
must give exactly what ``mask_cell`` gives cell by cell, and cells without a hit must be ones
``mask_cell`` leaves alone. Also the faster validators and strategies against the plain
reference implementations they replaced."""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.masking import HAVE_HYPERSCAN, ColumnInfo, Masker, Profile, TypeCategory
from proctor.masking import strategies as strat
from proctor.masking import validators as v
from proctor.masking.scanner import Candidate, Hits, resolve

T = TypeCategory

pytestmark = pytest.mark.skipif(not HAVE_HYPERSCAN, reason="run-level hits need Hyperscan")

FRAGMENTS = [
    "4111 1111 1111 1111", "4000 0002 3757 0009", "5555-5555-5555-4444", "378282246310005",
    "jane@example.com", "123-45-6789", "(806) 231-2102", "+44 20 7946 0958", "0044 20 7946 0958",
    "10.0.0.1", "::1", "DE89 3704 0044 0532 0130 00", "password=hunter2", "ghp_" + "x1" * 18,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "hello", "BUILD-555-1234", "ORD-2024-000123",
    "2024-01-15 10:30:00", "12345", "-", "1", "0", "@", " ", ":", "\u00e9", "\u00e9t\u00e9 4111",
    "4111111111111111", "order 12 shipped", "paid with card", "x" * 30, "dob: 1980-02-03",
    "name: Jane Doe", "ssn 078-05-1120",
]  # fmt: skip

cells = st.lists(st.sampled_from(FRAGMENTS), max_size=5).map(" ".join) | st.lists(
    st.sampled_from(FRAGMENTS), max_size=5
).map("".join)

PROFILES = {
    "default": Profile(),
    "pii": Profile.from_dict(
        {"name": "pii", "entities": {"card": "partial", "email": "partial", "phone": "partial"}}
    ),
    "null-cards": Profile.from_dict(
        {"name": "n", "entities": {"card": "null", "ssn": "hash"}, "hash_key": "k" * 32}
    ),
}
MASKERS = {name: Masker(p, backend="hyperscan") for name, p in PROFILES.items()}
COLUMNS = [
    ColumnInfo("note"),
    ColumnInfo("memo"),
    ColumnInfo("n", T.NUMERIC),
    ColumnInfo("tags", T.UNKNOWN),
    ColumnInfo("payload"),
]


def datarows(rows: list[list[str | None]]) -> tuple[bytes, list[list[tuple[int, int]]]]:
    """DataRow framing (text format), and each cell's (start, end) of text in the buffer."""
    out = bytearray()
    spans: list[list[tuple[int, int]]] = []
    for row in rows:
        out += b"D\x00\x00\x00\x00" + struct.pack("!h", len(row))
        start = len(out) - 7
        row_spans = []
        for cell in row:
            if cell is None:
                out += struct.pack("!i", -1)
                row_spans.append((len(out), len(out)))
            else:
                data = cell.encode()
                out += struct.pack("!i", len(data))
                row_spans.append((len(out), len(out) + len(data)))
                out += data
        struct.pack_into("!i", out, start + 1, len(out) - start - 1)
        spans.append(row_spans)
    return bytes(out), spans


def cell_hits(hits: list[tuple[int, int]], a: int, b: int) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for to, i in hits:
        if a < to <= b:
            found.setdefault(i, []).append(to - a)
    return found


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(cells, min_size=5, max_size=5), min_size=1, max_size=12),
    st.sampled_from(sorted(PROFILES)),
)
def test_hits_give_what_a_scan_per_cell_gives(rows: list[list[str]], profile: str) -> None:
    masker = MASKERS[profile]
    by_run = masker.plan_columns(COLUMNS)
    by_cell = masker.plan_columns(COLUMNS)
    buf, spans = datarows([list[str | None](r) for r in rows])
    hits = by_run.scan_hits(buf)
    assert hits is not None and hits == sorted(hits)
    assert by_run.scan_columns
    for row, row_spans in zip(rows, spans, strict=True):
        for c in range(len(COLUMNS)):
            value = row[c]
            expected = by_cell.mask_cell(c, value)
            if c not in by_run.scan_columns:
                continue
            found = cell_hits(hits, *row_spans[c])
            if not found:
                assert expected is value, (c, value)  # no hit: nothing to mask
                continue
            assert by_run.mask_cell_hits(c, value, found) == expected, (c, value)
    assert by_run.stats.by_column() == by_cell.stats.by_column()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join),
    st.lists(st.integers(min_value=0, max_value=80), max_size=6),
    st.binary(max_size=12),
)
def test_find_with_hits_from_a_bigger_buffer(text: str, extra: list[int], before: bytes) -> None:
    """Hits of a scan over the text with other bytes before it (its row, its length field)
    stand for a scan of the text alone, extra (spurious) hit ends included."""
    masker = MASKERS["default"]
    scanner = masker.scanner
    active = masker.active(masker.context(("memo",)))
    data = text.encode()
    buf = before + data
    hits = masker.plan_columns([ColumnInfo("memo")]).scan_hits(buf)
    assert hits is not None
    found = cell_hits(hits, len(before), len(buf))
    for e in extra:
        if 0 < e <= len(data) and found:
            found[next(iter(found))].append(e)
    for ends in found.values():
        ends.sort()
    expected = resolve(scanner.check(scanner.raw(text, active)))
    assert scanner.find(text, active) == expected
    assert scanner.find(text, active, 0, found) == expected
    assert scanner.hits_finder(active)(text, found) == expected


# Contexts that enable different detector sets: plain, boosted (relaxed detectors without
# a usable trigger run over the whole text), suppressed.
HINTS = [("memo",), ("card_number",), ("phone",), ("ssn",), ("order_id",), ("build",)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join)
    | st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map(" ".join),
    st.sampled_from(HINTS),
    st.sampled_from(sorted(PROFILES)),
)
def test_hits_finder_is_find(text: str, hints: tuple[str, ...], profile: str) -> None:
    """The finder remembers per set of hitting detectors what `find` decides per call:
    same candidates, whichever detectors hit, ASCII or not, same finder called again."""
    masker = MASKERS[profile]
    scanner = masker.scanner
    active = masker.active(masker.context(hints))
    hits = masker.plan_columns([ColumnInfo("memo")]).scan_hits(text.encode())
    assert hits is not None
    found = cell_hits(hits, 0, len(text.encode()))
    expected = scanner.find(text, active, 0, found)
    finder = FINDERS.setdefault((profile, hints), scanner.hits_finder(active))
    assert finder(text, found) == expected
    assert finder(text, found) == expected  # from the remembered program
    if found:
        assert expected == resolve(scanner.check(scanner.raw(text, active)))


FINDERS: dict[tuple[str, tuple[str, ...]], Callable[[str, Hits], list[Candidate]]] = {}


def test_a_card_is_not_looked_at_as_a_phone_number() -> None:
    """The phone pattern does not run where all its hits lie inside a card found first."""
    masker = MASKERS["default"]
    scanner = masker.scanner
    active = masker.active(masker.context(("memo",)))
    text = "paid with card 4000 0002 3757 0009"
    phone = next(i for i, d in enumerate(scanner.detectors) if d.name == "phone")
    work = dict(scanner._work(text, active, 0, None))
    assert phone in work  # its trigger hits inside the card number
    assert [c.entity for c in scanner.find(text, active)] == ["card"]
    text2 = text + " call +1 (806) 231-2102"
    assert [c.entity for c in scanner.find(text2, active)] == ["card", "phone"]


# -- validators and strategies against the implementations they replaced --------------------

_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_reference(digits: str) -> bool:
    rev = digits[::-1]
    total = sum(map(int, rev[0::2])) + sum(map(_DOUBLED.__getitem__, map(int, rev[1::2])))
    return total % 10 == 0


def mask_digits_reference(value: str, keep: int) -> str:
    total = sum(1 for c in value if c.isdigit())
    keep = min(keep, total // 2)
    seen = 0
    out = []
    for c in value:
        if c.isdigit():
            seen += 1
            out.append(c if seen > total - keep else "*")
        else:
            out.append(c)
    return "".join(out)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789\u0663", max_size=20))
def test_luhn(digits: str) -> None:
    assert v.luhn_ok(digits) == luhn_reference(digits)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789 -*ab\u0663\u00e9", max_size=30), st.integers(0, 8))
def test_mask_digits(value: str, keep: int) -> None:
    assert strat._mask_digits(value, keep) == mask_digits_reference(value, keep)


def test_card_ok_is_brand_and_luhn() -> None:
    """`card_ok`'s inline tests for Visa and Mastercard 51-55 against the two validators it
    stands for, over lengths around the card range and every issuer prefix."""
    r = random.Random(5)
    prefixes = ["4", "51", "55", "56", "2221", "2720", "34", "37", "6011", "35", "36", "62", "0"]
    for _ in range(20000):
        n = r.randint(10, 21)
        head = r.choice(prefixes) if r.random() < 0.8 else ""
        digits = (head + "".join(r.choice("0123456789") for _ in range(n)))[:n]
        if r.random() < 0.5:  # make about half of them Luhn-valid
            digits = digits[:-1] + v.luhn_check_digit(digits[:-1])
        expected = v.card_brand(digits) is not None and luhn_reference(digits)
        assert v.card_ok(digits) == expected, digits
    for odd in ("4111111111111111\u0663", "\u0664111111111111111", "4111 1111 1111 1111", ""):
        assert outcome(v.card_ok, odd) == outcome(
            lambda d: v.card_brand(d) is not None and v.luhn_ok(d), odd
        )


def outcome(f: Callable[[str], object], value: str) -> object:
    """What ``f(value)`` returns, or the type of what it raises."""
    try:
        return f(value)
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_text_replacer_is_text(profile: str) -> None:
    """The replacement function decided once per entity gives what `Replacer.text` gives."""
    masker = MASKERS[profile]
    replacer = masker.replacer
    for entity in sorted({d.entity for d in masker.scanner.detectors}):
        for spec in ("partial", "partial-last-2", "redact", "null", "hash", "fpe", "keep"):
            strategy = strat.Strategy.parse(spec, "test")
            replace = replacer.text_replacer(entity, strategy)
            for value in FRAGMENTS:
                expected = outcome(functools.partial(replacer.text, entity, strategy), value)
                assert outcome(replace, value) == expected, (entity, spec, value)


def test_card_brand_visa_first() -> None:
    r = random.Random(3)
    for _ in range(2000):
        n = r.randint(12, 19)
        digits = "".join(r.choice("0123456789") for _ in range(n))
        brand = v.card_brand(digits)
        if digits[0] == "4" and n in (13, 16, 19):
            assert brand == "visa"
        else:
            assert brand != "visa"


def test_custom_triggers_must_not_depend_on_context() -> None:
    from proctor.masking.profile import _context_free

    for pattern in (r"^EMP\d{4}$", r"\bAC\d+", r"x\B", r"\AX", r"x\Z", r"(?:a|b$)"):
        assert not _context_free(pattern, 0), pattern
    for pattern in (r"EMP-\d{4}", r"[^a-z]+x", r"ACME-(\d+)", r"(?i)foo", r"a{2,}|[$^]"):
        assert _context_free(pattern, 0), pattern
    profile = Profile.from_dict({"name": "c", "custom": [{"name": "emp", "pattern": r"^E\d+$"}]})
    masker = Masker(profile)
    assert next(d for d in masker.scanner.detectors if d.name == "emp").trigger is None
    assert masker.plan_columns([ColumnInfo("note")]).modes == ("always",)
