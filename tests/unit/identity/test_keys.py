"""Discovery and JWKS caching: rotation is picked up, refetches are rate-limited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from proctor.identity.errors import ProviderUnavailable, TokenRejected
from proctor.identity.fetch import FetchError, Response
from proctor.identity.keys import CachedDiscovery, KeySet, fetch_discovery, import_signing_keys
from proctor.identity.validation import JwtValidator, ValidationRules
from tests.oidc.issuer import TestIssuer

ISS = "https://issuer.test"
AUD = "proctor"


class FakeFetcher:
    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.gets: list[str] = []
        self.fail = False
        self.headers: dict[str, str] = {}
        self.discovery: dict[str, Any] = {"issuer": ISS, "jwks_uri": f"{ISS}/jwks"}

    def get_json(self, url: str) -> Response:
        self.gets.append(url)
        if self.fail:
            raise FetchError("connection refused")
        if url.endswith("/.well-known/openid-configuration"):
            return Response(200, self.discovery)
        return Response(200, self.issuer.jwks(), self.headers)

    def post_form(
        self, url: str, form: Mapping[str, str], basic_auth: tuple[str, str] | None = None
    ) -> Response:
        raise AssertionError("not used")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer(ISS, AUD)


def setup(issuer: TestIssuer, min_refetch: float = 30.0) -> tuple[FakeFetcher, Clock, JwtValidator]:
    fetcher = FakeFetcher(issuer)
    clock = Clock()
    keys = KeySet(
        ISS,
        fetcher,
        discovery=CachedDiscovery(fetcher, ISS, clock=clock),
        min_refetch_interval=min_refetch,
        clock=clock,
    )
    return fetcher, clock, JwtValidator(ValidationRules(ISS, frozenset({AUD})), keys)


def jwks_gets(fetcher: FakeFetcher) -> int:
    return sum(1 for u in fetcher.gets if u.endswith("/jwks"))


def test_keys_are_fetched_once_and_cached(issuer: TestIssuer) -> None:
    fetcher, _, v = setup(issuer)
    for _ in range(5):
        v.validate(issuer.sign(issuer.claims()))
    assert jwks_gets(fetcher) == 1
    assert fetcher.gets[0] == f"{ISS}/.well-known/openid-configuration"


def test_rotation_is_picked_up_on_an_unknown_kid(issuer: TestIssuer) -> None:
    fetcher, clock, v = setup(issuer)
    v.validate(issuer.sign(issuer.claims()))
    clock.now += 60
    issuer.rotate()
    assert v.validate(issuer.sign(issuer.claims()))
    assert jwks_gets(fetcher) == 2


def test_unknown_kid_refetches_are_rate_limited(issuer: TestIssuer) -> None:
    fetcher, clock, v = setup(issuer, min_refetch=30)
    v.validate(issuer.sign(issuer.claims()))
    stranger = TestIssuer(ISS, AUD)
    stranger.keys[0] = type(stranger.keys[0]).generate_key(2048, parameters={"kid": "zzz"})
    for _ in range(20):
        with pytest.raises(TokenRejected) as caught:
            v.validate(stranger.sign(stranger.claims()))
        assert caught.value.reason == "unknown_key"
    # The first fetch happened at start; the made-up kids caused no refetch within 30 s.
    assert jwks_gets(fetcher) == 1
    clock.now += 31
    with pytest.raises(TokenRejected):
        v.validate(stranger.sign(stranger.claims()))
    assert jwks_gets(fetcher) == 2


def test_stale_keys_are_refetched_after_max_age(issuer: TestIssuer) -> None:
    fetcher, clock, v = setup(issuer)
    fetcher.headers = {"Cache-Control": "public, max-age=120"}
    v.validate(issuer.sign(issuer.claims()))
    clock.now += 100
    v.validate(issuer.sign(issuer.claims()))
    assert jwks_gets(fetcher) == 1
    clock.now += 30
    v.validate(issuer.sign(issuer.claims()))
    assert jwks_gets(fetcher) == 2


def test_a_failed_refresh_keeps_the_old_keys(issuer: TestIssuer) -> None:
    fetcher, clock, v = setup(issuer)
    v.validate(issuer.sign(issuer.claims()))
    fetcher.fail = True
    clock.now += 7200
    assert v.validate(issuer.sign(issuer.claims()))


def test_no_keys_at_all_is_provider_unavailable(issuer: TestIssuer) -> None:
    fetcher, _, v = setup(issuer)
    fetcher.fail = True
    with pytest.raises(ProviderUnavailable, match="cannot read the discovery document"):
        v.validate(issuer.sign(issuer.claims()))


def test_discovery_must_name_the_same_issuer(issuer: TestIssuer) -> None:
    fetcher = FakeFetcher(issuer)
    fetcher.discovery = {"issuer": "https://evil.test", "jwks_uri": "https://evil.test/jwks"}
    with pytest.raises(ProviderUnavailable, match="names another issuer"):
        fetch_discovery(fetcher, ISS)


def test_discovery_over_plain_http_is_refused_except_on_loopback(issuer: TestIssuer) -> None:
    fetcher = FakeFetcher(issuer)
    with pytest.raises(ProviderUnavailable, match="https"):
        fetch_discovery(fetcher, "http://idp.example")
    fetcher.discovery = {"issuer": "http://127.0.0.1:9", "jwks_uri": "http://127.0.0.1:9/jwks"}
    assert fetch_discovery(fetcher, "http://127.0.0.1:9").jwks_uri.endswith("/jwks")


def test_symmetric_and_encryption_keys_are_dropped(issuer: TestIssuer) -> None:
    jwks = issuer.jwks()
    jwks["keys"].append({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"})
    enc = dict(jwks["keys"][0], kid="enc", use="enc")
    jwks["keys"].append(enc)
    jwks["keys"].append({"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"})
    jwks["keys"].append("junk")
    keys = import_signing_keys(jwks)
    assert [k.kid for k in keys] == [issuer.key.kid]


def test_private_members_in_a_jwks_are_not_imported(issuer: TestIssuer) -> None:
    private = dict(issuer.key.as_dict(private=True))
    (key,) = import_signing_keys({"keys": [private]})
    assert not key.key.is_private


def test_jwks_document_shape() -> None:
    with pytest.raises(ValueError, match="keys"):
        import_signing_keys({"nokeys": []})
