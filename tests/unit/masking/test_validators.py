from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.masking import validators as v


@pytest.mark.parametrize(
    ("digits", "ok"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True),
     ("0", True), ("378282246310005", True), ("378282246310006", False)],
)  # fmt: skip
def test_luhn(digits: str, ok: bool) -> None:
    assert v.luhn_ok(digits) is ok


def test_luhn_check_digit_completes() -> None:
    assert v.luhn_ok("411111111111111" + v.luhn_check_digit("411111111111111"))


@pytest.mark.parametrize(
    ("digits", "brand"),
    [
        ("4111111111111111", "visa"),
        ("4222222222222", "visa"),
        ("5555555555554444", "mastercard"),
        ("2221000000000009", "mastercard"),
        ("2720999999999996", "mastercard"),
        ("2220990000000000", None),  # just below the 2-series
        ("2721000000000000", None),  # just above it
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3530111333300000", "jcb"),
        ("30569309025904", "diners"),
        ("6200000000000005", "unionpay"),
        ("1234567890123456", None),
        ("41111111111", None),  # too short
    ],
)
def test_card_brand(digits: str, brand: str | None) -> None:
    assert v.card_brand(digits) == brand


@pytest.mark.parametrize(
    ("ssn", "ok"),
    [("123-45-6789", True), ("000-12-3456", False), ("666-12-3456", False),
     ("900-12-3456", False), ("999-12-3456", False), ("123-00-4567", False),
     ("123-45-0000", False), ("899-99-9999", True)],
)  # fmt: skip
def test_ssn_rules(ssn: str, ok: bool) -> None:
    a, g, n = ssn.split("-")
    assert v.ssn_ok(a, g, n) is ok


@pytest.mark.parametrize(
    ("iban", "ok"),
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("GB82WEST12345698765432", True),
        ("GB82WEST12345698765433", False),  # check digits
        ("DE89370400440532013", False),  # length for DE is 22
        ("XX89370400440532013000", False),  # unknown country
        ("NO9386011117947", True),
    ],
)
def test_iban(iban: str, ok: bool) -> None:
    assert v.iban_ok(iban) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [("10.0.0.1", True), ("256.1.1.1", False), ("01.2.3.4", False), ("fe80::1", True),
     ("::", False), ("a::b", False), ("2001:db8::8a2e:370:7334", True), ("12:30:45", False)],
)  # fmt: skip
def test_ip(text: str, ok: bool) -> None:
    assert v.ip_ok(text) is ok


def test_jwt() -> None:
    good = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
    assert v.jwt_ok(good)
    assert not v.jwt_ok("eyJub3RoaW5nIjoxfQ.eyJzdWIiOiIxIn0.c2ln")  # header without alg
    assert not v.jwt_ok("eyJ!!!.x.y")
    assert not v.jwt_ok("a.b")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("(806) 231-2102", True),
        ("806.231.2102x38576", True),
        ("+1-806-231-2102", True),
        ("001-806-231-2102", True),
        ("+44 20 7946 0958", True),
        ("+49(0)9660 587666", True),
        ("01632 960 123", True),
        ("01.02.2024", False),  # a date
        ("123-456-7890", False),  # NANP exchange/area cannot start with 1
        ("555-1234", False),  # too short without a country
    ],
)
def test_phone(text: str, ok: bool) -> None:
    assert v.phone_ok(text) is ok


@pytest.mark.parametrize(
    ("text", "ymd"),
    [("1990-05-17", (1990, 5, 17)), ("05/17/1990", (1990, 5, 17)), ("17.05.1990", (1990, 5, 17)),
     ("May 17, 1990", (1990, 5, 17)), ("17 May 1990", (1990, 5, 17)), ("13/45/1990", None),
     ("Foo 17, 1990", None)],
)  # fmt: skip
def test_parse_date(text: str, ymd: tuple[int, int, int] | None) -> None:
    assert v.parse_date(text) == ymd


def test_person_name() -> None:
    assert v.person_name_ok("Jane Doe")
    assert v.person_name_ok("José García")
    assert v.person_name_ok("Mary-Jane O'Neil")
    assert not v.person_name_ok("Jane")
    assert not v.person_name_ok("widget pro 3000")


# `card_span_ok` walks a card number as written instead of slicing, stripping and summing: it
# must answer exactly what `card_ok` does on the stripped text, for every issuer range.
_RANGE_EDGES = [
    "4", "34", "37", "35", "36", "38", "39", "50", "51", "55", "56", "57", "58", "62", "65",
    "67", "300", "305", "306", "643", "644", "649", "650", "1800", "2131", "2200", "2204",
    "2205", "2220", "2221", "2720", "2721", "3095", "6011", "6304", "6390", "0604", "0605",
    "622125", "622126", "622925", "622926", "1", "7", "8", "9", "0",
]  # fmt: skip


def _with_luhn(body: str) -> str:
    return body + v.luhn_check_digit(body)


@st.composite
def _written_cards(draw: st.DrawFn) -> tuple[str, int, int]:
    prefix = draw(st.sampled_from(_RANGE_EDGES))
    length = draw(st.integers(10, 21))
    body = prefix + draw(st.text("0123456789", min_size=length, max_size=length))
    digits = _with_luhn(body) if draw(st.booleans()) else body
    sep = draw(st.sampled_from(["", " ", "-", " - ", "x", "\u0664", "."]))
    every = draw(st.integers(1, 6))
    written = sep.join(digits[i : i + every] for i in range(0, len(digits), every))
    before = draw(st.text(" -ab1", max_size=3))
    after = draw(st.text(" -ab1", max_size=3))
    text = before + written + after
    return text, len(before), len(before) + len(written)


@settings(max_examples=3000, deadline=None)
@given(
    case=st.one_of(
        _written_cards(),
        st.text("0123456789 -\u0664a", max_size=30).map(lambda t: (t, 0, len(t))),
    )
)
def test_card_span_ok_is_card_ok_of_the_stripped_span(case: tuple[str, int, int]) -> None:
    text, start, end = case

    def outcome(check: Callable[[], bool]) -> bool | str:
        try:
            return check()
        except ValueError as exc:  # card_ok of text that is not digits: the same error
            return type(exc).__name__

    expected = outcome(lambda: v.card_ok(text[start:end].replace(" ", "").replace("-", "")))
    assert outcome(lambda: v.card_span_ok(text, start, end)) == expected
    assert outcome(lambda: v._card_walk(text, start, end)) == expected  # whichever it uses


def test_card_span_ok_accepts_each_scheme_as_written() -> None:
    for body in ("411111111111111", "510510510510510", "222100000023757", "34000000000000"):
        digits = _with_luhn(body)
        written = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
        for check in (v.card_span_ok, v._card_walk):
            assert check("x " + written + " y", 2, 2 + len(written))
            assert check(written.replace(" ", "-"), 0, len(written))
            assert not check("4111 1111 1111 1112", 0, 19)  # Luhn fails
