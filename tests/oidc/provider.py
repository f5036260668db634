"""Start and stop the node OpenID Provider (``server.mjs``) for a test, on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey

from proctor.demo.pgcluster import free_port

HERE = Path(__file__).resolve().parent
RESOURCE = "https://proctor.test"
WEB_CLIENT = "proctor-web"
WEB_SECRET = "web-secret-for-tests"
AGENT_CLIENT = "reporting-agent"
AGENT_SECRET = "agent-secret-for-tests"

ACCOUNTS = {
    "alice": {
        "email": "alice@acme.test",
        "name": "Alice Liddell",
        "groups": ["engineering", "dba"],
    },
    "bob": {"email": "bob@acme.test", "name": "Bob", "groups": ["engineering"]},
}


def new_key() -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"kid": f"op-{time.time_ns()}", "use": "sig"})
    return dict(key.as_dict(private=True))


@dataclass
class OidcProvider:
    directory: Path
    port: int
    redirect_uris: list[str]
    keys: list[dict[str, Any]] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "jwks": {"keys": self.keys},
            "resource": RESOURCE,
            "accounts": ACCOUNTS,
            "clients": [
                {
                    "client_id": WEB_CLIENT,
                    "client_secret": WEB_SECRET,
                    "grant_types": [
                        "authorization_code",
                        "refresh_token",
                        "urn:ietf:params:oauth:grant-type:device_code",
                    ],
                    "response_types": ["code"],
                    "redirect_uris": self.redirect_uris,
                    "token_endpoint_auth_method": "client_secret_basic",
                },
                {
                    "client_id": AGENT_CLIENT,
                    "client_secret": AGENT_SECRET,
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "redirect_uris": [],
                    "token_endpoint_auth_method": "client_secret_basic",
                },
            ],
        }

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        settings = self.directory / "settings.json"
        settings.write_text(json.dumps(self.settings()))
        log = (self.directory / "provider.log").open("ab")
        self.proc = subprocess.Popen(
            ["node", str(HERE / "server.mjs"), str(settings)],
            cwd=HERE,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NODE_ENV": "test"},
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(
                    f"{self.issuer}/.well-known/openid-configuration", timeout=2
                ) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"oidc-provider not ready:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rotate_keys(self) -> None:
        """Restart with a new signing key (the old one no longer published)."""
        self.stop()
        self.keys = [new_key()]
        self.start()

    def log(self) -> str:
        path = self.directory / "provider.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def disable(self, account: str) -> None:
        request = urllib.request.Request(f"{self.issuer}/test/disable/{account}", method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def client_credentials_token(self) -> str:
        import base64
        import urllib.parse

        data = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "db"}
        ).encode()
        auth = base64.b64encode(f"{AGENT_CLIENT}:{AGENT_SECRET}".encode()).decode()
        request = urllib.request.Request(
            f"{self.issuer}/token",
            data=data,
            headers={
                "Authorization": f"Basic {auth}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            body = json.loads(r.read())
        token = body["access_token"]
        assert isinstance(token, str)
        return token


def start_provider(directory: Path, redirect_uris: list[str] | None = None) -> OidcProvider:
    provider = OidcProvider(
        directory,
        free_port(),
        redirect_uris or ["http://127.0.0.1:9/callback"],
        [new_key()],
    )
    provider.start()
    return provider
