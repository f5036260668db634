"""HTTP routes of SAML sign-in, on the gateway's HTTP listener.

- ``GET /saml/{provider}/login``: start a sign-in, redirecting to the IdP with an
  AuthnRequest (``?next=/path``: a local page to offer once signed in);
- ``POST /saml/{provider}/acs``: the assertion consumer service (HTTP-POST binding); shows
  the new Proctor token once;
- ``GET /saml/{provider}/metadata``: Proctor's SP metadata for this provider (the URL is also
  its default entity id).

``/login`` lists SAML providers next to OpenID ones, and ``/login/{provider}`` leads here.
"""

from __future__ import annotations

import asyncio
import html
import logging

from aiohttp import web
from yarl import URL

from proctor.api.identity_setup import IdentityRuntime
from proctor.api.pages import NO_STORE, page, signed_in_page
from proctor.identity.exchange import OAuthError
from proctor.identity.saml import MAX_RESPONSE
from proctor.identity.saml_signin import SamlSignIn

log = logging.getLogger("proctor.api")


def add_saml_routes(app: web.Application, runtime: IdentityRuntime) -> None:
    routes = SamlRoutes(runtime)
    app.router.add_get("/saml/{provider}/login", routes.login)
    app.router.add_post("/saml/{provider}/acs", routes.acs)
    app.router.add_get("/saml/{provider}/metadata", routes.metadata)


def _failed(exc: OAuthError) -> web.Response:
    return page("Sign-in failed", f"<p>{html.escape(exc.description)}</p>", exc.status)


class SamlRoutes:
    def __init__(self, runtime: IdentityRuntime) -> None:
        self.rt = runtime

    def _saml(self) -> SamlSignIn:
        if self.rt.saml is None:
            raise OAuthError("invalid_request", "no SAML identity provider is configured", 404)
        return self.rt.saml

    async def login(self, request: web.Request) -> web.StreamResponse:
        try:
            saml = self._saml()
            url = await asyncio.to_thread(
                saml.begin, request.match_info["provider"], request.query.get("next")
            )
        except OAuthError as exc:
            return _failed(exc)
        # encoded=True: the IdP checks the signature over the query exactly as python3-saml
        # encoded it; aiohttp would otherwise re-encode it (":" and "/" unescaped).
        raise web.HTTPFound(URL(url, encoded=True), headers=NO_STORE)

    async def acs(self, request: web.Request) -> web.Response:
        try:
            saml = self._saml()
            if request.content_type != "application/x-www-form-urlencoded":
                raise OAuthError("invalid_request", "expected an HTTP-POST binding form")
            if (request.content_length or 0) > MAX_RESPONSE + 8192:
                raise OAuthError("invalid_request", "the request is too large")
            form = await request.post()
            response = form.get("SAMLResponse")
            relay = form.get("RelayState")
            signed, continue_to = await asyncio.to_thread(
                saml.complete,
                request.match_info["provider"],
                response if isinstance(response, str) else None,
                relay if isinstance(relay, str) else None,
            )
        except OAuthError as exc:
            log.info("saml_signin_refused", extra={"error": exc.error})
            return _failed(exc)
        record = signed.minted.issued.record
        log.info(
            "signed_in",
            extra={
                "subject": record.subject,
                "token_id": record.id,
                "via": signed.minted.resolved.source,
            },
        )
        return signed_in_page(signed, continue_to)

    async def metadata(self, request: web.Request) -> web.Response:
        try:
            provider = self._saml().provider(request.match_info["provider"])
        except OAuthError as exc:
            return _failed(exc)
        return web.Response(
            text=provider.metadata(),
            content_type="application/samlmetadata+xml",
            headers={"Cache-Control": "max-age=300"},
        )
