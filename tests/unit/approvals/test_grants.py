"""Just-in-time grants in authorization: admission, expiry, revocation, renewal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from proctor.approvals.grants import AccessGrants, ended_message
from proctor.config.identity import AccessRuleConfig
from proctor.identity.access import AccessPolicy
from proctor.identity.authenticator import AuthenticationError, TokenAuthenticator
from proctor.identity.federation import AuthorizingAuthenticator
from proctor.model import AccessGrant, Connection, Credential, Identity
from proctor.store import open_store
from proctor.store.approvals import ApprovalStore

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SHOP = Connection("shop", "postgres", "db", 5432, "shop", Credential("app"))
CAROL = Identity(subject="carol", groups=frozenset({"contractor"}))
POLICY = AccessPolicy([AccessRuleConfig(connections=("shop",), groups=("dba",))])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ApprovalStore]:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as s:
        yield ApprovalStore(s)


def grant(gid: str, minutes: int = 30, **kw: object) -> AccessGrant:
    return AccessGrant(
        id=gid,
        subject="carol",
        connection="shop",
        granted_by="bob",
        starts_at=NOW - timedelta(minutes=1),
        expires_at=NOW + timedelta(minutes=minutes),
        **kw,  # type: ignore[arg-type]
    )


def test_a_grant_admits_whom_the_rules_deny(store: ApprovalStore) -> None:
    clock = [NOW]
    grants = AccessGrants(store, POLICY, clock=lambda: clock[0])
    assert grants.load(CAROL) == frozenset()
    assert grants.denial(CAROL, SHOP) is not None and "proctor request shop" in str(
        grants.denial(CAROL, SHOP)
    )
    store.create_grant(grant("grt_01"))
    assert grants.load(CAROL) == {"shop"}
    assert grants.denial(CAROL, SHOP) is None
    admitted = grants.admitting(CAROL, SHOP)
    assert admitted is not None and admitted.id == "grt_01"
    # Someone the rules allow relies on no grant.
    dba = Identity(subject="dave", groups=frozenset({"dba"}))
    assert grants.admitting(dba, SHOP) is None and grants.denial(dba, SHOP) is None
    clock[0] = NOW + timedelta(hours=1)
    assert grants.denial(CAROL, SHOP) is not None  # expired in memory too


def test_settle_expiry_revocation_renewal(store: ApprovalStore) -> None:
    clock = [NOW]
    grants = AccessGrants(store, POLICY, clock=lambda: clock[0])
    first = grant("grt_01", minutes=5)
    store.create_grant(first)
    assert grants.settle([first])["grt_01"].ended is None
    clock[0] = NOW + timedelta(minutes=6)
    ended = grants.settle([first])["grt_01"]
    assert ended.grant is None
    assert ended.ended == "access grant grt_01 for shop expired at 2030-01-01 12:05:00Z"
    renewal = grant("grt_02", minutes=60)
    store.create_grant(renewal)
    renewed = grants.settle([first])["grt_01"]
    assert renewed.ended is None and renewed.grant is not None and renewed.grant.id == "grt_02"
    store.revoke_grant("grt_02", NOW + timedelta(minutes=7))
    clock[0] = NOW + timedelta(minutes=8)
    revoked = grants.settle([renewal])["grt_02"]
    assert revoked.ended == "access grant grt_02 for shop was revoked at 2030-01-01 12:07:00Z"


def test_ended_message_while_it_holds() -> None:
    assert ended_message(grant("grt_01"), NOW) is None


def test_authorizing_authenticator_counts_grants(store: ApprovalStore) -> None:
    class Fixed(TokenAuthenticator):
        def __init__(self, identity: Identity) -> None:
            self.identity = identity

        def authenticate(self, secret: str) -> Identity:
            return self.identity

    grants = AccessGrants(store, POLICY, clock=lambda: NOW)
    auth = AuthorizingAuthenticator(Fixed(CAROL), POLICY, [SHOP], grants.load)
    with pytest.raises(AuthenticationError, match="proctor request"):
        auth.authenticate("x")
    store.create_grant(grant("grt_01"))
    assert auth.authenticate("x").claims["connections"] == ["shop"]
    # A token scoped to other connections is not widened by a grant.
    scoped = Identity(subject="carol", claims={"connections": ["reports"]})
    auth = AuthorizingAuthenticator(Fixed(scoped), POLICY, [SHOP], grants.load)
    with pytest.raises(AuthenticationError):
        auth.authenticate("x")
