"""People signing in through a SAML 2.0 identity provider (SP-initiated, browser).

``begin()`` makes an AuthnRequest and keeps its id in the store for 10 minutes (any worker may
receive the response): the same ``login_states`` rows the OIDC sign-in uses, keyed by the
request id instead of ``state``, with the RelayState we sent where OIDC keeps its nonce.
``complete()`` validates the response (``SamlProvider.validate``), burns the assertion id in
the replay cache, takes the sign-in back (once) and issues a Proctor token, exactly like the
OIDC browser sign-in.

The replay cache is checked before the sign-in is taken: a response posted a second time is
refused as a replay even though its sign-in is gone, and an assertion id is burnt as soon as
a valid signature carried it, whatever happens next.

RelayState is not signed and comes back through the browser, so it is never trusted to say
where to go: it must equal what this sign-in sent, and what we send is only ever a local path
(``/…``, not ``//host`` or ``/\\host``). Anything else is dropped, never followed.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from datetime import timedelta

from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from proctor.identity.exchange import OAuthError, TokenMinter
from proctor.identity.saml import MAX_RESPONSE, SamlProvider, SamlRejected
from proctor.identity.signin import SignedIn
from proctor.store.identities import IdentityStore

log = logging.getLogger("proctor.identity")

LOGIN_STATE_TTL = timedelta(minutes=10)
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,500}")


def local_path(value: str | None) -> str | None:
    """``value`` when it is a path on this gateway (no scheme, host, backslash or control
    characters), else None."""
    if value and _LOCAL_PATH.fullmatch(value):
        return value
    return None


def in_response_to(saml_response: str) -> str | None:
    """The (unverified) InResponseTo of a base64 Response: which sign-in it claims to answer.

    Only used to look the sign-in up; the signed assertion must name the same request."""
    if len(saml_response) > MAX_RESPONSE:
        return None
    try:
        # python3-saml's parser: no DTDs, no entities, no network.
        root = OneLogin_Saml2_XML.to_etree(base64.b64decode(saml_response, validate=False))
    except Exception:  # not base64, not XML, a DTD or an entity: nothing to look up
        return None
    value = root.get("InResponseTo")
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


class SamlSignIn:
    def __init__(
        self, providers: Mapping[str, SamlProvider], minter: TokenMinter, states: IdentityStore
    ) -> None:
        self.providers = dict(providers)
        self._minter = minter
        self._states = states

    def provider(self, name: str) -> SamlProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise OAuthError("invalid_request", f"no SAML identity provider named {name!r}", 404)
        return provider

    def begin(self, provider_name: str, next_path: str | None = None) -> str:
        """The IdP's sign-in URL (with a fresh AuthnRequest) to send the browser to."""
        provider = self.provider(provider_name)
        relay = local_path(next_path) or ""
        url, request_id = provider.authn_request(relay)
        self._states.save_login_state(
            request_id, provider.name, relay, "", provider.acs_url, LOGIN_STATE_TTL
        )
        return url

    def complete(
        self, provider_name: str, saml_response: str | None, relay_state: str | None
    ) -> tuple[SignedIn, str | None]:
        """The Proctor token for a valid response, and the local path to offer next."""
        provider = self.provider(provider_name)
        if not saml_response:
            raise OAuthError("invalid_request", "the request carries no SAMLResponse")
        request_id = in_response_to(saml_response)
        if request_id is None:
            # IdP-initiated (unsolicited) responses are not accepted: nothing would tie the
            # assertion to a browser that asked for it.
            raise OAuthError("invalid_request", f"start the sign-in at /saml/{provider.name}/login")
        try:
            assertion = provider.validate(saml_response, request_id)
        except SamlRejected as exc:
            raise OAuthError("invalid_grant", f"the SAML response was refused: {exc}") from exc
        if not self._states.consume_assertion(
            assertion.issuer, assertion.assertion_id, assertion.expires_at
        ):
            log.warning("saml_replay", extra={"provider": provider.name})
            raise OAuthError(
                "invalid_grant", "the SAML response was refused: this assertion was already used"
            )
        login = self._states.take_login_state(request_id)
        if login is None or login.provider != provider.name:
            raise OAuthError(
                "invalid_request", "this sign-in is unknown or expired; start again", 400
            )
        try:
            resolved = provider.resolve(assertion)
        except SamlRejected as exc:
            raise OAuthError("invalid_grant", f"the SAML response was refused: {exc}") from exc
        minted = self._minter.mint(resolved, how="browser sign-in", person=True)
        relay = relay_state if relay_state == login.nonce else None
        return SignedIn(minted), local_path(relay)
