"""Gateways with an ``identity:`` section, a JWT test issuer, and panva's oidc-provider.

Everything runs for real on loopback: the gateway as its own process, the test issuer as an
HTTP server serving its JWKS, the OpenID Provider as a node process (``tests/oidc``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from proctor.demo.pgcluster import free_port
from tests.browser import browser  # noqa: F401 - the fixture, for this folder's tests
from tests.integration.conftest import ALLOW_ALL_POLICY, Gateway, ShopDb, write_config
from tests.oidc.issuer import TestIssuer
from tests.oidc.provider import OidcProvider, start_provider
from tests.pg import need

GH_AUDIENCE = "https://proctor.test"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def launch_with_identity(
    directory: Path,
    shop: ShopDb,
    identity: dict[str, Any],
    http_port: int | None = None,
    **gateway: Any,
) -> Gateway:
    port, http_port = free_port(), http_port or free_port()
    write_config(directory, shop, port, http_port, policy=ALLOW_ALL_POLICY, **gateway)
    path = directory / "proctor.yaml"
    config = yaml.safe_load(path.read_text())
    config["identity"] = identity
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with (directory / "gateway.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proctor", "gateway", "--config", str(path)],
            cwd=directory,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    gw = Gateway(directory, port, http_port, proc)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited ({proc.returncode}):\n{gw.log()[-3000:]}")
        try:
            if gw.http("/readyz")[0] == 200:
                return gw
        except OSError:
            pass
        if time.monotonic() > deadline:
            gw.stop()
            raise RuntimeError(f"gateway not ready:\n{gw.log()[-3000:]}")
        time.sleep(0.1)


def post_form(url: str, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    data = urllib.parse.urlencode(form, doseq=True).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def exchange(gw: Gateway, token: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": token,
        "subject_token_type": JWT_TYPE,
        **extra,
    }
    return post_form(f"http://127.0.0.1:{gw.http_port}/oauth/token", form)


def github_workload(issuer: TestIssuer, **extra: Any) -> dict[str, Any]:
    entry = {
        "name": "github-actions",
        "issuer": issuer.issuer,
        "audiences": [GH_AUDIENCE],
        "jwks_refetch_interval": "1s",
        "rules": [
            {
                "match": {"repository": "acme/payments", "ref": "refs/heads/main"},
                "subject": "ci:payments-deploy",
                "groups": ["ci"],
            }
        ],
    }
    entry.update(extra)
    return entry


@pytest.fixture(scope="session")
def gh_issuer() -> Iterator[TestIssuer]:
    with TestIssuer(audience=GH_AUDIENCE).serve() as issuer:
        yield issuer


@dataclass
class IdentityGateways:
    shop: ShopDb
    root: Path
    started: list[Gateway]

    def start(self, identity: dict[str, Any], **gateway: Any) -> Gateway:
        directory = self.root / f"gw{len(self.started)}"
        directory.mkdir()
        gw = launch_with_identity(directory, self.shop, identity, **gateway)
        self.started.append(gw)
        return gw


@pytest.fixture
def identity_gateway(shop_db: ShopDb, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    gateways = IdentityGateways(shop_db, tmp_path, [])
    yield gateways.start
    for gw in gateways.started:
        gw.stop()


@pytest.fixture(scope="module")
def workload_gateway(
    shop_db: ShopDb, gh_issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """One gateway trusting the GitHub-shaped test issuer, shared by a module's tests."""
    gw = launch_with_identity(
        tmp_path_factory.mktemp("identity-gw"), shop_db, {"workload": [github_workload(gh_issuer)]}
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def node_ready() -> None:
    need(shutil.which("node") is not None, "node is not installed (apt-get install nodejs)")
    here = Path(__file__).resolve().parents[2] / "oidc"
    need(
        (here / "node_modules" / "oidc-provider").is_dir(),
        "oidc-provider is not installed: run scripts/oidc-provider-deps.sh",
    )


@pytest.fixture
def oidc_provider(node_ready: None, tmp_path: Path) -> Iterator[Callable[..., OidcProvider]]:
    started: list[OidcProvider] = []

    def start(**kw: Any) -> OidcProvider:
        provider = start_provider(tmp_path / f"op{len(started)}", **kw)
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.stop()


def new_page(chromium: Any) -> Any:
    context = chromium.new_context()
    # Only loopback: the provider's pages link a web font, and tests never leave the machine.
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    return context.new_page()
