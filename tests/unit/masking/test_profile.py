from __future__ import annotations

import pytest

from proctor.masking import ColumnInfo, Masker, Profile, ProfileError
from proctor.masking.profile import ColumnRule


@pytest.mark.parametrize(
    "bad",
    [
        {"nope": 1},
        {"default_strategy": "shred"},
        {"default_strategy": "keep"},
        {"entities": {"cardz": "redact"}},
        {"columns": {"a..b": "redact"}},
        {"columns": {"a": {"strategy": "redact", "colour": 1}}},
        {"custom": [{"name": "x", "pattern": "("}]},
        {"custom": [{"name": "x", "pattern": "a*"}]},  # matches the empty string
        {"custom": [{"name": "card", "pattern": "a"}]},  # built-in name
        {"custom": [{"name": "x", "pattern": "a", "validator": "nope"}]},
        {"deny": [{"terms": []}]},
        {"disable": ["no_such_detector"]},
        {"type_fallback": {"numeric": "minus-one"}},
        {"hash_key": "short"},
        {"best_effort": "yes"},
    ],
)
def test_invalid_profiles_fail_at_load(bad: dict[str, object]) -> None:
    with pytest.raises(ProfileError):
        Profile.from_dict(bad)


@pytest.mark.parametrize(
    ("pattern", "qualified", "ok"),
    [
        ("shop.customers.ssn", ("shop", "public", "customers", "ssn"), True),
        ("shop.customers.ssn", ("public", "customers", "ssn"), False),
        ("customers.ssn", ("shop", "public", "customers", "ssn"), True),
        ("ssn", ("customers", "ssn"), True),
        ("*.ssn", ("customers", "ssn"), True),
        ("*.ssn", ("ssn",), False),
        ("public.*.e*", ("public", "users", "email"), True),
        ("orders.ssn", ("customers", "ssn"), False),
    ],
)
def test_column_rule_matching(pattern: str, qualified: tuple[str, ...], ok: bool) -> None:
    rule = ColumnRule(tuple(pattern.split(".")), "mask")
    assert rule.matches(qualified) is ok


def test_column_rules_first_match_wins() -> None:
    p = Profile.from_dict(
        {
            "columns": {
                "shop.customers.ssn": "partial-last-4",
                "*.ssn": "redact",
                "shop.orders.reference": "keep",
            }
        }
    )
    m = Masker(p)
    plan = m.plan_columns(
        [
            ColumnInfo("ssn", table="shop.public.customers"),
            ColumnInfo("ssn", table="hr.staff"),
            ColumnInfo("reference", table="shop.orders"),
            ColumnInfo("x", table="shop.customers", source="ssn"),
        ]
    )
    assert plan.mask_row(["123-45-6789"] * 4) == [
        "***-**-6789",
        "[SSN]",
        "123-45-6789",
        "***-**-6789",
    ]


def test_custom_detectors_and_deny_lists() -> None:
    p = Profile.from_dict(
        {
            "hash_key": "k" * 32,
            "custom": [
                {"name": "employee_id", "pattern": r"EMP-\d{6}", "strategy": "hash"},
                {"name": "acct", "pattern": r"ACCT:(\d{16})", "validator": "luhn"},
            ],
            "deny": [{"entity": "project", "terms": ["Bluebird", "Project Falcon"]}],
        }
    )
    m = Masker(p)
    out = m.mask_text("EMP-123456 on project falcon and Bluebird, ACCT:4111111111111111")
    assert out.startswith("tok_")
    assert "[PROJECT] and [PROJECT]" in out
    assert out.endswith("[ACCT]")
    assert m.mask_text("ACCT:4111111111111112") == "ACCT:4111111111111112"  # validator says no
    assert m.mask_text("bluebirds fly") == "bluebirds fly"  # whole words only


def test_disable_detector_or_entity() -> None:
    m = Masker(Profile.from_dict({"disable": ["phone", "phone_context", "ip"]}))
    assert m.mask_text("(806) 231-2102 10.0.0.1") == "(806) 231-2102 10.0.0.1"
