"""Change a real SAML response the way an attacker (or a broken clock) would.

Negative tests start from a response the IdP really issued, captured in the browser before it
reached the gateway, and change it: strip the signatures, edit a value without signing again,
or edit and sign again with the IdP's own key (to show that a check other than the signature
refuses it) or with a stranger's key.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import xmlsec
from lxml import etree

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}


def decode(saml_response: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(saml_response))


def encode(root: etree._Element) -> str:
    return base64.b64encode(etree.tostring(root)).decode()


def assertion(root: etree._Element) -> etree._Element:
    return root.find("saml:Assertion", NS)


def strip_signatures(root: etree._Element) -> None:
    for signature in list(root.iter(f"{{{NS['ds']}}}Signature")):
        signature.getparent().remove(signature)


def sign(element: etree._Element, key_pem: str, cert_pem: str) -> None:
    """Sign ``element`` again in place, over its existing ds:Signature template."""
    signature = element.find("ds:Signature", NS)
    assert signature is not None, "the element was not signed"
    xmlsec.tree.add_ids(element, ["ID"])
    ctx = xmlsec.SignatureContext()
    key = xmlsec.Key.from_memory(key_pem.encode(), xmlsec.constants.KeyDataFormatPem)
    key.load_cert_from_memory(cert_pem.encode(), xmlsec.constants.KeyDataFormatPem)
    ctx.key = key
    ctx.sign(signature)


def shift_times(element: etree._Element, delta: timedelta) -> None:
    """Move every timestamp in ``element`` by ``delta`` (negative: into the past)."""
    names = ("IssueInstant", "NotBefore", "NotOnOrAfter", "AuthnInstant", "SessionNotOnOrAfter")
    for node in element.iter():
        for name in names:
            value = node.get(name)
            if value:
                moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                node.set(name, (moment + delta).strftime("%Y-%m-%dT%H:%M:%SZ"))
