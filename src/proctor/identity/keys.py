"""Issuers' signing keys: discovery, JWKS fetching, caching and rotation.

Theory of operation. Each trusted issuer has one ``KeySet`` (shared by every validator that
trusts that issuer in this process). It fetches the JWKS once, then:

- answers from memory while the copy is fresher than ``max_age`` (the issuer's
  ``Cache-Control: max-age`` when it sends one, bounded to [1 min, 24 h]; else 1 hour);
- refetches when it is older (a failed refetch keeps the old keys: an IdP outage must not lock
  everybody out while their keys are still good);
- refetches at once when a token names a ``kid`` it does not know, which is how key rotation
  shows up; but at most once per ``min_refetch_interval``, so a stream of tokens with made-up
  ``kid`` values cannot turn the gateway into a load generator against the IdP.

Only keys for signatures with asymmetric algorithms are kept: a JWKS entry of type ``oct``
(a shared secret) is dropped, so a public key can never be used as an HMAC secret. Keys whose
``use`` is not ``sig`` (encryption keys) are dropped too.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey, OKPKey, RSAKey

from proctor.identity.errors import ProviderUnavailable
from proctor.identity.fetch import Fetcher, FetchError, Response, check_secure_url

log = logging.getLogger("proctor.identity")

AsymmetricKey = RSAKey | ECKey | OKPKey


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str | None
    alg: str | None  # the JWK's "alg", when it names one: the only algorithm it may verify
    key: AsymmetricKey


DEFAULT_MAX_AGE = 3600.0
MIN_MAX_AGE = 60.0
MAX_MAX_AGE = 86400.0
DEFAULT_MIN_REFETCH = 30.0

_MAX_AGE = re.compile(r"max-age=(\d+)")
_PUBLIC_MEMBERS = {
    "RSA": ("kty", "n", "e"),
    "EC": ("kty", "crv", "x", "y"),
    "OKP": ("kty", "crv", "x"),
}


@dataclass(frozen=True, slots=True)
class Discovery:
    """The parts of an OpenID Provider's metadata Proctor uses."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def fetch_discovery(fetcher: Fetcher, issuer: str, url: str | None = None) -> Discovery:
    """Fetch and check an issuer's metadata (OpenID Connect Discovery 1.0, §4.3).

    The document's ``issuer`` must equal the configured issuer exactly: otherwise a document
    served at one address could make us trust keys for another issuer.
    """
    url = url or discovery_url(issuer)
    try:
        check_secure_url(url, "the discovery URL")
        doc = fetcher.get_json(url).body
    except FetchError as exc:
        raise ProviderUnavailable(f"cannot read the discovery document of {issuer}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ProviderUnavailable(f"the discovery document of {issuer} is not a JSON object")
    if doc.get("issuer") != issuer:
        raise ProviderUnavailable(
            f"the discovery document at {url} names another issuer than {issuer}"
        )
    jwks_uri = doc.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise ProviderUnavailable(f"the discovery document of {issuer} has no jwks_uri")

    def opt(name: str) -> str | None:
        value = doc.get(name)
        return value if isinstance(value, str) else None

    return Discovery(
        issuer=issuer,
        jwks_uri=jwks_uri,
        authorization_endpoint=opt("authorization_endpoint"),
        token_endpoint=opt("token_endpoint"),
        device_authorization_endpoint=opt("device_authorization_endpoint"),
        userinfo_endpoint=opt("userinfo_endpoint"),
        end_session_endpoint=opt("end_session_endpoint"),
    )


def import_signing_keys(jwks: object) -> list[SigningKey]:
    """Every usable signature key of a JWKS document; the rest is dropped."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("a JWKS document is a JSON object with a 'keys' list")
    keys: list[SigningKey] = []
    for entry in jwks["keys"]:
        if not isinstance(entry, dict):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        kty = entry.get("kty")
        # Only the public members: a JWKS that (wrongly) publishes private parts must not
        # give us a key that can sign.
        public = {k: entry[k] for k in _PUBLIC_MEMBERS.get(str(kty), ()) if k in entry}
        try:
            key: AsymmetricKey
            if kty == "RSA":
                key = RSAKey.import_key(public)
            elif kty == "EC":
                key = ECKey.import_key(public)
            elif kty == "OKP":
                key = OKPKey.import_key(public)
            else:
                continue  # "oct" (shared secrets) and unknown types are never trusted
        except Exception as exc:  # a malformed entry is skipped, not fatal
            log.warning("jwks_key_skipped", extra={"error": type(exc).__name__})
            continue
        kid = entry.get("kid")
        alg = entry.get("alg")
        keys.append(
            SigningKey(
                kid if isinstance(kid, str) else None, alg if isinstance(alg, str) else None, key
            )
        )
    return keys


class KeySet:
    """The signature keys of one issuer, fetched lazily and refreshed as described above."""

    def __init__(
        self,
        issuer: str,
        fetcher: Fetcher | None,
        jwks_uri: str | None = None,
        static_jwks: Mapping[str, Any] | None = None,
        discovery: Callable[[], Discovery] | None = None,
        min_refetch_interval: float = DEFAULT_MIN_REFETCH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._fetcher = fetcher
        self._jwks_uri = jwks_uri
        self._discovery = discovery
        self._min_refetch = min_refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = []
        self._fetched_at: float | None = None
        self._max_age = DEFAULT_MAX_AGE
        self._last_attempt: float | None = None
        self._static = static_jwks is not None
        if static_jwks is not None:
            self._keys = import_signing_keys(static_jwks)
        self.fetches = 0  # for tests and metrics

    def keys(self) -> list[SigningKey]:
        """The current keys, fetching them if they were never fetched or have gone stale."""
        with self._lock:
            if self._static:
                return list(self._keys)
            now = self._clock()
            if self._fetched_at is None:
                self._refresh(now, must=True)
            elif now - self._fetched_at > self._max_age:
                self._refresh(now, must=False)
            return list(self._keys)

    def find(self, kid: str | None) -> list[SigningKey]:
        """Keys that may have signed a token with this ``kid`` (refetching on a miss).

        With a ``kid``: the key with that id. Without: every key, for the caller to narrow by
        algorithm (issuers with a single key often omit ``kid``).
        """
        keys = self.keys()
        if kid is None:
            return keys
        found = [key for key in keys if key.kid == kid]
        if found or self._static:
            return found
        with self._lock:
            now = self._clock()
            if self._last_attempt is not None and now - self._last_attempt < self._min_refetch:
                return []
            self._refresh(now, must=False)
            return [key for key in self._keys if key.kid == kid]

    def _refresh(self, now: float, must: bool) -> None:
        self._last_attempt = now
        try:
            response = self._fetch()
            keys = import_signing_keys(response.body)
        except (ProviderUnavailable, FetchError, ValueError) as exc:
            log.warning("jwks_fetch_failed", extra={"issuer": self.issuer, "error": str(exc)})
            if must or not self._keys:
                raise ProviderUnavailable(
                    f"cannot fetch the signing keys of {self.issuer}: {exc}"
                ) from exc
            return
        self.fetches += 1
        self._keys = keys
        self._fetched_at = now
        self._max_age = _max_age(response.headers)

    def _fetch(self) -> Response:
        if self._fetcher is None:
            raise ProviderUnavailable("no HTTP client is configured")
        uri = self._jwks_uri
        if uri is None:
            if self._discovery is None:
                raise ProviderUnavailable("neither jwks_uri nor discovery is configured")
            uri = self._discovery().jwks_uri
        check_secure_url(uri, "the JWKS URL")
        return self._fetcher.get_json(uri)


def _max_age(headers: Mapping[str, str]) -> float:
    cache_control = next((v for k, v in headers.items() if k.lower() == "cache-control"), "")
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return DEFAULT_MAX_AGE
    return min(MAX_MAX_AGE, max(MIN_MAX_AGE, float(match.group(1))))


class CachedDiscovery:
    """An issuer's discovery document, fetched once and kept for ``max_age`` seconds."""

    def __init__(
        self,
        fetcher: Fetcher | None,
        issuer: str,
        url: str | None = None,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self._issuer = issuer
        self._url = url
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._doc: Discovery | None = None
        self._at = 0.0

    def __call__(self) -> Discovery:
        with self._lock:
            now = self._clock()
            if self._doc is None or now - self._at > self._max_age:
                if self._fetcher is None:
                    raise ProviderUnavailable("no HTTP client is configured")
                try:
                    self._doc = fetch_discovery(self._fetcher, self._issuer, self._url)
                    self._at = now
                except ProviderUnavailable:
                    if self._doc is None:
                        raise
            return self._doc
