"""Strict JWT validation: every way a token can be wrong is refused, each with its reason."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc.jwk import ECKey, OKPKey, RSAKey

from proctor.identity.errors import TokenRejected
from proctor.identity.keys import KeySet
from proctor.identity.validation import (
    JwtValidator,
    ValidationRules,
    looks_like_jwt,
    unverified_parts,
)
from tests.oidc.issuer import TestIssuer, b64

ISS = "https://issuer.test"
AUD = "https://proctor.test"


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer(ISS, AUD)


def validator(issuer: TestIssuer, **rules: Any) -> JwtValidator:
    keys = KeySet(ISS, None, static_jwks=issuer.jwks())
    values: dict[str, Any] = {"issuer": ISS, "audiences": frozenset({AUD})}
    values.update(rules)
    return JwtValidator(ValidationRules(**values), keys)


def rejected(v: JwtValidator, token: str, **kw: Any) -> TokenRejected:
    with pytest.raises(TokenRejected) as caught:
        v.validate(token, **kw)
    return caught.value


def test_a_good_token_is_accepted(issuer: TestIssuer) -> None:
    claims = validator(issuer).validate(issuer.sign(issuer.claims(sub="alice")))
    assert claims["sub"] == "alice"


def test_expired_token(issuer: TestIssuer) -> None:
    now = int(time.time())
    token = issuer.sign(issuer.claims(iat=now - 600, nbf=now - 600, exp=now - 120))
    err = rejected(validator(issuer), token)
    assert err.reason == "expired"
    assert str(err) == "the token has expired"


def test_expiry_within_clock_skew_is_tolerated(issuer: TestIssuer) -> None:
    now = int(time.time())
    token = issuer.sign(issuer.claims(iat=now - 600, exp=now - 30))
    assert validator(issuer, clock_skew=60).validate(token)
    assert rejected(validator(issuer, clock_skew=10), token).reason == "expired"


def test_wrong_audience(issuer: TestIssuer) -> None:
    err = rejected(validator(issuer), issuer.sign(issuer.claims(aud="https://other.test")))
    assert err.reason == "wrong_audience"


def test_audience_list_with_ours_is_accepted(issuer: TestIssuer) -> None:
    assert validator(issuer).validate(issuer.sign(issuer.claims(aud=["x", AUD])))


def test_missing_audience(issuer: TestIssuer) -> None:
    assert rejected(validator(issuer), issuer.sign(issuer.claims(aud=None))).reason == (
        "wrong_audience"
    )


def test_wrong_issuer(issuer: TestIssuer) -> None:
    err = rejected(validator(issuer), issuer.sign(issuer.claims(iss="https://evil.test")))
    assert err.reason == "wrong_issuer"


def test_bad_signature(issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims())
    head, payload, sig = token.split(".")
    forged_payload = b64(
        b'{"iss":"%s","aud":"%s","sub":"admin","iat":1,"exp":9999999999}'
        % (ISS.encode(), AUD.encode())
    )
    assert rejected(validator(issuer), f"{head}.{forged_payload}.{sig}").reason == "bad_signature"
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert rejected(validator(issuer), f"{head}.{payload}.{flipped}").reason == "bad_signature"


def test_signed_by_another_key_with_the_same_kid(issuer: TestIssuer) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": issuer.key.kid})
    token = issuer.sign(issuer.claims(), key=impostor)
    assert rejected(validator(issuer), token).reason == "bad_signature"


def test_alg_none_is_refused(issuer: TestIssuer) -> None:
    err = rejected(validator(issuer), issuer.unsigned(issuer.claims()))
    assert err.reason == "bad_algorithm"
    assert "never accepted" in str(err)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_in_any_case(issuer: TestIssuer, alg: str) -> None:
    header = b64(json.dumps({"alg": alg}).encode())
    payload = b64(b'{"sub":"x"}')
    assert rejected(validator(issuer), f"{header}.{payload}.").reason == "bad_algorithm"


def test_hmac_with_the_public_key_as_secret_is_refused(issuer: TestIssuer) -> None:
    err = rejected(validator(issuer), issuer.hmac_with_public_key(issuer.claims(sub="admin")))
    assert err.reason == "bad_algorithm"
    assert "shared-secret" in str(err)


def test_hmac_cannot_be_allowed_in_the_rules() -> None:
    with pytest.raises(ValueError, match="not asymmetric"):
        ValidationRules(ISS, frozenset({AUD}), algorithms=frozenset({"HS256"}))


def test_algorithm_outside_the_allow_list(issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims(), alg="RS512")
    err = rejected(validator(issuer, algorithms=frozenset({"RS256"})), token)
    assert err.reason == "bad_algorithm"
    assert "RS512 is not accepted" in str(err)


def test_unknown_kid(issuer: TestIssuer) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
    err = rejected(validator(issuer), issuer.sign(issuer.claims(), key=stranger))
    assert err.reason == "unknown_key"


def test_key_type_must_fit_the_algorithm(issuer: TestIssuer) -> None:
    # An EC signature that names the RSA key's kid: the RSA key cannot verify ES256.
    ec = ECKey.generate_key("P-256", parameters={"kid": issuer.key.kid})
    token = issuer.sign(issuer.claims(), alg="ES256", key=ec)
    assert rejected(validator(issuer), token).reason == "unknown_key"


def test_jwk_alg_restricts_the_key() -> None:
    issuer = TestIssuer(ISS, AUD)
    jwks = issuer.jwks()
    jwks["keys"][0]["alg"] = "PS256"
    keys = KeySet(ISS, None, static_jwks=jwks)
    v = JwtValidator(ValidationRules(ISS, frozenset({AUD})), keys)
    assert rejected(v, issuer.sign(issuer.claims(), alg="RS256")).reason == "unknown_key"
    assert v.validate(issuer.sign(issuer.claims(), alg="PS256"))


def test_ec_and_eddsa_keys_work() -> None:
    for key, alg in (
        (ECKey.generate_key("P-256", parameters={"kid": "e"}), "ES256"),
        (OKPKey.generate_key("Ed25519", parameters={"kid": "o"}), "EdDSA"),
        (OKPKey.generate_key("Ed25519", parameters={"kid": "o2"}), "Ed25519"),
    ):
        issuer = TestIssuer(ISS, AUD)
        issuer.keys = [key]
        assert validator(issuer).validate(issuer.sign(issuer.claims(), alg=alg, key=key))


def test_no_kid_with_a_single_key_is_accepted(issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims(), header={"kid": None})
    assert validator(issuer).validate(token)


def test_no_kid_with_several_keys_is_refused() -> None:
    issuer = TestIssuer(ISS, AUD)
    issuer.rotate(keep_old=True)
    token = issuer.sign(issuer.claims(), header={"kid": None})
    assert rejected(validator(issuer), token).reason == "unknown_key"


def test_not_yet_valid(issuer: TestIssuer) -> None:
    now = int(time.time())
    assert rejected(validator(issuer), issuer.sign(issuer.claims(nbf=now + 600))).reason == (
        "not_yet_valid"
    )
    assert rejected(validator(issuer), issuer.sign(issuer.claims(iat=now + 600))).reason == (
        "not_yet_valid"
    )


@pytest.mark.parametrize("claim", ["exp", "sub"])
def test_required_claims(issuer: TestIssuer, claim: str) -> None:
    token = issuer.sign(issuer.claims(**{claim: None}))
    assert rejected(validator(issuer), token).reason == "malformed"


def test_iat_is_optional_unless_a_lifetime_limit_needs_it(issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims(iat=None))  # e.g. a SPIFFE JWT-SVID
    assert validator(issuer).validate(token)
    assert rejected(validator(issuer, max_lifetime=600), token).reason == "malformed"


def test_non_numeric_times(issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims(exp="tomorrow"))
    assert rejected(validator(issuer), token).reason == "malformed"


def test_lifetime_limit(issuer: TestIssuer) -> None:
    now = int(time.time())
    token = issuer.sign(issuer.claims(iat=now, exp=now + 86400))
    assert rejected(validator(issuer, max_lifetime=3600), token).reason == "too_long_lived"


def test_nonce(issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims(nonce="n-1"))
    assert validator(issuer).validate(token, nonce="n-1")
    assert rejected(validator(issuer), token, nonce="n-2").reason == "bad_nonce"
    no_nonce = issuer.sign(issuer.claims())
    assert rejected(validator(issuer), no_nonce, nonce="n-1").reason == "bad_nonce"


def test_crit_header_is_refused(issuer: TestIssuer) -> None:
    header = {"alg": "RS256", "kid": issuer.key.kid, "crit": ["x-proctor"], "x-proctor": 1}
    token = issuer.sign_raw(header, issuer.claims())
    assert rejected(validator(issuer), token).reason == "bad_header"
    # The same token without crit is fine: the refusal is about crit alone.
    del header["crit"]
    assert validator(issuer).validate(issuer.sign_raw(header, issuer.claims()))


def test_typ_restriction(issuer: TestIssuer) -> None:
    v = validator(issuer, token_types=frozenset({"at+jwt"}))
    assert rejected(v, issuer.sign(issuer.claims())).reason == "bad_header"
    assert v.validate(issuer.sign(issuer.claims(), header={"typ": "at+JWT"}))


def test_embedded_keys_are_ignored(issuer: TestIssuer) -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": issuer.key.kid})
    token = issuer.sign(
        issuer.claims(),
        key=attacker,
        header={"jwk": dict(attacker.as_dict(private=False)), "jku": "https://evil.test/jwks"},
    )
    assert rejected(validator(issuer), token).reason == "bad_signature"


@pytest.mark.parametrize(
    "text",
    ["", "abc", "a.b", "a.b.c.d", "!!!.###.$$$", "eyJ.eyJ.x", "e30.e30.", "W10.e30.x"],
)
def test_malformed_tokens(issuer: TestIssuer, text: str) -> None:
    with pytest.raises(TokenRejected):
        validator(issuer).validate(text)


def test_oversized_token(issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims(padding="x" * 20000))
    assert not looks_like_jwt(token)
    assert rejected(validator(issuer), token).reason == "malformed"


def test_unverified_parts(issuer: TestIssuer) -> None:
    header, payload = unverified_parts(issuer.sign(issuer.claims(sub="bob")))
    assert header["alg"] == "RS256"
    assert payload["sub"] == "bob"
