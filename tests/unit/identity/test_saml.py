"""SAML without a network: the ``identity.saml`` configuration (precise problems, secrets never
shown), SP metadata and AuthnRequests, RelayState, and the identity an assertion becomes."""

from __future__ import annotations

import base64
import textwrap
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from proctor.config import ConfigError, load_config
from proctor.identity.saml import Assertion, SamlProvider, SamlRejected
from proctor.identity.saml_signin import in_response_to, local_path
from tests.saml.keys import self_signed

from .conftest import make_config

BASE = """\
version: 1
connections:
  - name: shop
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app}
"""
IDP = self_signed("unit-idp")
SP = self_signed("unit-sp")


def write(tmp_path: Path, saml: str) -> Path:
    (tmp_path / "idp.crt").write_text(IDP.cert_pem)
    (tmp_path / "sp.crt").write_text(SP.cert_pem)
    (tmp_path / "sp.key").write_text(SP.key_pem)
    path = tmp_path / "proctor.yaml"
    path.write_text(BASE + "identity:\n  saml:\n" + textwrap.indent(textwrap.dedent(saml), "    "))
    return path


def problems(tmp_path: Path, saml: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, saml), environ={})
    return [str(p).split(": ", 1)[1] for p in caught.value.problems]


def test_a_provider_loads_with_file_references(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
            - name: okta-saml
              idp_entity_id: http://www.okta.com/exk1
              sso_url: https://acme.okta.com/app/x/sso/saml
              idp_certificate: ${file:idp.crt}
              sp_certificate: ${file:sp.crt}
              sp_private_key: ${file:sp.key}
              groups: {claims: [groups], map: {db-admins: [dba]}}
            """,
        ),
        environ={},
    )
    assert config.identity is not None
    saml = config.identity.saml[0]
    assert saml.idp_certificate == (IDP.cert_body,)
    assert saml.name_id_format.endswith(":unspecified")
    assert "PRIVATE KEY" not in repr(config)
    assert "PRIVATE KEY" not in config.fingerprint()


def test_a_literal_private_key_is_hidden(tmp_path: Path) -> None:
    identity = {
        "saml": [
            {
                "name": "x",
                "idp_entity_id": "urn:idp",
                "sso_url": "https://idp.test/sso",
                "idp_certificate": IDP.cert_pem,
                "sp_certificate": SP.cert_pem,
                "sp_private_key": SP.key_pem,
            }
        ]
    }
    config = make_config(identity, tmp_path)
    assert "PRIVATE KEY" not in repr(config)
    assert config.identity is not None
    assert config.identity.saml[0].shown_value("sp_private_key") == "<hidden>"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "- {name: a, idp_entity_id: urn:idp, sso_url: 'https://i.test/sso'}",
            "identity.saml[0]: name the IdP's sso_url and idp_certificate, or its "
            "idp_metadata_file",
        ),
        (
            "- {name: a, idp_entity_id: urn:idp, sso_url: 'https://i.test', idp_certificate: x}",
            "identity.saml[0].idp_certificate: expected an X.509 certificate",
        ),
        (
            "- {name: a, idp_entity_id: urn:idp, idp_metadata_file: missing.xml}",
            "identity.saml[0]: idp_metadata_file: no such file",
        ),
        (
            "- {name: a, idp_entity_id: urn:idp, sso_url: 'https://i.test', "
            "idp_certificate: '${file:idp.crt}', sp_certificate: '${file:sp.crt}'}",
            "identity.saml[0]: sp_certificate and sp_private_key go together",
        ),
        (
            "- {name: a, idp_entity_id: urn:idp, sso_url: 'https://i.test', "
            "idp_certificate: '${file:idp.crt}', name_id_format: transient}",
            "identity.saml[0]: a transient NameID changes at every sign-in",
        ),
        (
            "- {name: a, idp_entity_id: urn:idp, sso_url: 'https://i.test', "
            "idp_certificate: '${file:idp.crt}', name_id_format: kerberos}",
            "identity.saml[0].name_id_format: expected one of unspecified, emailAddress",
        ),
        (
            "- {name: a, idp_entity_id: urn:idp, sso_url: 'https://i.test', "
            "idp_certificate: '${file:idp.crt}', clock_skew: 1h}",
            "identity.saml[0].clock_skew: expected at most 5m",
        ),
        (
            "- {name: a, idp_entity_id: urn:idp, sso_url: 'https://i.test', "
            "idp_certificate: '${file:idp.crt}', want_assertions_signed: false}",
            "identity.saml[0].want_assertions_signed: unknown key",
        ),
    ],
)
def test_problems(tmp_path: Path, section: str, expected: str) -> None:
    found = problems(tmp_path, section)
    assert any(p.startswith(expected) for p in found), found


def test_a_bad_literal_private_key_is_not_quoted(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "- {name: a, idp_entity_id: urn:idp, sso_url: 'https://i.test', "
        "idp_certificate: '${file:idp.crt}', sp_certificate: '${file:sp.crt}', "
        "sp_private_key: hunter2}",
    )
    assert any("sp_private_key: expected a PEM private key" in p for p in found), found
    assert not any("hunter2" in p for p in found), found


def test_names_are_unique_across_oidc_and_saml(tmp_path: Path) -> None:
    identity = {
        "providers": [{"name": "okta", "issuer": "https://okta.test", "client_id": "c"}],
        "saml": [
            {
                "name": "okta",
                "idp_entity_id": "urn:idp",
                "sso_url": "https://i.test",
                "idp_certificate": IDP.cert_pem,
            }
        ],
    }
    with pytest.raises(ValueError, match="duplicate provider name 'okta'"):
        make_config(identity, tmp_path)


def test_metadata_file(tmp_path: Path) -> None:
    xml = f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
      xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="urn:idp">
      <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
        <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
          <ds:X509Certificate>{IDP.cert_body}</ds:X509Certificate>
        </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
        <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
          Location="https://idp.test/sso"/>
      </md:IDPSSODescriptor></md:EntityDescriptor>"""
    (tmp_path / "md.xml").write_text(xml)
    config = load_config(
        write(tmp_path, "- {name: a, idp_entity_id: urn:idp, idp_metadata_file: md.xml}"),
        environ={},
    )
    assert config.identity is not None
    meta = config.identity.saml[0].idp_metadata()
    assert (meta.sso_url, meta.certificates) == ("https://idp.test/sso", (IDP.cert_body,))
    found = problems(tmp_path, "- {name: a, idp_entity_id: urn:other, idp_metadata_file: md.xml}")
    assert any("no IDPSSODescriptor for entity urn:other" in p for p in found), found


# -- the provider at run time ---------------------------------------------------------------------


def provider(tmp_path: Path, **extra: object) -> SamlProvider:
    entry = {
        "name": "idp",
        "idp_entity_id": "urn:idp",
        "sso_url": "https://idp.test/sso",
        "idp_certificate": IDP.cert_pem,
        "groups": {"claims": ["memberOf"], "map": {"idp-dba": ["dba"]}},
        **extra,
    }
    config = make_config({"saml": [entry]}, tmp_path)
    assert config.identity is not None
    return SamlProvider(config.identity.saml[0], "https://proctor.test/")


def test_metadata_and_authn_request(tmp_path: Path) -> None:
    p = provider(tmp_path, sp_certificate=SP.cert_pem, sp_private_key=SP.key_pem)
    assert p.acs_url == "https://proctor.test/saml/idp/acs"
    xml = p.metadata()
    assert 'entityID="https://proctor.test/saml/idp/metadata"' in xml
    assert 'WantAssertionsSigned="true"' in xml and 'AuthnRequestsSigned="true"' in xml
    url, request_id = p.authn_request("/whoami")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://idp.test/sso?")
    assert query["RelayState"] == ["/whoami"] and "Signature" in query
    request = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    assert f'ID="{request_id}"' in request
    assert 'AssertionConsumerServiceURL="https://proctor.test/saml/idp/acs"' in request


def test_garbage_is_refused_without_a_crash(tmp_path: Path) -> None:
    p = provider(tmp_path)
    for junk in ("", "not base64!", base64.b64encode(b"<a>").decode(), "A" * 300_000):
        with pytest.raises(SamlRejected):
            p.validate(junk, "ONELOGIN_x")
        assert in_response_to(junk) is None
    entity = base64.b64encode(
        b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r InResponseTo="&e;"/>'
    ).decode()
    assert in_response_to(entity) is None
    with pytest.raises(SamlRejected):
        p.validate(entity, "x")


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("/whoami", True),
        ("/login?x=1", True),
        ("https://evil.test/", False),
        ("//evil.test/", False),
        ("/\\evil.test", False),
        ("/a b", False),
        ("/a\nb", False),
        ("javascript:alert(1)", False),
        ("", False),
        (None, False),
    ],
)
def test_local_path(value: str | None, kept: bool) -> None:
    assert local_path(value) == (value if kept else None)


def assertion(**attributes: list[str]) -> Assertion:
    from datetime import UTC, datetime

    return Assertion("urn:idp", "_a1", datetime.now(UTC), "alice", None, attributes)


def test_identity_from_an_assertion(tmp_path: Path) -> None:
    p = provider(tmp_path)
    resolved = p.resolve(
        assertion(memberOf=["idp-dba", "other"], displayName=["Alice"], mail=["a@acme.test"])
    )
    identity = resolved.identity
    assert (identity.subject, identity.issuer) == ("alice", "urn:idp")
    assert identity.groups == {"dba"}  # with a map, unmapped groups are dropped
    assert (identity.display_name, identity.email) == ("Alice", "a@acme.test")
    assert identity.claims["provider"] == "idp"


def test_subject_from_an_attribute(tmp_path: Path) -> None:
    p = provider(tmp_path, subject_attribute="mail")
    assert p.resolve(assertion(mail=["a@acme.test"])).identity.subject == "a@acme.test"
    with pytest.raises(SamlRejected, match="no single 'mail'"):
        p.resolve(assertion(mail=["a@acme.test", "b@acme.test"]))
    with pytest.raises(SamlRejected, match="not usable"):
        p.resolve(assertion(mail=["alice smith"]))
