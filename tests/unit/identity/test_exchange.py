"""Token exchange and the wire authenticators, against a real (in-memory SQLite) store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from proctor.api.identity_setup import build_identity
from proctor.identity.authenticator import (
    AuthenticationError,
    ChainAuthenticator,
    TokenAuthenticator,
)
from proctor.identity.exchange import (
    GRANT_TOKEN_EXCHANGE,
    TT_ACCESS_TOKEN,
    TT_JWT,
    OAuthError,
    TokenExchange,
)
from proctor.identity.revalidation import TokenRevalidator
from proctor.store import SqlStore
from tests.oidc.issuer import TestIssuer

from .conftest import make_config

GH = "https://token.actions.githubusercontent.com"
AUD = "https://proctor.acme.test"


@pytest.fixture(scope="module")
def gh() -> TestIssuer:
    return TestIssuer(GH, AUD)


def identity_section(tmp_path: Path, gh: TestIssuer, access: list[Any] | None = None) -> Any:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(gh.jwks()))
    section: dict[str, Any] = {
        "workload": [
            {
                "name": "github",
                "issuer": GH,
                "audiences": [AUD],
                "jwks_file": str(jwks),
                "token_ttl": "10m",
                "rules": [
                    {
                        "match": {"repository": "acme/payments", "ref": "refs/heads/main"},
                        "subject": "ci:payments-deploy",
                        "groups": ["ci"],
                    },
                    {
                        "match": {"repository": "acme/reports"},
                        "subject": "ci:reports",
                        "groups": ["ci"],
                        "connections": ["pg-dev"],
                        "token_ttl": "30d",
                    },
                ],
            }
        ],
        "exchange": {"max_ttl": "1h"},
    }
    if access is not None:
        section["access"] = access
    return make_config(section, tmp_path)


def form(token: str, **extra: Any) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {
        "grant_type": [GRANT_TOKEN_EXCHANGE],
        "subject_token": [token],
        "subject_token_type": [TT_JWT],
    }
    for key, value in extra.items():
        values[key] = value if isinstance(value, list) else [value]
    return values


def exchanger(tmp_path: Path, gh: TestIssuer, store: SqlStore, **kw: Any) -> TokenExchange:
    runtime = build_identity(identity_section(tmp_path, gh, **kw), store)
    assert runtime.exchange is not None
    return runtime.exchange


def refused(ex: TokenExchange, values: dict[str, list[str]]) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        ex.exchange(values)
    return caught.value


def test_exchange_mints_a_stored_hashed_proctor_token(
    tmp_path: Path, gh: TestIssuer, store: SqlStore
) -> None:
    minted = exchanger(tmp_path, gh, store).exchange(form(gh.sign(gh.github())))
    body = minted.response()
    assert body["access_token"].startswith("prt_")
    assert body["issued_token_type"] == TT_ACCESS_TOKEN
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["subject"] == "ci:payments-deploy"
    assert body["groups"] == ["ci"]
    record = store.verify_token(body["access_token"])
    assert record is not None
    assert record.subject == "ci:payments-deploy"
    assert record.groups == {"ci"}
    assert record.description == "exchange via github"
    # Only the hash is stored.
    with store._engine.connect() as conn:
        rows = conn.exec_driver_sql("select secret_hash from tokens").all()
    assert body["access_token"] not in {r[0] for r in rows}


def test_ttl_is_capped_and_rule_scope_applies(
    tmp_path: Path, gh: TestIssuer, store: SqlStore
) -> None:
    minted = exchanger(tmp_path, gh, store).exchange(
        form(gh.sign(gh.github(repository="acme/reports")))
    )
    assert minted.response()["expires_in"] == 3600  # 30d asked by the rule, 1h max
    assert minted.issued.record.connections == {"pg-dev"}


def test_audience_scopes_the_token(tmp_path: Path, gh: TestIssuer, store: SqlStore) -> None:
    minted = exchanger(tmp_path, gh, store).exchange(form(gh.sign(gh.github()), audience=["shop"]))
    assert minted.issued.record.connections == {"shop"}


def test_audience_outside_the_rule_scope(tmp_path: Path, gh: TestIssuer, store: SqlStore) -> None:
    err = refused(
        exchanger(tmp_path, gh, store),
        form(gh.sign(gh.github(repository="acme/reports")), audience=["pg-prod"]),
    )
    assert err.error == "invalid_target"
    assert err.description == (
        "ci:reports is not allowed to use pg-prod; ask for access with `proctor request pg-prod`"
    )


def test_unknown_audience(tmp_path: Path, gh: TestIssuer, store: SqlStore) -> None:
    err = refused(exchanger(tmp_path, gh, store), form(gh.sign(gh.github()), audience="nope"))
    assert (err.error, err.description) == ("invalid_target", "no connection named 'nope'")


def test_access_rules_apply_at_exchange(tmp_path: Path, gh: TestIssuer, store: SqlStore) -> None:
    ex = exchanger(tmp_path, gh, store, access=[{"connections": ["shop"], "groups": ["ci"]}])
    assert ex.exchange(form(gh.sign(gh.github()), audience="shop"))
    err = refused(ex, form(gh.sign(gh.github()), audience="pg-prod"))
    assert "ci:payments-deploy is not allowed to use pg-prod" in err.description
    nobody = exchanger(tmp_path, gh, store, access=[{"connections": ["shop"], "groups": ["x"]}])
    err = refused(nobody, form(gh.sign(gh.github())))
    assert err.description.startswith("ci:payments-deploy is not allowed to use any connection")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"subject_token_type": "urn:x"}, "invalid_request"),
        (
            {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
            "invalid_request",
        ),
        ({"actor_token": "x"}, "invalid_request"),
        ({"resource": "https://x"}, "invalid_target"),
        ({"subject_token": "prt_not_a_jwt"}, "invalid_grant"),
        ({"subject_token": ""}, "invalid_request"),
        ({"subject_token": ["a", "b"]}, "invalid_request"),
    ],
)
def test_bad_requests(
    tmp_path: Path, gh: TestIssuer, store: SqlStore, change: dict[str, Any], error: str
) -> None:
    values = form(gh.sign(gh.github()))
    for key, value in change.items():
        values[key] = value if isinstance(value, list) else [value]
    assert refused(exchanger(tmp_path, gh, store), values).error == error


def test_invalid_tokens_are_invalid_grant(tmp_path: Path, gh: TestIssuer, store: SqlStore) -> None:
    ex = exchanger(tmp_path, gh, store)
    for token in (
        gh.unsigned(gh.github()),
        gh.hmac_with_public_key(gh.github()),
        gh.sign(gh.github(exp=1, iat=0, nbf=0)),
        gh.sign(gh.github(aud="https://elsewhere.test")),
        gh.sign(gh.github(ref="refs/heads/dev")),
    ):
        err = refused(ex, form(token))
        assert err.error == "invalid_grant"
        assert err.status == 400
    assert store.list_tokens() == []


# -- wire authenticators ------------------------------------------------------------------------


def test_chain_accepts_tokens_and_workload_jwts(
    tmp_path: Path, gh: TestIssuer, store: SqlStore
) -> None:
    runtime = build_identity(identity_section(tmp_path, gh), store)
    auth = runtime.authenticator
    identity = auth.authenticate(gh.sign(gh.github(repository="acme/reports")))
    assert identity.subject == "ci:reports"
    assert identity.claims["connections"] == ["pg-dev"]
    assert identity.token_id is None
    issued = store.create_token("alice", frozenset({"dev"}), timedelta(days=1))
    assert auth.authenticate(issued.secret).subject == "alice"
    with pytest.raises(AuthenticationError, match="invalid, expired or revoked"):
        auth.authenticate("prt_" + "x" * 43)
    with pytest.raises(AuthenticationError, match="neither a Proctor access token"):
        auth.authenticate("hunter2")
    with pytest.raises(AuthenticationError, match="alg none"):
        auth.authenticate(gh.unsigned(gh.github()))


def test_access_rules_narrow_every_identity(
    tmp_path: Path, gh: TestIssuer, store: SqlStore
) -> None:
    config = identity_section(tmp_path, gh, access=[{"connections": ["shop"], "groups": ["ci"]}])
    auth = build_identity(config, store).authenticator
    assert auth.authenticate(gh.sign(gh.github())).claims["connections"] == ["shop"]
    # ci:reports may only use pg-dev (its rule) and the access rules only give it shop.
    with pytest.raises(AuthenticationError, match="not allowed to use any connection"):
        auth.authenticate(gh.sign(gh.github(repository="acme/reports")))


def test_chain_without_handles_falls_back() -> None:
    class Never:
        def authenticate(self, secret: str) -> Any:
            raise AuthenticationError("nope")

    with pytest.raises(AuthenticationError, match="nope"):
        ChainAuthenticator([Never()]).authenticate("x")


def test_revalidator(store: SqlStore) -> None:
    a = store.create_token("a", frozenset(), timedelta(hours=1))
    b = store.create_token("b", frozenset(), timedelta(hours=1))
    assert TokenAuthenticator(store).handles(a.secret)
    check = TokenRevalidator(store)
    assert check.ended([a.record.id, b.record.id]) == {}
    store.revoke_token(a.record.id)
    assert check.ended([a.record.id, b.record.id, "tok_gone"]) == {
        a.record.id: "revoked",
        "tok_gone": "unknown",
    }


def test_a_person_without_access_still_signs_in_to_ask_for_it(
    store: SqlStore, tmp_path: Path
) -> None:
    """Sign-in mints a token for carol although no rule gives her a connection: with it she
    files her first just-in-time request. The token opens nothing: the rules still deny."""
    from proctor.config.identity import AccessRuleConfig
    from proctor.identity.access import AccessPolicy
    from proctor.identity.exchange import TokenMinter
    from proctor.identity.issuers import Resolved
    from proctor.model import Connection, Credential, Identity

    shop = Connection("shop", "postgres", "127.0.0.1", 5432, "shop", Credential("app"))
    access = AccessPolicy([AccessRuleConfig(connections=("shop",), groups=("analyst",))])
    minter = TokenMinter(store, access, {"shop": shop}, max_ttl=3600)
    carol = Resolved(Identity("carol", frozenset({"contractor"})), "okta", token_ttl=600)
    with pytest.raises(OAuthError, match="carol is not allowed to use any connection"):
        minter.mint(carol)  # a workload exchange: refused
    minted = minter.mint(carol, how="device sign-in", person=True)
    record = store.verify_token(minted.issued.secret)
    assert record is not None and record.subject == "carol"
    assert access.denial(Identity("carol", frozenset({"contractor"})), shop) is not None
