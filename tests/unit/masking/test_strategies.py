from __future__ import annotations

import re

import pytest

from proctor.masking import ColumnInfo, Masker, Profile, ProfileError, TypeCategory
from proctor.masking import validators as v

KEY = "k" * 32


def masker_with(strategy: str, **extra: object) -> Masker:
    return Masker(Profile.from_dict({"default_strategy": strategy, "hash_key": KEY, **extra}))


def test_redact_labels() -> None:
    m = masker_with("redact", labels={"card": "[PAN]"})
    assert m.mask_text("4111 1111 1111 1111 a@b.io") == "[PAN] [EMAIL]"


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("4111 1111 1111 1111", "**** **** **** 1111"),
        ("123-45-6789", "***-**-6789"),
        ("jane.doe@example.com", "j***@example.com"),
        ("(806) 231-2102", "(***) ***-2102"),
        ("DE89 3704 0044 0532 0130 00", "DE** **** **** **** **30 00"),
        ("10.1.2.3", "10.*.*.*"),
        ("token ghp_" + "a" * 36, "token ghp_****"),
    ],
)
def test_partial(text: str, out: str) -> None:
    assert masker_with("partial").mask_text(text) == out


def test_partial_never_reveals_most_of_a_short_value() -> None:
    rule = {"strategy": "partial-last-4", "entity": "customer_ref"}
    m = Masker(Profile.from_dict({"columns": {"ref": rule, "pin": "partial-last-4"}}))
    plan = m.plan_columns([ColumnInfo("ref"), ColumnInfo("pin")])
    assert plan.mask_cell(0, "1234") == "**34"
    assert plan.mask_cell(0, "AB-99871234") == "**-****1234"
    assert plan.mask_cell(1, "1234") == "****"  # a pin is a secret: nothing kept


def test_hash_is_stable_keyed_and_format_independent() -> None:
    m = masker_with("hash")
    a = m.mask_text("4111 1111 1111 1111")
    assert re.fullmatch(r"tok_[0-9a-f]{16}", a)
    assert m.mask_text("4111-1111-1111-1111") == a  # same card, other separators: same token
    assert m.mask_text("4111111111111111") == a
    other = Masker(Profile.from_dict({"default_strategy": "hash", "hash_key": "x" * 32}))
    assert other.mask_text("4111111111111111") != a
    assert m.mask_text("Jane@Example.com") == m.mask_text("jane@example.com")


def test_hash_needs_a_key() -> None:
    with pytest.raises(ProfileError, match="hash_key"):
        Profile.from_dict({"entities": {"email": "hash"}})


def test_fpe_keeps_shape_and_validity() -> None:
    m = masker_with("fpe")
    card = m.mask_text("4111 1111 1111 1111")
    assert card != "4111 1111 1111 1111"
    assert re.fullmatch(r"411111 ?\d{2}\d{2} \d{4} \d{4}|\d{4} \d{4} \d{4} \d{4}", card)
    assert v.luhn_ok(card.replace(" ", "")) and card.startswith("4111 11")
    iban = m.mask_text("DE89 3704 0044 0532 0130 00")
    assert v.iban_ok(iban) and iban.startswith("DE") and len(iban) == 27
    ssn = m.mask_text("123-45-6789")
    a, g, n = ssn.split("-")
    assert v.ssn_ok(a, g, n) and ssn != "123-45-6789"
    email = m.mask_text("jane.doe@example.com")
    assert email.endswith("@example.com") and len(email) == len("jane.doe@example.com")
    assert m.mask_text("4111 1111 1111 1111") == card  # keyed: stable


def test_null_in_text_redacts_but_nulls_a_cell() -> None:
    m = masker_with("null")
    assert m.mask_text("mail a@b.io") == "mail [EMAIL]"
    plan = m.plan_columns([ColumnInfo("note")])
    assert plan.mask_cell(0, "mail a@b.io") is None


def test_keep_disables_an_entity() -> None:
    m = Masker(Profile.from_dict({"entities": {"ip": "keep"}}))
    assert m.mask_text("10.0.0.1 a@b.io") == "10.0.0.1 [EMAIL]"


@pytest.mark.parametrize("strategy", ["redact", "partial", "hash", "null", "fpe"])
def test_numeric_cells_stay_numeric(strategy: str) -> None:
    m = masker_with(strategy)
    plan = m.plan_columns(
        [ColumnInfo("card_number", TypeCategory.NUMERIC), ColumnInfo("x", TypeCategory.NUMERIC)]
    )
    for col in (0, 1):
        out = plan.mask_cell(col, "4111111111111111")
        assert out is None or re.fullmatch(r"-?\d+", out), out
        assert out != "4111111111111111"
    assert plan.mask_cell(1, "42") == "42"


def test_numeric_fallback_zero() -> None:
    m = Masker(Profile.from_dict({"type_fallback": {"numeric": "zero"}}))
    plan = m.plan_columns([ColumnInfo("ssn", TypeCategory.NUMERIC)])
    assert plan.mask_cell(0, "123456789") == "0"


@pytest.mark.parametrize(
    ("strategy", "out"),
    [("null", None), ("redact", None), ("partial", "1990-01-01")],
)
def test_date_cells_stay_dates(strategy: str, out: str | None) -> None:
    plan = masker_with(strategy).plan_columns([ColumnInfo("dob", TypeCategory.DATE)])
    assert plan.mask_cell(0, "1990-05-17") == out


def test_date_fpe_and_fixed() -> None:
    plan = masker_with("fpe").plan_columns([ColumnInfo("birth_date", TypeCategory.DATE)])
    out = plan.mask_cell(0, "1990-05-17 13:45:00+02")
    assert out is not None and re.fullmatch(r"1990-\d\d-\d\d 00:00:00\+00", out)
    fixed = Masker(Profile.from_dict({"type_fallback": {"date": "fixed"}}))
    plan = fixed.plan_columns([ColumnInfo("dob", TypeCategory.DATE)])
    assert plan.mask_cell(0, "1990-05-17") == "1900-01-01"
    assert plan.mask_cell(0, "05/17/1990") is None  # not ISO: NULL is the only safe output
