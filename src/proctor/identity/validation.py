"""Strict validation of a JWT from a trusted issuer.

Order matters, and each step refuses with its own reason:

1. Shape: three base64url parts, a JSON header and a JSON object payload, at most 16 KiB.
2. Header: ``alg`` must be on the issuer's allow-list, which only ever holds asymmetric
   algorithms (RS*, PS*, ES*, EdDSA): ``none`` and HMAC (``HS*``) are refused before any key is
   looked at, so a token cannot make us verify an HMAC with a public key as its secret.
   ``crit`` extensions are refused (we implement none). Header-supplied keys (``jwk``, ``jku``,
   ``x5u``, ``x5c``) are ignored: keys come only from the issuer's JWKS.
3. Key: by ``kid`` from the issuer's key set (an unknown ``kid`` triggers one rate-limited
   refetch, see ``keys``); the key's type must fit the algorithm, and a JWK that names an
   ``alg`` verifies only that one.
4. Signature.
5. Claims: ``iss`` equals the configured issuer exactly; ``aud`` contains an accepted
   audience; ``exp`` is required and in the future, ``nbf`` (if any) in the past and ``iat``
   (if any; required with a lifetime limit) not in the future, each with the configured clock
   skew; ``sub`` is required;
   ``nonce`` equals the expected one when the caller has one (sign-in callbacks).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry, extract_compact, validate_compact

from proctor.identity.errors import TokenRejected
from proctor.identity.keys import KeySet, SigningKey

MAX_TOKEN_SIZE = 16 * 1024

RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGS = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
OKP_ALGS = frozenset({"EdDSA", "Ed25519"})
ASYMMETRIC_ALGS = frozenset(RSA_ALGS | set(EC_ALGS) | OKP_ALGS)
DEFAULT_ALGS = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")

DEFAULT_SKEW = 60.0


def looks_like_jwt(text: str) -> bool:
    """Cheap shape check: three dot-separated base64url parts, the first a JSON object."""
    if len(text) > MAX_TOKEN_SIZE or text.count(".") != 2:
        return False
    return text.startswith("eyJ")


def _b64json(part: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise TokenRejected("malformed", f"the token's {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise TokenRejected("malformed", f"the token's {what} is not a JSON object")
    return value


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload, NOT verified: only for choosing which issuer's rules apply."""
    if len(token) > MAX_TOKEN_SIZE:
        raise TokenRejected("malformed", "the token is too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("malformed", "the token is not a signed JWT (three parts)")
    return _b64json(parts[0], "header"), _b64json(parts[1], "payload")


@dataclass(frozen=True)
class ValidationRules:
    """What one trusted issuer's tokens must satisfy."""

    issuer: str
    audiences: frozenset[str]
    algorithms: frozenset[str] = frozenset(DEFAULT_ALGS)
    clock_skew: float = DEFAULT_SKEW
    # Longest accepted lifetime (exp - iat); None: any. Workload tokens are short-lived.
    max_lifetime: float | None = None
    # Accepted "typ" header values (case-insensitive); empty: any.
    token_types: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unsafe = self.algorithms - ASYMMETRIC_ALGS
        if unsafe:
            raise ValueError(f"not asymmetric signature algorithms: {', '.join(sorted(unsafe))}")
        if not self.audiences:
            raise ValueError("at least one accepted audience is required")


class JwtValidator:
    def __init__(
        self, rules: ValidationRules, keys: KeySet, clock: Callable[[], float] = time.time
    ) -> None:
        self.rules = rules
        self.keys = keys
        self._clock = clock

    def validate(self, token: str, nonce: str | None = None) -> dict[str, Any]:
        """The verified claims, or TokenRejected / ProviderUnavailable."""
        header, _ = unverified_parts(token)
        alg = self._check_header(header)
        key = self._choose_key(header.get("kid"), alg)
        claims = self._verify_signature(token, key, alg)
        self._check_claims(claims, nonce)
        return claims

    def _check_header(self, header: Mapping[str, Any]) -> str:
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise TokenRejected("bad_algorithm", "the token names no signature algorithm")
        if alg.lower() == "none":
            raise TokenRejected("bad_algorithm", "unsigned tokens (alg none) are never accepted")
        if alg.upper().startswith("HS"):
            raise TokenRejected(
                "bad_algorithm", f"shared-secret algorithms ({alg}) are never accepted"
            )
        if alg not in self.rules.algorithms:
            allowed = ", ".join(sorted(self.rules.algorithms))
            raise TokenRejected(
                "bad_algorithm", f"algorithm {alg} is not accepted for this issuer ({allowed})"
            )
        if header.get("crit"):
            raise TokenRejected("bad_header", "the token has critical extensions (crit)")
        typ = header.get("typ")
        if self.rules.token_types and (
            not isinstance(typ, str) or typ.lower() not in self.rules.token_types
        ):
            raise TokenRejected("bad_header", "the token's type (typ) is not accepted here")
        return alg

    def _choose_key(self, kid: object, alg: str) -> SigningKey:
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("bad_header", "the token's key id (kid) is not a string")
        candidates = [k for k in self.keys.find(kid) if _fits(k, alg)]
        if kid is not None and not candidates:
            raise TokenRejected(
                "unknown_key", "the token is signed with a key the issuer does not publish"
            )
        if not candidates:
            raise TokenRejected("unknown_key", f"the issuer publishes no {alg} key")
        if len(candidates) > 1:
            raise TokenRejected(
                "unknown_key",
                "the token names no key id (kid) and the issuer publishes several keys",
            )
        return candidates[0]

    def _verify_signature(self, token: str, key: SigningKey, alg: str) -> dict[str, Any]:
        if isinstance(key.key, OKPKey):
            valid, payload = _verify_eddsa(token, key.key)
        else:
            # The registry allows exactly the algorithm we already checked; extra header
            # members (x5t, custom ones) are tolerated since we never act on them.
            registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
            try:
                obj = extract_compact(token.encode("ascii"), registry=registry)
                valid = validate_compact(obj, key.key, algorithms=[alg], registry=registry)
                payload = obj.payload
            except (JoseError, ValueError, UnicodeError):
                valid, payload = False, b""
        if not valid:
            raise TokenRejected("bad_signature", "the token's signature is not valid")
        try:
            claims = json.loads(payload)
        except ValueError:
            raise TokenRejected("malformed", "the token's payload is not JSON") from None
        if not isinstance(claims, dict):
            raise TokenRejected("malformed", "the token's payload is not a JSON object")
        return claims

    def _check_claims(self, claims: Mapping[str, Any], nonce: str | None) -> None:
        rules = self.rules
        if claims.get("iss") != rules.issuer:
            raise TokenRejected("wrong_issuer", "the token was issued by another issuer")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a in rules.audiences for a in audiences):
            raise TokenRejected("wrong_audience", "the token is not meant for Proctor (aud)")
        now = self._clock()
        skew = rules.clock_skew
        exp = _number(claims, "exp", required=True)
        assert exp is not None
        if now >= exp + skew:
            raise TokenRejected("expired", "the token has expired")
        nbf = _number(claims, "nbf", required=False)
        if nbf is not None and now < nbf - skew:
            raise TokenRejected("not_yet_valid", "the token is not valid yet (nbf)")
        # iat is optional (SPIFFE JWT-SVIDs may omit it) unless a lifetime limit needs it.
        iat = _number(claims, "iat", required=rules.max_lifetime is not None)
        if iat is not None and iat > now + skew:
            raise TokenRejected("not_yet_valid", "the token was issued in the future (iat)")
        if (
            rules.max_lifetime is not None
            and iat is not None
            and exp - iat > rules.max_lifetime + skew
        ):
            raise TokenRejected("too_long_lived", "the token's lifetime is longer than accepted")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenRejected("malformed", "the token has no subject (sub)")
        if nonce is not None and claims.get("nonce") != nonce:
            raise TokenRejected("bad_nonce", "the token's nonce does not match the sign-in")


def _verify_eddsa(token: str, key: OKPKey) -> tuple[bool, bytes]:
    """Ed25519/Ed448 directly with ``cryptography``: joserfc warns on the ``EdDSA`` name
    (deprecated by RFC 9864 in favour of ``Ed25519``), and both names sign the same bytes."""
    head, payload, signature = token.split(".")
    try:
        raw_sig = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        raw_payload = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        public = key.public_key
        if not isinstance(public, Ed25519PublicKey | Ed448PublicKey):
            return False, b""
        public.verify(raw_sig, f"{head}.{payload}".encode("ascii"))
    except (InvalidSignature, binascii.Error, ValueError, UnicodeError):
        return False, b""
    return True, raw_payload


def _fits(key: SigningKey, alg: str) -> bool:
    if key.alg is not None and key.alg != alg:
        return False
    k = key.key
    if alg in RSA_ALGS:
        return isinstance(k, RSAKey)
    if alg in EC_ALGS:
        return isinstance(k, ECKey) and k.curve_name == EC_ALGS[alg]
    if alg == "Ed25519":
        return isinstance(k, OKPKey) and k.curve_name == "Ed25519"
    if alg == "EdDSA":
        return isinstance(k, OKPKey) and k.curve_name in ("Ed25519", "Ed448")
    return False


def _number(claims: Mapping[str, Any], name: str, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise TokenRejected("malformed", f"the token has no {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected("malformed", f"the token's {name} claim is not a number")
    return float(value)


def audiences_of(claims: Mapping[str, Any]) -> Collection[str]:
    aud = claims.get("aud")
    items = aud if isinstance(aud, list) else [aud]
    return [a for a in items if isinstance(a, str)]
