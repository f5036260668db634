from __future__ import annotations

import pytest

from proctor.masking.entities import Entity
from proctor.masking.hints import context_of, context_of_name, words


def test_words_split_case_and_separators() -> None:
    assert words("customerEmailAddress") == ("customer", "email", "address")
    assert words("AWS_SECRET_ACCESS_KEY") == ("aws", "secret", "access", "key")
    assert words("IPAddress") == ("ip", "address")
    assert words("address_line1") == ("address", "line", "1")


@pytest.mark.parametrize(
    ("name", "whole", "boost", "suppressed"),
    [
        ("ssn", None, {Entity.SSN}, False),
        ("social_security_number", None, {Entity.SSN}, False),
        ("phone_number", None, {Entity.PHONE}, False),
        ("phoneVerified", None, set(), False),  # head noun: verified
        ("password", Entity.SECRET, set(), False),
        ("password_changed_at", None, set(), False),
        ("AWS_SECRET_ACCESS_KEY", Entity.SECRET, set(), False),
        ("first_name", Entity.NAME, set(), False),
        ("date_of_birth", Entity.DOB, set(), False),
        ("billing_address", Entity.ADDRESS, set(), False),
        ("email_address", None, {Entity.EMAIL}, False),
        ("ip_address", None, {Entity.IP}, False),
        ("order_id", None, set(), True),
        ("build", None, set(), True),
        ("sha256", None, set(), True),
        ("tracking_number", None, set(), True),
        ("tokens_used", None, set(), False),
        ("description", None, set(), False),
    ],
)
def test_context_of_name(name: str, whole: str | None, boost: set[str], suppressed: bool) -> None:
    ctx = context_of_name(name)
    assert ctx.whole == whole
    assert set(ctx.boost) == boost
    assert bool(ctx.suppress) is suppressed


def test_bare_name_depends_on_table() -> None:
    assert context_of_name("name", "shop.customers").whole == Entity.NAME
    assert not context_of_name("name", "shop.customers").weak
    assert context_of_name("name", "shop.products").neutral
    weak = context_of_name("name")
    assert weak.whole == Entity.NAME and weak.weak
    assert context_of_name("file_name").neutral


def test_first_informative_name_decides() -> None:
    # SELECT ssn AS x: the output name says nothing, the source column does.
    assert set(context_of(["x", "ssn"]).boost) == {Entity.SSN}
    assert context_of(["password", "order_id"]).whole == Entity.SECRET
