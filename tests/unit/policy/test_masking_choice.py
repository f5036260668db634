"""The policy's ``masking`` section: which profile a session gets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from proctor.model import Connection, Credential, Identity
from proctor.policy import Policy, PolicyError
from proctor.policy.context import DecisionContext

SHOP = Connection(
    name="shop",
    protocol="postgres",
    host="db",
    port=5432,
    database="shop",
    credential=Credential(username="app"),
    tags={"env": "prod"},
)
STAGING = Connection(
    name="stage",
    protocol="postgres",
    host="db",
    port=5432,
    database="shop",
    credential=Credential(username="app"),
    tags={"env": "staging"},
)
CTX = DecisionContext(client_addr="10.0.0.5", now=datetime(2026, 11, 26, tzinfo=UTC))


def policy(masking: list[dict[str, object]]) -> Policy:
    return Policy.from_dict({"version": 1, "default": "allow", "masking": masking})


def who(subject: str, *groups: str) -> Identity:
    return Identity(subject=subject, groups=frozenset(groups))


def test_first_matching_entry_decides() -> None:
    p = policy(
        [
            {"profile": "none", "match": {"groups": "dba"}, "unless": {"tags": {"env": "prod"}}},
            {"profile": "support", "match": {"groups": "support"}},
            {"profile": "pii"},
        ]
    )
    assert p.masking_profile(who("d", "dba"), STAGING, CTX) is None
    assert p.masking_profile(who("d", "dba"), SHOP, CTX) == "pii"
    assert p.masking_profile(who("s", "support"), SHOP, CTX) == "support"
    assert p.masking_profile(who("a"), SHOP, CTX) == "pii"
    assert p.masking_profiles() == {"support", "pii"}


def test_no_section_masks_nothing() -> None:
    p = Policy.from_dict({"version": 1, "default": "allow"})
    assert p.masking_profile(who("a"), SHOP, CTX) is None
    assert not p.masking_profiles()


def test_unknown_client_address_leans_towards_masking() -> None:
    p = policy(
        [
            {"profile": "none", "match": {"client_addresses": "10.0.0.0/8"}},
            {"profile": "strict", "match": {"client_addresses": "192.168.0.0/16"}},
            {"profile": "pii"},
        ]
    )
    unknown = DecisionContext(client_addr=None, now=CTX.now)
    assert p.masking_profile(who("a"), SHOP, CTX) is None
    assert p.masking_profile(who("a"), SHOP, unknown) == "strict"


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"profile": "pii", "match": {"tables": "customers"}}, "when the session starts"),
        ({"profile": "p i i"}, "masking profile name"),
        ({"match": {}}, "profile"),
        ({"profile": "pii", "unless": {}}, "unless"),
    ],
)
def test_invalid_entries(entry: dict[str, object], says: str) -> None:
    with pytest.raises(PolicyError) as info:
        policy([entry])
    assert says in str(info.value)


def test_fingerprint_unchanged_without_the_section() -> None:
    bare = Policy.from_dict({"version": 1, "default": "allow"})
    with_empty = Policy.from_dict({"version": 1, "default": "allow", "masking": []})
    with_one = policy([{"profile": "pii"}])
    assert bare.fingerprint() == with_empty.fingerprint() != with_one.fingerprint()
