"""HTTP routes of the identity work, on the gateway's HTTP listener.

| route | what |
|---|---|
| ``POST /oauth/token`` | RFC 8693 token exchange; device-code polling (RFC 8628); refresh |
| ``POST /oauth/device`` | start a device sign-in (``proctor login``) with a provider |
| ``GET /login`` | the providers people can sign in with |
| ``GET /login/{provider}`` | browser sign-in: redirect to the provider (code + PKCE) |
| ``GET /callback`` | the provider's redirect back; shows the new Proctor token once |
| ``POST /oauth/revoke`` | RFC 7009: revoke the Proctor token presented (``proctor logout``) |
| ``GET /whoami`` | the identity and roles of ``Authorization: Bearer prt_…`` |

Token responses carry ``Cache-Control: no-store`` (RFC 6749 §5.1). Pages that show a token
also forbid framing, referrers and every script or remote resource.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from proctor.api.identity_setup import CALLBACK_PATH, IdentityRuntime
from proctor.api.pages import NO_STORE, page, signed_in_page
from proctor.api.saml_routes import add_saml_routes
from proctor.identity.authenticator import AuthenticationError
from proctor.identity.exchange import GRANT_TOKEN_EXCHANGE, OAuthError, single
from proctor.identity.signin import GRANT_DEVICE_CODE, SignedIn
from proctor.model import Identity

log = logging.getLogger("proctor.api")

_NO_STORE = NO_STORE
MAX_FORM = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def oauth_json(body: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.json_response(dict(body), status=status, headers=_NO_STORE)


def oauth_error(exc: OAuthError) -> web.Response:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return web.json_response(exc.body(), status=exc.status, headers=headers)


async def read_form(request: web.Request) -> dict[str, list[str]]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the parameters form-encoded")
    if (request.content_length or 0) > MAX_FORM:
        raise OAuthError("invalid_request", "the request is too large")
    data = await request.post()
    form: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, str):
            form.setdefault(key, []).append(value)
    return form


async def bearer_identity(request: web.Request, runtime: IdentityRuntime) -> Identity:
    """The identity of the Proctor token in ``Authorization: Bearer prt_…``; raises
    `OAuthError` (401, ``invalid_token``) when it is missing or not accepted."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise OAuthError("invalid_token", "send Authorization: Bearer TOKEN", 401)
    try:
        return await asyncio.to_thread(runtime.tokens.authenticate, secret.strip())
    except AuthenticationError as exc:
        raise OAuthError("invalid_token", str(exc), 401) from None


def add_identity_routes(app: web.Application, runtime: IdentityRuntime) -> None:
    routes = IdentityRoutes(runtime)
    app.router.add_post("/oauth/token", routes.token)
    app.router.add_post("/oauth/device", routes.device)
    app.router.add_post("/oauth/revoke", routes.revoke)
    app.router.add_get("/login", routes.login_index)
    app.router.add_get("/login/{provider}", routes.login)
    app.router.add_get(CALLBACK_PATH, routes.callback)
    app.router.add_get("/whoami", routes.whoami)
    add_saml_routes(app, runtime)


class IdentityRoutes:
    def __init__(self, runtime: IdentityRuntime) -> None:
        self.rt = runtime

    async def token(self, request: web.Request) -> web.Response:
        try:
            form = await read_form(request)
            grant = single(form, "grant_type")
            if grant == GRANT_TOKEN_EXCHANGE:
                exchange = self.rt.exchange
                if exchange is None:
                    raise OAuthError("unsupported_grant_type", "token exchange is not enabled")
                minted = await asyncio.to_thread(exchange.exchange, form)
                log.info(
                    "token_exchanged",
                    extra={
                        "subject": minted.issued.record.subject,
                        "token_id": minted.issued.record.id,
                        "via": minted.resolved.source,
                    },
                )
                return oauth_json(minted.response())
            signin = self.rt.signin
            if grant == GRANT_DEVICE_CODE and signin is not None:
                device_code = single(form, "device_code")
                assert device_code is not None
                provider = single(form, "provider", required=False)
                signed = await asyncio.to_thread(signin.device_poll, provider, device_code)
                return self._signed_in(signed)
            if grant == "refresh_token" and signin is not None:
                secret = single(form, "refresh_token")
                assert secret is not None
                signed = await asyncio.to_thread(signin.refresh, secret)
                return self._signed_in(signed)
            raise OAuthError("unsupported_grant_type", "this grant type is not supported here")
        except OAuthError as exc:
            if exc.error not in ("authorization_pending", "slow_down"):
                log.info("token_request_refused", extra={"error": exc.error})
            return oauth_error(exc)

    def _signed_in(self, signed: SignedIn) -> web.Response:
        record = signed.minted.issued.record
        log.info(
            "signed_in",
            extra={
                "subject": record.subject,
                "token_id": record.id,
                "via": signed.minted.resolved.source,
            },
        )
        return oauth_json(signed.response())

    async def revoke(self, request: web.Request) -> web.Response:
        """RFC 7009: whoever holds a token may revoke it; unknown tokens are not an error."""
        try:
            form = await read_form(request)
            secret = single(form, "token")
        except OAuthError as exc:
            return oauth_error(exc)
        assert secret is not None

        def revoke() -> None:
            record = self.rt.store.verify_token(secret)
            if record is not None:
                self.rt.store.revoke_token(record.id)
                log.info("token_revoked", extra={"token_id": record.id})

        await asyncio.to_thread(revoke)
        return web.Response(status=200, headers=_NO_STORE)

    async def device(self, request: web.Request) -> web.Response:
        try:
            signin = self._signin()
            form = await read_form(request)
            provider = single(form, "provider", required=False)
            body = await asyncio.to_thread(signin.device_start, provider)
            return oauth_json(body)
        except OAuthError as exc:
            return oauth_error(exc)

    def _signin(self) -> Any:
        if self.rt.signin is None:
            raise OAuthError("invalid_request", "no identity provider is configured", 404)
        return self.rt.signin

    async def login_index(self, request: web.Request) -> web.Response:
        providers: Sequence[str] = (
            sorted(self.rt.registry.providers) if self.rt.registry is not None else []
        )
        if self.rt.saml is not None:
            providers = sorted([*providers, *self.rt.saml.providers])
        if not providers:
            return page("Sign in", "<p>No identity provider is configured.</p>", 404)
        links = "".join(
            f"<li><a href='/login/{html.escape(p)}'>{html.escape(p)}</a></li>" for p in providers
        )
        return page("Sign in to Proctor", f"<ul>{links}</ul>")

    async def login(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["provider"]
        if self.rt.saml is not None and name in self.rt.saml.providers:
            raise web.HTTPFound(f"/saml/{name}/login", headers=_NO_STORE)
        try:
            signin = self._signin()
            url = await asyncio.to_thread(signin.begin, name)
        except OAuthError as exc:
            return page("Sign-in failed", f"<p>{html.escape(exc.description)}</p>", exc.status)
        raise web.HTTPFound(url, headers=_NO_STORE)

    async def callback(self, request: web.Request) -> web.Response:
        try:
            signin = self._signin()
            params = {k: v for k, v in request.query.items() if isinstance(v, str)}
            signed = await asyncio.to_thread(signin.complete, params)
        except OAuthError as exc:
            log.info("browser_signin_refused", extra={"error": exc.error})
            return page("Sign-in failed", f"<p>{html.escape(exc.description)}</p>", exc.status)
        record = signed.minted.issued.record
        log.info(
            "signed_in",
            extra={
                "subject": record.subject,
                "token_id": record.id,
                "via": signed.minted.resolved.source,
            },
        )
        return signed_in_page(signed)

    def _postgres(self, request: web.Request) -> dict[str, Any] | None:
        if self.rt.postgres is None:
            return None
        address, port = self.rt.postgres
        if address in ("0.0.0.0", "::"):  # noqa: S104 - reading the config, not binding
            address = request.url.host or "localhost"
        return {"host": address, "port": port}

    async def whoami(self, request: web.Request) -> web.Response:
        try:
            identity = await bearer_identity(request, self.rt)
        except OAuthError as exc:
            return oauth_error(exc)
        record = None
        if identity.token_id is not None:
            record = await asyncio.to_thread(self.rt.store.get_token, identity.token_id)
        return oauth_json(
            {
                "subject": identity.subject,
                "groups": sorted(identity.groups),
                "roles": sorted(self.rt.roles.roles(identity)),
                "token_id": identity.token_id,
                "connections": list(identity.claims.get("connections", [])),
                "expires_at": record.expires_at.astimezone(UTC).isoformat()
                if record is not None
                else None,
                "now": datetime.now(UTC).isoformat(),
                "postgres": self._postgres(request),
            }
        )
