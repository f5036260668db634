"""A minimal JWT issuer for tests: real keys, a real HTTP server on loopback.

It serves ``/.well-known/openid-configuration`` and ``/jwks`` like GitHub Actions' or a
Kubernetes cluster's issuer does, and signs whatever claims a test asks for, including the
malformed and malicious tokens the negative tests need (``alg: none``, HMAC with the public
key as secret, unknown ``kid`` ...). Keys can be rotated while it runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TestIssuer:
    __test__ = False  # not a pytest test class

    def __init__(self, issuer: str = "", audience: str = "https://proctor.test") -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys: list[RSAKey | ECKey | OKPKey] = [
            RSAKey.generate_key(2048, parameters={"kid": "k1"})
        ]
        self.jwks_requests = 0
        self._server: ThreadingHTTPServer | None = None

    # -- keys ------------------------------------------------------------------------------

    @property
    def key(self) -> RSAKey | ECKey | OKPKey:
        return self.keys[0]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(k.as_dict(private=False)) for k in self.keys]}

    def rotate(self, keep_old: bool = False) -> RSAKey:
        new = RSAKey.generate_key(2048, parameters={"kid": f"k{int(time.time() * 1000)}"})
        self.keys = [new, *self.keys] if keep_old else [new]
        return new

    # -- tokens ----------------------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "test-subject",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def github(self, **overrides: Any) -> dict[str, Any]:
        """Claims shaped like a GitHub Actions OIDC token."""
        base = {
            "sub": "repo:acme/payments:ref:refs/heads/main",
            "repository": "acme/payments",
            "repository_owner": "acme",
            "ref": "refs/heads/main",
            "workflow": "deploy",
            "event_name": "push",
            "job_workflow_ref": "acme/payments/.github/workflows/deploy.yml@refs/heads/main",
            "runner_environment": "github-hosted",
        }
        base.update(overrides)
        return self.claims(**base)

    def sign(
        self,
        claims: Mapping[str, Any],
        alg: str = "RS256",
        key: RSAKey | ECKey | OKPKey | OctKey | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        key = key or self.key
        hdr: dict[str, Any] = {"alg": alg, "typ": "JWT"}
        kid = key.kid
        if kid:
            hdr["kid"] = kid
        hdr.update(header or {})
        hdr = {k: v for k, v in hdr.items() if v is not None}
        if alg == "EdDSA" and isinstance(key, OKPKey):
            # By hand: joserfc warns on the (deprecated) EdDSA name, and warnings are errors.
            signing_input = (
                f"{b64(json.dumps(hdr).encode())}.{b64(json.dumps(dict(claims)).encode())}"
            )
            private = key.private_key
            assert isinstance(private, Ed25519PrivateKey)
            return f"{signing_input}.{b64(private.sign(signing_input.encode()))}"
        registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
        return jws.serialize_compact(hdr, json.dumps(dict(claims)).encode(), key, registry=registry)

    def sign_raw(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        """RS256 by hand, with any header at all (joserfc refuses some on purpose)."""
        key = self.key
        assert isinstance(key, RSAKey)
        private = key.private_key
        assert private is not None
        signing_input = (
            f"{b64(json.dumps(dict(header)).encode())}.{b64(json.dumps(dict(claims)).encode())}"
        )
        signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"

    def unsigned(self, claims: Mapping[str, Any]) -> str:
        header = {"alg": "none", "typ": "JWT"}
        return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(dict(claims)).encode())}."

    def hmac_with_public_key(self, claims: Mapping[str, Any]) -> str:
        """The classic confusion attack: HS256 keyed with the issuer's public key (PEM)."""
        key = self.key
        assert isinstance(key, RSAKey)
        pem = key.as_pem(private=False)
        # By hand: joserfc itself refuses to make an HMAC key from a public key.
        header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
        signing_input = (
            f"{b64(json.dumps(header).encode())}.{b64(json.dumps(dict(claims)).encode())}"
        )
        mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"

    # -- HTTP ------------------------------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[TestIssuer]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {
                        "issuer": issuer.issuer,
                        "jwks_uri": f"{issuer.issuer}/jwks",
                        "response_types_supported": ["id_token"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == "/jwks":
                    issuer.jwks_requests += 1
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server = server
        if not self.issuer:
            self.issuer = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)
