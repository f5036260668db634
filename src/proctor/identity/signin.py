"""People signing in through an OpenID Provider: code + PKCE, device flow, refresh.

The gateway is the relying party: it holds the client credentials, talks to the provider's
endpoints, validates the ID token (with the sign-in's nonce, for the code flow) and issues a
Proctor token. The CLI and the browser only ever see Proctor's endpoints and the provider's
own login pages.

- Browser: ``begin()`` makes a state (CSRF), a nonce (ID token replay) and a PKCE verifier
  (code interception), keeps them in the store for 10 minutes (any worker may get the
  callback), and returns the provider's authorization URL. ``complete()`` takes the state
  back (once), exchanges the code with the verifier and validates the ID token.
- Device flow (``proctor login``): ``device_start()`` asks the provider for a user code and
  returns it; the CLI polls ``device_poll()`` (through ``POST /oauth/token``), which relays
  the provider's ``authorization_pending`` / ``slow_down`` until the person has approved.
- Refresh: when ``identity.refresh_token_key`` is set, sign-ins also return a Proctor refresh
  secret (``prr_…``). Using it asks the provider for fresh tokens with the provider's refresh
  token (stored encrypted); if the provider refuses (user disabled, signed out, consent
  withdrawn), the Proctor token issued from that sign-in is revoked, which also ends its live
  sessions.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken

from proctor.identity.authenticator import AuthenticationError
from proctor.identity.errors import ProviderUnavailable
from proctor.identity.exchange import Minted, OAuthError, TokenMinter
from proctor.identity.fetch import Fetcher, FetchError, Response
from proctor.identity.issuers import IssuerRegistry, OidcProvider
from proctor.store.identities import IdentityStore
from proctor.store.interfaces import TokenStore

log = logging.getLogger("proctor.identity")

GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
LOGIN_STATE_TTL = timedelta(minutes=10)
REFRESH_TTL = timedelta(days=30)
# Provider errors the device-flow poller relays as they are (RFC 8628 §3.5).
_DEVICE_PASS_THROUGH = frozenset(
    {"authorization_pending", "slow_down", "access_denied", "expired_token"}
)


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def refresh_cipher(key_text: str) -> Fernet:
    """A Fernet key derived from the configured secret (any length, any text)."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key_text.encode()).digest()))


@dataclass(frozen=True)
class SignedIn:
    minted: Minted
    refresh_token: str | None = None

    def response(self) -> dict[str, Any]:
        body = self.minted.response()
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


class SignIn:
    def __init__(
        self,
        registry: IssuerRegistry,
        fetcher: Fetcher,
        minter: TokenMinter,
        states: IdentityStore,
        tokens: TokenStore,
        callback_url: str,
        refresh_key: str | None = None,
    ) -> None:
        self._registry = registry
        self._fetcher = fetcher
        self._minter = minter
        self._states = states
        self._tokens = tokens
        self.callback_url = callback_url
        self._cipher = refresh_cipher(refresh_key) if refresh_key else None

    def provider(self, name: str | None) -> OidcProvider:
        providers = self._registry.providers
        if name is None:
            if len(providers) == 1:
                return next(iter(providers.values()))
            raise OAuthError(
                "invalid_request",
                "name a provider: " + ", ".join(sorted(providers)) if providers else "none",
            )
        provider = providers.get(name)
        if provider is None:
            raise OAuthError("invalid_request", f"no identity provider named {name!r}", 404)
        return provider

    # -- browser: authorization code + PKCE ---------------------------------------------

    def begin(self, provider_name: str) -> str:
        provider = self.provider(provider_name)
        endpoint = self._discovery(provider).authorization_endpoint
        if endpoint is None:
            raise OAuthError("server_error", f"{provider.name} has no authorization endpoint", 502)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier, challenge = pkce_pair()
        self._states.save_login_state(
            state, provider.name, nonce, verifier, self.callback_url, LOGIN_STATE_TTL
        )
        query = {
            "response_type": "code",
            "client_id": provider.config.client_id,
            "redirect_uri": self.callback_url,
            "scope": " ".join(provider.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    def complete(self, params: Mapping[str, str]) -> SignedIn:
        state = params.get("state")
        if not state:
            raise OAuthError("invalid_request", "the sign-in response has no state")
        login = self._states.take_login_state(state)
        if login is None:
            raise OAuthError(
                "invalid_request", "this sign-in is unknown or expired; start again", 400
            )
        if params.get("error"):
            # The provider's own error code only: its description is provider-controlled text.
            raise OAuthError("access_denied", f"the provider refused: {params['error'][:64]}")
        code = params.get("code")
        if not code:
            raise OAuthError("invalid_request", "the sign-in response has no code")
        provider = self.provider(login.provider)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.redirect_uri,
            "code_verifier": login.code_verifier,
        }
        body = self._token_request(provider, form)
        return self._signed_in(provider, body, nonce=login.nonce, how="browser sign-in")

    # -- CLI: device authorization grant ------------------------------------------------

    def device_start(self, provider_name: str | None) -> dict[str, Any]:
        provider = self.provider(provider_name)
        if not provider.config.device_flow:
            raise OAuthError("invalid_request", f"{provider.name} does not allow the device flow")
        endpoint = self._discovery(provider).device_authorization_endpoint
        if endpoint is None:
            raise OAuthError(
                "invalid_request", f"{provider.name} does not offer the device flow", 400
            )
        form = {"scope": " ".join(provider.config.scopes)}
        response = self._post(provider, endpoint, form)
        body = response.body if isinstance(response.body, dict) else {}
        if response.status != 200 or "device_code" not in body:
            raise self._provider_error(provider, response)
        keep = (
            "device_code",
            "user_code",
            "verification_uri",
            "verification_uri_complete",
            "expires_in",
            "interval",
        )
        out = {k: body[k] for k in keep if k in body}
        out.setdefault("interval", 5)  # RFC 8628 §3.2: the default when the provider omits it
        out["provider"] = provider.name
        return out

    def device_poll(self, provider_name: str | None, device_code: str) -> SignedIn:
        provider = self.provider(provider_name)
        body = self._token_request(
            provider,
            {"grant_type": GRANT_DEVICE_CODE, "device_code": device_code},
            pass_through=_DEVICE_PASS_THROUGH,
        )
        return self._signed_in(provider, body, nonce=None, how="device sign-in")

    # -- refresh -----------------------------------------------------------------------------

    def refresh(self, refresh_secret: str) -> SignedIn:
        if self._cipher is None:
            raise OAuthError("unsupported_grant_type", "refresh is not enabled on this gateway")
        grant = self._states.use_refresh(refresh_secret)
        if grant is None:
            raise OAuthError("invalid_grant", "the refresh token is invalid, used or expired")
        provider = self.provider(grant.provider)
        if grant.provider_refresh is None:
            self._tokens.revoke_token(grant.token_id)
            raise OAuthError("invalid_grant", "the provider gave no refresh token; sign in again")
        try:
            provider_refresh = self._cipher.decrypt(grant.provider_refresh.encode()).decode()
        except InvalidToken:
            raise OAuthError(
                "invalid_grant", "the refresh token cannot be decrypted (key changed?)"
            ) from None
        try:
            body = self._token_request(
                provider, {"grant_type": "refresh_token", "refresh_token": provider_refresh}
            )
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                # The provider no longer vouches for this person: stop the sessions too.
                self._tokens.revoke_token(grant.token_id)
                log.info("signin_refresh_refused", extra={"provider": provider.name})
                raise OAuthError(
                    "invalid_grant", f"{provider.name} refused to renew the sign-in; sign in again"
                ) from exc
            raise
        if "refresh_token" not in body:
            body = {**body, "refresh_token": provider_refresh}
        signed = self._signed_in(provider, body, nonce=None, how="refresh")
        if signed.minted.issued.record.subject != grant.subject:
            self._tokens.revoke_token(signed.minted.issued.record.id)
            raise OAuthError("invalid_grant", "the provider returned another user")
        self._tokens.revoke_token(grant.token_id)
        return signed

    # -- plumbing ----------------------------------------------------------------------------

    def _discovery(self, provider: OidcProvider) -> Any:
        try:
            return provider.discovery()
        except ProviderUnavailable as exc:
            raise OAuthError("temporarily_unavailable", str(exc), 503) from exc

    def _post(self, provider: OidcProvider, url: str, form: dict[str, str]) -> Response:
        cfg = provider.config
        auth: tuple[str, str] | None = None
        if cfg.client_secret is not None:
            auth = (cfg.client_id, cfg.client_secret)
        else:
            form = {**form, "client_id": cfg.client_id}
        try:
            return self._fetcher.post_form(url, form, basic_auth=auth)
        except FetchError as exc:
            raise OAuthError("temporarily_unavailable", str(exc), 503) from exc

    def _token_request(
        self,
        provider: OidcProvider,
        form: dict[str, str],
        pass_through: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        endpoint = self._discovery(provider).token_endpoint
        if endpoint is None:
            raise OAuthError("server_error", f"{provider.name} has no token endpoint", 502)
        response = self._post(provider, endpoint, form)
        body = response.body if isinstance(response.body, dict) else {}
        if response.status == 200 and isinstance(body.get("id_token"), str):
            return body
        error = body.get("error")
        if isinstance(error, str) and error in pass_through:
            raise OAuthError(error, f"the provider says: {error}")
        raise self._provider_error(provider, response)

    def _provider_error(self, provider: OidcProvider, response: Response) -> OAuthError:
        body = response.body if isinstance(response.body, dict) else {}
        error = body.get("error")
        if response.status == 200:
            return OAuthError("server_error", f"{provider.name} returned no ID token", 502)
        if error == "invalid_grant":
            return OAuthError("invalid_grant", f"{provider.name} refused the grant")
        code = error[:64] if isinstance(error, str) else f"HTTP {response.status}"
        return OAuthError("server_error", f"{provider.name} refused the request ({code})", 502)

    def _signed_in(
        self, provider: OidcProvider, body: Mapping[str, Any], nonce: str | None, how: str
    ) -> SignedIn:
        try:
            resolved = provider.resolve(str(body["id_token"]), nonce=nonce)
        except ProviderUnavailable as exc:
            raise OAuthError("temporarily_unavailable", str(exc), 503) from exc
        except AuthenticationError as exc:
            raise OAuthError("invalid_grant", f"the provider's ID token: {exc}") from exc
        minted = self._minter.mint(resolved, how=how, person=True)
        refresh_secret = None
        provider_refresh = body.get("refresh_token")
        if self._cipher is not None and isinstance(provider_refresh, str):
            sealed = self._cipher.encrypt(provider_refresh.encode()).decode()
            refresh_secret, _ = self._states.create_refresh(
                provider.name,
                minted.issued.record.subject,
                minted.issued.record.id,
                sealed,
                REFRESH_TTL,
            )
        return SignedIn(minted, refresh_secret)
