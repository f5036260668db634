"""People signing in through a real SAML 2.0 IdP (SimpleSAMLphp on loopback, Chromium via
Playwright): SP metadata, SP-initiated sign-in ending in a Proctor token that psql/psycopg use,
and responses the gateway must refuse (unsigned, tampered, signed by a stranger, for another
audience, expired, replayed, unsolicited) or whose RelayState it must not follow.

Refused responses are real ones the IdP issued, captured in the browser before they reached
the gateway, then changed (see ``tests/saml/forge.py``).
"""

from __future__ import annotations

import html
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from proctor.demo.pgcluster import free_port
from tests.integration.conftest import Gateway, ShopDb, eventually
from tests.integration.identity.conftest import launch_with_identity, new_page
from tests.pg import need
from tests.saml import forge
from tests.saml.idp import SamlIdp, ServiceProvider, available
from tests.saml.keys import KeyPair, self_signed

pytestmark = pytest.mark.integration

STRICT = "simplesaml"  # signed AuthnRequests, signed Response and assertion
PLAIN = "simplesaml-md"  # IdP from its metadata file, only the assertion signed


@dataclass
class SamlSetup:
    idp: SamlIdp
    gw: Gateway
    sp_keys: KeyPair

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.gw.http_port}"

    def acs(self, provider: str) -> str:
        return f"{self.base}/saml/{provider}/acs"


def identity_section(idp: SamlIdp, directory: Path, sp: KeyPair) -> dict[str, Any]:
    secrets = directory / "secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    (secrets / "idp.crt").write_text(idp.keys.cert_pem)
    (secrets / "sp.crt").write_text(sp.cert_pem)
    (secrets / "sp.key").write_text(sp.key_pem)
    (directory / "idp-metadata.xml").write_text(idp.metadata())
    groups = {"claims": ["memberOf"], "map": {"idp-dba": ["dba"]}, "keep_unmapped": True}
    return {
        # An OpenID provider next to the SAML ones (never contacted by these tests).
        "providers": [
            {
                "name": "some-oidc",
                "issuer": "http://127.0.0.1:9/oidc",
                "client_id": "proctor",
                "groups": {"claims": ["groups"]},
            }
        ],
        "saml": [
            {
                "name": STRICT,
                "idp_entity_id": idp.entity_id,
                "sso_url": idp.sso_url,
                "idp_certificate": "${file:secrets/idp.crt}",
                "sp_certificate": "${file:secrets/sp.crt}",
                "sp_private_key": "${file:secrets/sp.key}",
                "want_response_signed": True,
                "groups": groups,
                "token_ttl": "1h",
            },
            {
                "name": PLAIN,
                "idp_entity_id": idp.entity_id,
                "idp_metadata_file": "idp-metadata.xml",
                "groups": groups,
                "clock_skew": "30s",
            },
        ],
        "access": [{"connections": ["shop"], "groups": ["dba", "engineering"]}],
        "revalidate_interval": "1s",
    }


@pytest.fixture(scope="module")
def saml(shop_db: ShopDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlSetup]:
    why = available()
    need(why is None, why or "")
    root = tmp_path_factory.mktemp("saml")
    http_port = free_port()
    base = f"http://127.0.0.1:{http_port}/saml"
    sp_keys = self_signed("proctor-test-sp")
    idp = SamlIdp(
        root / "idp",
        [
            ServiceProvider(f"{base}/{STRICT}/metadata", f"{base}/{STRICT}/acs", cert=sp_keys),
            ServiceProvider(f"{base}/{PLAIN}/metadata", f"{base}/{PLAIN}/acs", sign_response=False),
        ],
    )
    idp.start()
    gw_dir = root / "gw"
    gw_dir.mkdir()
    try:
        gw = launch_with_identity(
            gw_dir, shop_db, identity_section(idp, gw_dir, sp_keys), http_port=http_port
        )
    except Exception:
        idp.stop()
        raise
    yield SamlSetup(idp, gw, sp_keys)
    gw.stop()
    idp.stop()


def sign_in_at_idp(page: Any, user: str) -> None:
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", f"{user}-password")
    page.locator("button[type=submit], input[type=submit]").first.click()


def capture(browser: Any, setup: SamlSetup, provider: str, user: str = "alice") -> dict[str, str]:
    """Sign in at the IdP in Chromium and keep the form it posts to the ACS, which the
    gateway never receives."""
    page = new_page(browser)
    captured: dict[str, str] = {}

    def keep(route: Any) -> None:
        form = urllib.parse.parse_qs(route.request.post_data or "")
        captured.update({k: v[0] for k, v in form.items()})
        route.fulfill(status=200, content_type="text/plain", body="captured")

    page.route(setup.acs(provider), keep)
    page.goto(f"{setup.base}/saml/{provider}/login")
    sign_in_at_idp(page, user)
    deadline = time.monotonic() + 30
    while "SAMLResponse" not in captured and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright run the route handler
    page.context.close()
    assert "SAMLResponse" in captured
    return captured


def post_acs(setup: SamlSetup, provider: str, form: dict[str, str]) -> tuple[int, str, Any]:
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(
        setup.acs(provider),
        data=data,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


def token_in(page_text: str) -> str:
    match = re.search(r"<pre id='token'>([^<]+)</pre>", page_text)
    assert match, page_text
    return html.unescape(match.group(1))


# -- metadata and the sign-in list ------------------------------------------------------------


def test_sp_metadata(saml: SamlSetup) -> None:
    status, text = saml.gw.http(f"/saml/{STRICT}/metadata")
    assert status == 200
    assert f'entityID="{saml.base}/saml/{STRICT}/metadata"' in text
    assert f'Location="{saml.acs(STRICT)}"' in text
    assert 'WantAssertionsSigned="true"' in text
    assert 'AuthnRequestsSigned="true"' in text
    assert saml.sp_keys.cert_body in text
    assert "PRIVATE" not in text
    status, text = saml.gw.http(f"/saml/{PLAIN}/metadata")
    assert 'AuthnRequestsSigned="false"' in text
    assert saml.gw.http("/saml/nope/metadata")[0] == 404


def test_login_lists_saml_next_to_oidc(saml: SamlSetup) -> None:
    status, text = saml.gw.http("/login")
    assert status == 200
    for name in (STRICT, PLAIN, "some-oidc"):
        assert f"/login/{name}'" in text


# -- a person signs in ------------------------------------------------------------------------


def test_browser_sign_in_then_psql(browser: Any, saml: SamlSetup) -> None:
    page = new_page(browser)
    page.goto(f"{saml.base}/login/{STRICT}")
    assert page.url.startswith(saml.idp.sso_url) or page.url.startswith(saml.idp.base_url)
    sign_in_at_idp(page, "alice")
    page.wait_for_selector("#token")
    assert page.url == saml.acs(STRICT)
    token = page.inner_text("#token").strip()
    assert token.startswith("prt_")
    assert page.inner_text("#subject") == "alice"
    assert page.inner_text("#groups") == "dba, engineering"
    page.context.close()

    with psycopg.connect(saml.gw.dsn("alice", password=token)) as conn:
        assert conn.execute("select count(*) from customers").fetchone() == (2000,)
    with saml.gw.store() as store:
        record = store.verify_token(token)
        assert record is not None
        assert record.groups == {"dba", "engineering"}
        assert record.description == f"browser sign-in via {STRICT}"
        sessions = eventually(lambda: store.list_sessions(subject="alice"))
        assert sessions[0].start.token_id == record.id


def test_second_provider_from_metadata_file(browser: Any, saml: SamlSetup) -> None:
    form = capture(browser, saml, PLAIN, user="bob")
    status, text, _ = post_acs(saml, PLAIN, form)
    assert status == 200, text
    token = token_in(text)
    with psycopg.connect(saml.gw.dsn("bob", password=token)) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


# -- what the gateway refuses -------------------------------------------------------------------


def refused(setup: SamlSetup, provider: str, form: dict[str, str], why: str) -> None:
    status, text, _ = post_acs(setup, provider, form)
    assert status == 400, text
    assert why in html.unescape(text), text
    assert "prt_" not in text


def test_replayed_assertion_is_refused(browser: Any, saml: SamlSetup) -> None:
    form = capture(browser, saml, STRICT)
    status, text, _ = post_acs(saml, STRICT, form)
    assert status == 200, text
    refused(saml, STRICT, form, "this assertion was already used")


def test_unsigned_response_is_refused(browser: Any, saml: SamlSetup) -> None:
    form = capture(browser, saml, PLAIN)
    root = forge.decode(form["SAMLResponse"])
    forge.strip_signatures(root)
    refused(saml, PLAIN, {**form, "SAMLResponse": forge.encode(root)}, "is not signed")


def test_unsigned_response_envelope_is_refused_when_required(browser: Any, saml: SamlSetup) -> None:
    # The assertion keeps its valid signature; the Response's own one is removed.
    form = capture(browser, saml, STRICT)
    root = forge.decode(form["SAMLResponse"])
    root.remove(root.find("ds:Signature", forge.NS))
    refused(saml, STRICT, {**form, "SAMLResponse": forge.encode(root)}, "response is not signed")


def test_tampered_attribute_is_refused(browser: Any, saml: SamlSetup) -> None:
    form = capture(browser, saml, PLAIN, user="bob")
    root = forge.decode(form["SAMLResponse"])
    values = root.iterfind(".//saml:Attribute[@Name='memberOf']/saml:AttributeValue", forge.NS)
    for value in values:
        value.text = "idp-dba"
    refused(saml, PLAIN, {**form, "SAMLResponse": forge.encode(root)}, "signature does not verify")


def test_signed_by_another_key_is_refused(browser: Any, saml: SamlSetup) -> None:
    form = capture(browser, saml, PLAIN)
    root = forge.decode(form["SAMLResponse"])
    stranger = self_signed("not-the-idp")
    forge.sign(forge.assertion(root), stranger.key_pem, stranger.cert_pem)
    refused(saml, PLAIN, {**form, "SAMLResponse": forge.encode(root)}, "signature does not verify")


def resigned_by_idp(saml: SamlSetup, form: dict[str, str], change: Any) -> dict[str, str]:
    """The response with ``change`` applied to its assertion, signed again with the IdP's own
    key: only the check under test can refuse it."""
    root = forge.decode(form["SAMLResponse"])
    change(root, forge.assertion(root))
    forge.sign(forge.assertion(root), saml.idp.keys.key_pem, saml.idp.keys.cert_pem)
    return {**form, "SAMLResponse": forge.encode(root)}


def test_wrong_audience_is_refused(browser: Any, saml: SamlSetup) -> None:
    def change(root: Any, assertion: Any) -> None:
        assertion.find(".//saml:Audience", forge.NS).text = "https://another-sp.example"

    form = resigned_by_idp(saml, capture(browser, saml, PLAIN), change)
    refused(saml, PLAIN, form, "for another service provider")


@pytest.mark.parametrize(
    ("shift", "why"),
    [
        (timedelta(hours=-1), "has expired"),
        # Past the 30 s skew of this provider, within python3-saml's fixed 5 minutes.
        (timedelta(minutes=-2), "has expired (clock skew allowed: 30s)"),
    ],
)
def test_expired_assertion_is_refused(
    browser: Any, saml: SamlSetup, shift: timedelta, why: str
) -> None:
    def change(root: Any, assertion: Any) -> None:
        conditions = assertion.find("saml:Conditions", forge.NS)
        # SimpleSAMLphp's assertions live 5 minutes: NotOnOrAfter moves to now + shift.
        forge.shift_times(conditions, shift - timedelta(minutes=5))
        if shift < timedelta(minutes=-5):
            forge.shift_times(assertion.find("saml:Subject", forge.NS), shift)

    form = resigned_by_idp(saml, capture(browser, saml, PLAIN), change)
    refused(saml, PLAIN, form, why)


def test_unsolicited_response_is_refused(browser: Any, saml: SamlSetup) -> None:
    form = capture(browser, saml, PLAIN)
    root = forge.decode(form["SAMLResponse"])
    del root.attrib["InResponseTo"]
    refused(saml, PLAIN, {**form, "SAMLResponse": forge.encode(root)}, "start the sign-in")


def test_response_for_another_provider_is_refused(browser: Any, saml: SamlSetup) -> None:
    form = capture(browser, saml, PLAIN)
    refused(saml, STRICT, form, "sent to another address")


# -- RelayState ----------------------------------------------------------------------------------


def test_foreign_relay_state_is_not_followed(browser: Any, saml: SamlSetup) -> None:
    form = capture(browser, saml, PLAIN)
    status, text, headers = post_acs(
        saml, PLAIN, {**form, "RelayState": "https://evil.example/steal"}
    )
    assert status == 200, text  # the sign-in itself is valid
    assert "Location" not in headers
    assert "evil.example" not in text
    assert "id='continue'" not in text


def test_local_relay_state_is_offered(browser: Any, saml: SamlSetup) -> None:
    page = new_page(browser)
    captured: dict[str, str] = {}

    def keep(route: Any) -> None:
        form = urllib.parse.parse_qs(route.request.post_data or "")
        captured.update({k: v[0] for k, v in form.items()})
        route.continue_()

    page.route(saml.acs(PLAIN), keep)
    page.goto(f"{saml.base}/saml/{PLAIN}/login?next=/whoami")
    sign_in_at_idp(page, "alice")
    page.wait_for_selector("#token")
    assert captured["RelayState"] == "/whoami"
    assert page.get_attribute("#continue", "href") == "/whoami"
    page.context.close()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_login_never_sends_a_foreign_next(saml: SamlSetup, target: str) -> None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    query = urllib.parse.urlencode({"next": target})
    url = f"{saml.base}/saml/{PLAIN}/login?{query}"
    try:
        urllib.request.build_opener(NoRedirect).open(url, timeout=5)
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
        location = exc.headers["Location"]
    assert location.startswith(saml.idp.sso_url)
    relay = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("RelayState", [""])
    assert relay == [""]
