"""A SAML 2.0 identity provider, seen from Proctor as the service provider (python3-saml).

Theory of operation. Proctor only does SP-initiated sign-in with the HTTP-Redirect binding for
the AuthnRequest and HTTP-POST for the Response. ``SamlProvider`` builds python3-saml settings
once (strict mode), makes AuthnRequests, publishes SP metadata and validates Responses.

python3-saml checks the XML schema, the signature (against the configured certificates only;
keys inside the document are ignored), that exactly one assertion is present and is the
signed one, the issuer, status, audience, destination and subject confirmation. It is
lenient in places, so ``validate`` adds, on the signed assertion python3-saml picked:

- the assertion must be signed (``wantAssertionsSigned``; the Response too when configured);
  SHA-1 signatures and digests are refused (``rejectDeprecatedAlgorithm``);
- ``Destination`` present and equal to our ACS URL; an ``Audience`` present and equal to our
  entity id (python3-saml accepts a missing one);
- a bearer ``SubjectConfirmationData`` whose ``Recipient`` is exactly our ACS URL, whose
  ``InResponseTo`` is the id of the AuthnRequest this browser started, and which has a
  ``NotOnOrAfter`` (so every accepted assertion has an end, which bounds the replay cache);
- ``Conditions`` ``NotBefore``/``NotOnOrAfter`` with the provider's ``clock_skew`` (python3-saml
  allows a fixed 5 minutes; ours is at most that).

The replay cache (one use per assertion id) is the caller's job: it needs the store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Const
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from proctor.config.saml import SamlProviderConfig
from proctor.identity.claims import claim_at, claim_strings
from proctor.identity.errors import TokenRejected
from proctor.identity.groups import SAFE_SUBJECT, GroupMapper, string_or_none
from proctor.identity.issuers import Resolved
from proctor.model import Identity

log = logging.getLogger("proctor.identity")

# A base64 Response larger than this is refused before it is parsed.
MAX_RESPONSE = 256 * 1024

# python3-saml's messages for these codes can quote values from the response; ours do not.
_E = OneLogin_Saml2_ValidationError
_REASONS: dict[int, tuple[str, str]] = {
    _E.NO_SIGNED_ASSERTION: ("unsigned", "the assertion is not signed"),
    _E.NO_SIGNED_MESSAGE: ("unsigned", "the response is not signed"),
    _E.NO_SIGNATURE_FOUND: ("unsigned", "the response carries no signature"),
    _E.INVALID_SIGNATURE: ("bad_signature", "the signature does not verify"),
    _E.WRONG_AUDIENCE: ("wrong_audience", "the assertion is for another service provider"),
    _E.WRONG_DESTINATION: ("wrong_destination", "the response was sent to another address"),
    _E.WRONG_ISSUER: ("wrong_issuer", "the response is from another identity provider"),
    _E.ASSERTION_EXPIRED: ("expired", "the assertion has expired"),
    _E.ASSERTION_TOO_EARLY: ("not_yet_valid", "the assertion is not valid yet"),
    _E.SESSION_EXPIRED: ("expired", "the identity provider's session has expired"),
    _E.WRONG_SUBJECTCONFIRMATION: (
        "bad_subject_confirmation",
        "no valid subject confirmation (wrong recipient, request or time)",
    ),
    _E.WRONG_INRESPONSETO: ("wrong_request", "the response answers another sign-in"),
    _E.STATUS_CODE_IS_NOT_SUCCESS: ("refused", "the identity provider refused the sign-in"),
    _E.WRONG_NUMBER_OF_ASSERTIONS: ("malformed", "the response must hold exactly one assertion"),
    _E.INVALID_XML_FORMAT: ("malformed", "the response is not valid SAML"),
    _E.DEPRECATED_SIGNATURE_METHOD: ("weak_signature", "SHA-1 signatures are not accepted"),
    _E.DEPRECATED_DIGEST_METHOD: ("weak_signature", "SHA-1 digests are not accepted"),
}


class SamlRejected(TokenRejected):
    """A SAML response failed validation. ``reason`` is short and machine-readable."""


@dataclass(frozen=True)
class Assertion:
    """What a validated response says: who, which attributes, and the assertion's identity
    for the replay cache (id and the time after which it can no longer be used anyway)."""

    issuer: str
    assertion_id: str
    expires_at: datetime
    name_id: str
    name_id_format: str | None
    attributes: Mapping[str, list[str]]


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(text), UTC)


class SamlProvider:
    kind = "saml"

    def __init__(self, config: SamlProviderConfig, public_url: str) -> None:
        self.config = config
        self.name = config.name
        self.issuer = config.idp_entity_id
        base = f"{public_url.rstrip('/')}/saml/{config.name}"
        self.acs_url = f"{base}/acs"
        self.metadata_url = f"{base}/metadata"
        self.sp_entity_id = config.sp_entity_id or self.metadata_url
        idp = config.idp_metadata()
        self.settings = OneLogin_Saml2_Settings(self._settings(idp.sso_url, idp.certificates))
        self._groups = GroupMapper(config.groups)
        parts = urlsplit(self.acs_url)
        # python3-saml rebuilds "the URL this request arrived at" from these; we give it the
        # configured public URL, so a Host header cannot change what Destination must be.
        self._request_data: dict[str, Any] = {
            "https": "on" if parts.scheme == "https" else "off",
            "http_host": parts.netloc,
            "script_name": parts.path,
            "get_data": {},
            "post_data": {},
        }

    def _settings(self, sso_url: str, certificates: tuple[str, ...]) -> dict[str, Any]:
        cfg = self.config
        signs = cfg.sp_private_key is not None
        sp: dict[str, Any] = {
            "entityId": self.sp_entity_id,
            "assertionConsumerService": {"url": self.acs_url, "binding": Const.BINDING_HTTP_POST},
            "NameIDFormat": cfg.name_id_format,
        }
        if signs:
            assert cfg.sp_certificate is not None
            sp["x509cert"] = cfg.sp_certificate[0]
            sp["privateKey"] = cfg.sp_private_key
        idp: dict[str, Any] = {
            "entityId": cfg.idp_entity_id,
            "singleSignOnService": {"url": sso_url, "binding": Const.BINDING_HTTP_REDIRECT},
            "x509certMulti": {"signing": list(certificates)},
        }
        return {
            "strict": True,
            "debug": False,
            "sp": sp,
            "idp": idp,
            "security": {
                "authnRequestsSigned": signs,
                "wantAssertionsSigned": True,
                "wantMessagesSigned": cfg.want_response_signed,
                "wantNameId": True,
                "wantAttributeStatement": False,
                "requestedAuthnContext": False,  # the IdP decides how people authenticate
                "signMetadata": False,
                "rejectDeprecatedAlgorithm": True,
                "signatureAlgorithm": Const.RSA_SHA256,
                "digestAlgorithm": Const.SHA256,
                "allowRepeatAttributeName": True,
            },
        }

    # -- the service provider's side ------------------------------------------------------

    def metadata(self) -> str:
        xml = self.settings.get_sp_metadata()
        errors = self.settings.validate_metadata(xml)
        if errors:  # our own settings made it: a bug, not a client's mistake
            raise RuntimeError(f"SP metadata for {self.name} is invalid: {errors}")
        return xml.decode() if isinstance(xml, bytes) else str(xml)

    def authn_request(self, relay_state: str) -> tuple[str, str]:
        """(URL to send the browser to, the AuthnRequest's id)."""
        auth = OneLogin_Saml2_Auth(dict(self._request_data), self.settings)
        url = auth.login(return_to=relay_state)
        return str(url), str(auth.get_last_request_id())

    # -- validating a response ------------------------------------------------------------

    def validate(
        self, saml_response: str, request_id: str, now: datetime | None = None
    ) -> Assertion:
        """Validate a base64 SAMLResponse answering AuthnRequest ``request_id``."""
        if len(saml_response) > MAX_RESPONSE:
            raise SamlRejected("malformed", "the SAML response is too large")
        try:
            response = OneLogin_Saml2_Response(self.settings, saml_response)
        except Exception:  # not base64, not XML, a DTD or entity (refused by the parser)
            raise SamlRejected("malformed", "the SAML response cannot be read") from None
        try:
            response.is_valid(dict(self._request_data), request_id, raise_exceptions=True)
        except OneLogin_Saml2_ValidationError as exc:
            reason, message = _REASONS.get(exc.code, ("invalid", "the SAML response is invalid"))
            log.info("saml_rejected", extra={"provider": self.name, "detail": str(exc)[:300]})
            raise SamlRejected(reason, message) from None
        except Exception as exc:  # xmlsec / lxml failures on hostile input
            log.info("saml_rejected", extra={"provider": self.name, "detail": repr(exc)[:300]})
            raise SamlRejected("invalid", "the SAML response is invalid") from None
        return self._stricter(response, request_id, now or datetime.now(UTC))

    def _stricter(self, response: Any, request_id: str, now: datetime) -> Assertion:
        document = response.document
        if document.get("Destination") != self.acs_url:
            raise SamlRejected("wrong_destination", "the response was sent to another address")
        if self.sp_entity_id not in response.get_audiences():
            raise SamlRejected("wrong_audience", "the assertion is not restricted to Proctor")
        skew = timedelta(seconds=self.config.clock_skew)
        # _query_assertion reads the signed assertion python3-saml validated, never another
        # element with the same shape elsewhere in the document (signature wrapping).
        for conditions in response._query_assertion("/saml:Conditions"):
            not_before = _parse_time(conditions.get("NotBefore"))
            not_after = _parse_time(conditions.get("NotOnOrAfter"))
            allowed = f"(clock skew allowed: {self.config.clock_skew:g}s)"
            if not_before is not None and not_before - skew > now:
                raise SamlRejected("not_yet_valid", f"the assertion is not valid yet {allowed}")
            if not_after is not None and not_after + skew <= now:
                raise SamlRejected("expired", f"the assertion has expired {allowed}")
        ends: list[datetime] = []
        bearer = f"/saml:Subject/saml:SubjectConfirmation[@Method='{Const.CM_BEARER}']"
        for data in response._query_assertion(f"{bearer}/saml:SubjectConfirmationData"):
            until = _parse_time(data.get("NotOnOrAfter"))
            if (
                data.get("Recipient") == self.acs_url
                and data.get("InResponseTo") == request_id
                and until is not None
                and until > now
            ):
                ends.append(until)
        if not ends:
            raise SamlRejected(
                "bad_subject_confirmation",
                "no bearer subject confirmation for this sign-in (recipient, request, expiry)",
            )
        name_id = response.get_nameid()
        if not isinstance(name_id, str) or not name_id:
            raise SamlRejected("no_subject", "the assertion has no NameID")
        attributes = {
            str(k): [str(v) for v in values if isinstance(v, str)]
            for k, values in (response.get_attributes() or {}).items()
        }
        return Assertion(
            issuer=self.issuer,
            assertion_id=str(response.get_assertion_id()),
            expires_at=max(ends) + skew,
            name_id=name_id,
            name_id_format=response.get_nameid_format(),
            attributes=attributes,
        )

    # -- from an assertion to a Proctor identity ---------------------------------------------

    def claims(self, assertion: Assertion) -> dict[str, Any]:
        """What group rules and attribute names look at: the attributes by name, plus the
        NameID as ``name_id`` (one value per attribute stays a one-item list)."""
        return {**assertion.attributes, "name_id": assertion.name_id}

    def resolve(self, assertion: Assertion) -> Resolved:
        cfg = self.config
        claims = self.claims(assertion)
        if cfg.subject_attribute is not None:
            subjects = claim_strings(claims, cfg.subject_attribute)
            if len(subjects) != 1:
                raise SamlRejected(
                    "no_subject",
                    f"the assertion has no single {cfg.subject_attribute!r} attribute to name "
                    "the user",
                )
            subject = subjects[0]
        else:
            subject = assertion.name_id
        if not SAFE_SUBJECT.fullmatch(subject):
            raise SamlRejected("no_subject", "the assertion's user name is not usable in Proctor")
        identity = Identity(
            subject=subject,
            groups=frozenset(self._groups.groups(claims)),
            issuer=self.issuer,
            display_name=_first(claim_at(claims, cfg.display_name_attribute)),
            email=_first(claim_at(claims, cfg.email_attribute)),
            claims={
                "iss": self.issuer,
                "sub": assertion.name_id,
                "provider": self.name,
                "saml_assertion_id": assertion.assertion_id,
            },
        )
        return Resolved(identity, self.name, cfg.token_ttl, frozenset(), claims)


def _first(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    return string_or_none(value)
