"""Claims -> identities: claim paths, conditions, workload rules, group mapping, access."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from proctor.identity.access import AccessPolicy, Role, RoleResolver, denial_message
from proctor.identity.claims import (
    Condition,
    Match,
    TemplateError,
    claim_at,
    claim_strings,
    render_template,
)
from proctor.identity.errors import NoMatchingRule, TokenRejected
from proctor.identity.issuers import IssuerRegistry, OidcProvider, WorkloadIssuer, build_registry
from proctor.model import Identity
from tests.oidc.issuer import TestIssuer

from .conftest import make_config

GH = "https://token.actions.githubusercontent.com"
AUD = "https://proctor.acme.test"


# -- claim paths and conditions -------------------------------------------------------------


def test_claim_paths() -> None:
    claims = {
        "groups": ["a", "b"],
        "realm_access": {"roles": ["dba", "dev"]},
        "https://acme.test/groups": ["x"],
        "resource_access": {"proctor": {"roles": ["admin"]}},
        "n": 7,
        "flag": True,
    }
    assert claim_strings(claims, "groups") == ["a", "b"]
    assert claim_strings(claims, "realm_access.roles") == ["dba", "dev"]
    assert claim_strings(claims, "https://acme.test/groups") == ["x"]
    assert claim_strings(claims, "resource_access.proctor.roles") == ["admin"]
    assert claim_strings(claims, "n") == ["7"]
    assert claim_strings(claims, "flag") == ["true"]
    assert claim_strings(claims, "realm_access") == []  # a mapping is not a string
    assert claim_at(claims, "missing.path") is None


def test_conditions() -> None:
    claims = {"repository": "acme/payments", "groups": ["x", "dba"], "ref": "refs/heads/main"}
    assert Condition("repository", Match(exact=("acme/payments",))).holds(claims)
    assert not Condition("repository", Match(exact=("acme/pay",))).holds(claims)
    assert Condition("groups", Match(exact=("dba",))).holds(claims)
    assert Condition("ref", Match(glob="refs/heads/*")).holds(claims)
    assert not Condition("ref", Match(glob="refs/tags/*")).holds(claims)
    assert Condition("repository", Match(regex=re.compile(r"acme/pay\w+"))).holds(claims)
    # A regex must match the whole value, not a part of it.
    assert not Condition("repository", Match(regex=re.compile(r"acme"))).holds(claims)
    assert not Condition("missing", Match(exact=("x",))).holds(claims)


def test_templates() -> None:
    claims = {"kubernetes.io": {"namespace": "billing", "serviceaccount": {"name": "etl"}}}
    assert (
        render_template("svc:{kubernetes.io.namespace}/{kubernetes.io.serviceaccount.name}", claims)
        == "svc:billing/etl"
    )
    with pytest.raises(TemplateError):
        render_template("svc:{nope}", claims)
    with pytest.raises(TemplateError, match="characters"):
        render_template("svc:{x}", {"x": "a b"})


# -- workload rules -------------------------------------------------------------------------


def workload_config(tmp_path: Path, issuer: TestIssuer, **extra: Any) -> dict[str, Any]:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(issuer.jwks()))
    entry = {
        "name": "github",
        "issuer": GH,
        "audiences": [AUD],
        "jwks_file": str(jwks),
        "rules": [
            {
                "match": {"repository": "acme/payments", "ref": "refs/heads/main"},
                "subject": "ci:payments-deploy",
                "groups": ["ci"],
                "connections": ["shop"],
            },
            {
                "match": {"repository_owner": "acme", "event_name": ["pull_request"]},
                "subject": "ci:{repository}",
                "groups": ["ci-pr"],
                "token_ttl": "5m",
            },
        ],
    }
    entry.update(extra)
    return {"workload": [entry]}


def registry_for(tmp_path: Path, issuer: TestIssuer, **extra: Any) -> IssuerRegistry:
    config = make_config(workload_config(tmp_path, issuer, **extra), tmp_path)
    assert config.identity is not None
    return build_registry(config.identity, None)


@pytest.fixture
def gh() -> TestIssuer:
    return TestIssuer(GH, AUD)


def test_github_token_becomes_the_machine_identity(tmp_path: Path, gh: TestIssuer) -> None:
    resolved = registry_for(tmp_path, gh).resolve(gh.sign(gh.github()))
    assert resolved.identity.subject == "ci:payments-deploy"
    assert resolved.identity.groups == {"ci"}
    assert resolved.identity.issuer == GH
    assert resolved.identity.is_machine
    assert resolved.connections == {"shop"}
    assert resolved.token_ttl == 900
    assert resolved.source == "github"
    assert resolved.identity.claims["sub"] == "repo:acme/payments:ref:refs/heads/main"
    assert "repository" not in resolved.identity.claims  # only a few claims are kept


def test_second_rule_with_a_template(tmp_path: Path, gh: TestIssuer) -> None:
    token = gh.sign(
        gh.github(repository="acme/web", ref="refs/pull/7/merge", event_name="pull_request")
    )
    resolved = registry_for(tmp_path, gh).resolve(token)
    assert resolved.identity.subject == "ci:acme/web"
    assert resolved.token_ttl == 300


@pytest.mark.parametrize(
    "overrides",
    [
        {"ref": "refs/heads/feature"},
        {"repository": "acme/payments-fork"},
        {"repository": "evil/payments", "repository_owner": "evil"},
        {"ref": None},
    ],
)
def test_workload_token_whose_claims_do_not_match(
    tmp_path: Path, gh: TestIssuer, overrides: dict[str, Any]
) -> None:
    token = gh.sign(gh.github(**overrides))
    with pytest.raises(NoMatchingRule) as caught:
        registry_for(tmp_path, gh).resolve(token)
    message = str(caught.value)
    assert "matches none of its rules" in message
    assert "repository" in message  # the claim names it looks at, never the token's values
    assert "feature" not in message and "evil" not in message


def test_unknown_issuer(tmp_path: Path, gh: TestIssuer) -> None:
    other = TestIssuer("https://other.test", AUD)
    with pytest.raises(TokenRejected) as caught:
        registry_for(tmp_path, gh).resolve(other.sign(other.github()))
    assert caught.value.reason == "unknown_issuer"


def test_password_use_can_be_disabled(tmp_path: Path, gh: TestIssuer) -> None:
    registry = registry_for(tmp_path, gh, accept_as_password=False)
    token = gh.sign(gh.github())
    assert registry.resolve(token).identity.subject == "ci:payments-deploy"
    with pytest.raises(TokenRejected, match="not trusted"):
        registry.resolve(token, password=True)


def test_signature_is_checked_before_rules(tmp_path: Path, gh: TestIssuer) -> None:
    impostor = TestIssuer(GH, AUD)
    with pytest.raises(TokenRejected) as caught:
        registry_for(tmp_path, gh).resolve(impostor.sign(impostor.github()))
    assert caught.value.reason in ("unknown_key", "bad_signature")


def test_same_issuer_for_people_and_clients_is_told_apart_by_audience(tmp_path: Path) -> None:
    idp = TestIssuer("https://idp.test", "proctor-web")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(idp.jwks()))
    config = make_config(
        {
            "providers": [
                {
                    "name": "idp",
                    "issuer": "https://idp.test",
                    "client_id": "proctor-web",
                    "jwks_uri": "https://idp.test/jwks",
                }
            ],
            "workload": [
                {
                    "name": "idp-clients",
                    "issuer": "https://idp.test",
                    "audiences": ["https://proctor.api"],
                    "jwks_file": str(jwks),
                    "rules": [
                        {
                            "match": {"client_id": "reporting-agent"},
                            "subject": "agent:reporting",
                            "groups": ["agents"],
                        }
                    ],
                }
            ],
        },
        tmp_path,
    )
    assert config.identity is not None
    registry = build_registry(config.identity, None)
    provider = registry.providers["idp"]
    assert isinstance(provider, OidcProvider)
    agent = idp.sign(
        idp.claims(aud="https://proctor.api", sub="reporting-agent", client_id="reporting-agent")
    )
    assert registry.resolve(agent).identity.subject == "agent:reporting"
    assert isinstance(registry.issuers[1], WorkloadIssuer)


# -- OIDC group mapping ----------------------------------------------------------------------


def provider(groups: dict[str, Any], **extra: Any) -> OidcProvider:
    entry = {
        "name": "kc",
        "issuer": "https://kc.test/realms/acme",
        "client_id": "proctor",
        "jwks_uri": "https://kc.test/jwks",
        "groups": groups,
        **extra,
    }
    config = make_config({"providers": [entry]})
    assert config.identity is not None
    p = build_registry(config.identity, None).providers["kc"]
    return p


def test_groups_pass_through_without_a_map() -> None:
    p = provider({"claims": ["groups"]})
    assert p.groups_of({"groups": ["dev", "ops"]}) == {"dev", "ops"}


def test_groups_from_a_nested_claim_with_a_map() -> None:
    p = provider(
        {
            "claims": ["realm_access.roles", "groups"],
            "map": {"kc-dba": ["dba"], "kc-admins": ["admin", "approver"]},
        }
    )
    claims = {"realm_access": {"roles": ["kc-dba", "offline_access"]}, "groups": ["kc-admins"]}
    # Unmapped values are dropped when a map is given.
    assert p.groups_of(claims) == {"dba", "admin", "approver"}


def test_keep_unmapped() -> None:
    p = provider({"claims": ["roles"], "map": {"a": ["alpha"]}, "keep_unmapped": True})
    assert p.groups_of({"roles": ["a", "b"]}) == {"alpha", "b"}


def test_group_rules_on_any_claim() -> None:
    p = provider(
        {
            "claims": [],
            "rules": [
                {
                    "when": {"email": {"glob": "*@acme.test"}, "email_verified": True},
                    "groups": ["staff"],
                }
            ],
        }
    )
    assert p.groups_of({"email": "a@acme.test", "email_verified": True}) == {"staff"}
    assert p.groups_of({"email": "a@acme.test", "email_verified": False}) == set()
    assert p.groups_of({"email": "a@evil.test", "email_verified": True}) == set()


def test_unsafe_pass_through_groups_are_dropped() -> None:
    p = provider({"claims": ["groups"]})
    assert p.groups_of({"groups": ["ok", "bad group", "x\ny", "a,b"]}) == {"ok"}


def test_subject_claim() -> None:
    p = provider({}, subject_claim="email")
    resolved = p.map_claims({"sub": "00u1", "email": "alice@acme.test", "name": "Alice"})
    assert resolved.identity.subject == "alice@acme.test"
    assert resolved.identity.display_name == "Alice"
    assert resolved.identity.email == "alice@acme.test"
    with pytest.raises(TokenRejected, match="no 'email' claim"):
        p.map_claims({"sub": "00u1"})


# -- access rules and roles ------------------------------------------------------------------


def access(rules: list[dict[str, Any]]) -> tuple[AccessPolicy, dict[str, Any]]:
    config = make_config({"access": rules})
    assert config.identity is not None
    return AccessPolicy(config.identity.access), config.connection_models()


def test_no_rules_allow_everything() -> None:
    policy, conns = access([])
    assert policy.allows(Identity("alice"), conns["pg-prod"])


def test_access_by_name_and_tag() -> None:
    policy, conns = access(
        [
            {"connections": ["shop"], "groups": ["analyst"]},
            {"tags": {"env": "prod"}, "groups": ["dba"], "subjects": ["root"]},
        ]
    )
    alice = Identity("alice", frozenset({"analyst"}))
    dba = Identity("dan", frozenset({"dba"}))
    assert policy.allows(alice, conns["shop"])
    assert not policy.allows(alice, conns["pg-prod"])
    assert policy.allows(dba, conns["pg-prod"])
    assert not policy.allows(dba, conns["shop"])
    assert policy.allows(Identity("root"), conns["pg-prod"])
    assert policy.allowed(alice, conns.values()) == {"shop"}
    assert policy.denial(alice, conns["pg-prod"]) == (
        "alice is not allowed to use pg-prod; ask for access with `proctor request pg-prod`"
    )
    assert policy.denial(alice, conns["shop"]) is None


def test_a_token_scope_narrows_access() -> None:
    policy, conns = access([{"connections": ["*"], "groups": ["dev"]}])
    scoped = Identity("x", frozenset({"dev"}), claims={"connections": ["pg-dev"]})
    assert policy.allows(scoped, conns["pg-dev"])
    assert not policy.allows(scoped, conns["shop"])


def test_denial_message() -> None:
    assert denial_message("alice", "pg-prod") == (
        "alice is not allowed to use pg-prod; ask for access with `proctor request pg-prod`"
    )


def test_roles() -> None:
    config = make_config(
        {
            "roles": {
                "admin": {"groups": ["proctor-admins"]},
                "auditor": {"subjects": ["audrey"]},
                "approver": {"groups": ["leads"]},
            }
        }
    )
    assert config.identity is not None
    roles = RoleResolver(config.identity.roles)
    assert roles.roles(Identity("bob")) == {Role.USER}
    assert roles.roles(Identity("audrey")) == {Role.USER, Role.AUDITOR}
    assert roles.roles(Identity("lee", frozenset({"leads"}))) == {Role.USER, Role.APPROVER}
    assert roles.roles(Identity("root", frozenset({"proctor-admins"}))) == set(Role)
    assert roles.has(Identity("root", frozenset({"proctor-admins"})), Role.AUDITOR)
    assert RoleResolver(None).roles(Identity("x")) == {Role.USER}
