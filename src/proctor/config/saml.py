"""``identity.saml``: SAML 2.0 identity providers people sign in with.

```yaml
identity:
  saml:
    - name: okta-saml
      idp_entity_id: http://www.okta.com/exk1a2b3c4
      sso_url: https://acme.okta.com/app/acme_proctor_1/exk1a2b3c4/sso/saml
      idp_certificate: ${file:/etc/proctor/okta-saml.crt}
      # or: idp_metadata_file: /etc/proctor/okta-metadata.xml  (entity id, SSO URL, certs)
      email_attribute: email
      groups: {claims: [groups], map: {db-admins: [dba]}}
```

The IdP is identified by its entity id and trusted through its signing certificate(s): every
assertion must carry a valid signature by one of them. The service provider (Proctor) is
``sp_entity_id`` (default ``<public_url>/saml/<name>/metadata``), receives responses at
``<public_url>/saml/<name>/acs`` and publishes its metadata at the entity id's default URL.

``groups`` is the same mapping as for OpenID providers; its ``claims`` name SAML attributes.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Self

from cryptography import x509
from pydantic import AfterValidator, BeforeValidator, model_validator
from pydantic_core import PydanticCustomError

from proctor.config.base import HIDDEN, ConfigModel
from proctor.config.fields import ConfigPath, Text
from proctor.config.identity import (
    ClaimPath,
    ClockSkew,
    GroupsConfig,
    HttpUrl,
    PositiveDuration,
    ProviderName,
)

NAME_ID_FORMATS = {
    "unspecified": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "emailAddress": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
}
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def certificate_body(text: str) -> str:
    """The base64 DER of one certificate, from PEM or from bare base64 (as in metadata)."""
    match = _PEM_BLOCK.search(text)
    body = re.sub(r"\s+", "", match.group(1) if match else text)
    try:
        x509.load_der_x509_certificate(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        raise PydanticCustomError(
            "certificate",
            "expected an X.509 certificate: PEM (-----BEGIN CERTIFICATE-----) or its base64 body",
        ) from None
    return body


def _certificates(value: object) -> object:
    # One certificate as a string, or a list of them while the IdP rolls its key over.
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        if not value:
            raise PydanticCustomError("certificate", "expected at least one certificate")
        return tuple(certificate_body(v) if isinstance(v, str) else v for v in value)
    return value


def _name_id_format(value: str) -> str:
    if value in NAME_ID_FORMATS:
        return NAME_ID_FORMATS[value]
    if value in NAME_ID_FORMATS.values():
        return value
    raise PydanticCustomError(
        "name_id_format", f"expected one of {', '.join(NAME_ID_FORMATS)} (or its URN)"
    )


Certificates = Annotated[tuple[str, ...], BeforeValidator(_certificates)]
NameIdFormat = Annotated[Text, AfterValidator(_name_id_format)]


class IdpMetadata(ConfigModel):
    """What an IdP metadata document says about the configured entity."""

    sso_url: str
    certificates: tuple[str, ...]


def read_idp_metadata(xml: str, entity_id: str) -> IdpMetadata:
    """The SSO URL (HTTP-Redirect binding) and signing certificates of ``entity_id``.

    Raises PydanticCustomError with a message naming what is missing."""
    # Imported here: the XML stack is only needed when a metadata document is configured.
    from onelogin.saml2.constants import OneLogin_Saml2_Constants
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    try:
        parsed: dict[str, Any] = OneLogin_Saml2_IdPMetadataParser.parse(
            xml,
            required_sso_binding=OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
            entity_id=entity_id,
        )
    except Exception:  # lxml / defusedxml errors: the message would quote the document
        raise PydanticCustomError(
            "idp_metadata", "idp_metadata_file: not a SAML metadata document"
        ) from None
    idp = parsed.get("idp") or {}
    if idp.get("entityId") != entity_id:
        raise PydanticCustomError(
            "idp_metadata",
            "idp_metadata_file: no IDPSSODescriptor for entity {entity} in the document",
            {"entity": entity_id},
        )
    sso = (idp.get("singleSignOnService") or {}).get("url")
    if not sso:
        raise PydanticCustomError(
            "idp_metadata",
            "idp_metadata_file: the IdP has no SingleSignOnService with the HTTP-Redirect binding",
        )
    certs: list[str] = []
    multi = idp.get("x509certMulti") or {}
    certs.extend(multi.get("signing") or [])
    if idp.get("x509cert"):
        certs.append(idp["x509cert"])
    if not certs:
        raise PydanticCustomError(
            "idp_metadata", "idp_metadata_file: the IdP publishes no signing certificate"
        )
    return IdpMetadata(
        sso_url=sso, certificates=tuple(dict.fromkeys(certificate_body(c) for c in certs))
    )


class SamlProviderConfig(ConfigModel):
    """A SAML 2.0 identity provider (SP-initiated sign-in through the browser)."""

    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {"groups": dict}

    name: ProviderName
    idp_entity_id: Text
    # Where the IdP is and how it signs: either written here or read from its metadata.
    sso_url: HttpUrl | None = None
    idp_certificate: Certificates | None = None
    idp_metadata_file: ConfigPath | None = None
    # Proctor as a service provider. Default: <public_url>/saml/<name>/metadata.
    sp_entity_id: Text | None = None
    # Optional key pair: signs AuthnRequests and appears in Proctor's SP metadata.
    sp_certificate: Certificates | None = None
    sp_private_key: Text | None = None  # checked in _complete, where no value is quoted
    name_id_format: NameIdFormat = NAME_ID_FORMATS["unspecified"]
    # Who the person is in Proctor: the NameID (default) or the value of an attribute.
    subject_attribute: ClaimPath | None = None
    display_name_attribute: ClaimPath = "displayName"
    email_attribute: ClaimPath = "mail"
    groups: GroupsConfig
    # The assertion is always required to be signed; this also requires the Response to be.
    want_response_signed: bool = False
    clock_skew: ClockSkew = 60.0
    token_ttl: PositiveDuration = 8 * 3600.0

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.idp_metadata_file is not None:
            if self.idp_certificate is not None or self.sso_url is not None:
                raise PydanticCustomError(
                    "idp_source",
                    "idp_metadata_file names the SSO URL and certificates: leave out sso_url "
                    "and idp_certificate",
                )
            if not self.idp_metadata_file.is_file():
                raise PydanticCustomError(
                    "file_missing",
                    "idp_metadata_file: no such file: {path}",
                    {"path": str(self.idp_metadata_file)},
                )
            self.idp_metadata()  # reports what the document lacks
        elif self.sso_url is None or self.idp_certificate is None:
            raise PydanticCustomError(
                "idp_source",
                "name the IdP's sso_url and idp_certificate, or its idp_metadata_file",
            )
        if (self.sp_certificate is None) != (self.sp_private_key is None):
            raise PydanticCustomError(
                "sp_key", "sp_certificate and sp_private_key go together: give both or neither"
            )
        if self.sp_private_key is not None and "PRIVATE KEY-----" not in self.sp_private_key:
            # Reported for the entry, not the key: a field's problem quotes the value found,
            # and this one may be a secret written literally.
            raise PydanticCustomError(
                "sp_key", "sp_private_key: expected a PEM private key (-----BEGIN PRIVATE KEY-----)"
            )
        if self.sp_certificate is not None and len(self.sp_certificate) != 1:
            raise PydanticCustomError("sp_key", "sp_certificate: expected one certificate")
        if self.name_id_format == NAME_ID_FORMATS["transient"] and not self.subject_attribute:
            raise PydanticCustomError(
                "name_id_format",
                "a transient NameID changes at every sign-in and cannot name a person: set "
                "subject_attribute, or use another name_id_format",
            )
        return self

    def idp_metadata(self) -> IdpMetadata:
        """The IdP's SSO URL and certificates, from this entry or its metadata file."""
        if self.idp_metadata_file is not None:
            xml = self.idp_metadata_file.read_text(encoding="utf-8")
            return read_idp_metadata(xml, self.idp_entity_id)
        assert self.sso_url is not None and self.idp_certificate is not None
        return IdpMetadata(sso_url=self.sso_url, certificates=self.idp_certificate)

    def shown_value(self, field_name: str) -> object:
        shown = super().shown_value(field_name)
        if (
            field_name == "sp_private_key"
            and shown is not None
            and not self.uses_reference("sp_private_key")
        ):
            return HIDDEN
        return shown
