from __future__ import annotations

import pytest

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
