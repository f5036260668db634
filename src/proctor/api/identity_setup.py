"""Everything identity-related a worker needs, built once from the configuration.

``build_identity(config, store)`` returns the authenticator chain for the wire protocols
(Proctor tokens, then external JWTs, with access rules applied), and the services the HTTP
routes use (token exchange, OIDC and SAML sign-in, roles, revalidation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proctor.approvals.grants import AccessGrants
from proctor.config import ProctorConfig
from proctor.identity.access import AccessPolicy, RoleResolver
from proctor.identity.authenticator import Authenticator, ChainAuthenticator, TokenAuthenticator
from proctor.identity.exchange import TokenExchange, TokenMinter
from proctor.identity.federation import AuthorizingAuthenticator, ExternalJwtAuthenticator
from proctor.identity.fetch import Fetcher
from proctor.identity.issuers import IssuerRegistry, build_registry
from proctor.identity.revalidation import TokenRevalidator
from proctor.identity.saml import SamlProvider
from proctor.identity.saml_signin import SamlSignIn
from proctor.identity.signin import SignIn
from proctor.model import Connection, Identity
from proctor.store.approvals import ApprovalStore
from proctor.store.identities import IdentityStore
from proctor.store.interfaces import Store, TokenStore
from proctor.store.sql import SqlStore

CALLBACK_PATH = "/callback"


@dataclass
class IdentityRuntime:
    authenticator: Authenticator
    store: TokenStore
    tokens: TokenAuthenticator
    access: AccessPolicy
    roles: RoleResolver
    revalidator: TokenRevalidator
    revalidate_interval: float
    # (address, port) of the PostgreSQL listener, for clients that ask (`proctor login`).
    postgres: tuple[str, int] | None = None
    registry: IssuerRegistry | None = None
    exchange: TokenExchange | None = None
    signin: SignIn | None = None
    saml: SamlSignIn | None = None
    # Just-in-time access grants (access rules that restrict, on a SQL store): they admit
    # identities the rules deny. ``authorize`` is what sessions ask at start.
    grants: AccessGrants | None = None

    @property
    def authorize(self) -> Callable[[Identity, Connection], str | None]:
        return self.grants.denial if self.grants is not None else self.access.denial


def public_url(config: ProctorConfig) -> str:
    identity = config.identity
    if identity is not None and identity.public_url:
        return identity.public_url
    http = config.listeners.http
    host = f"[{http.address}]" if ":" in http.address else http.address
    return f"http://{host}:{http.port}"


def build_identity(
    config: ProctorConfig,
    store: Store,
    fetcher: Fetcher | None = None,
    connections: dict[str, Connection] | None = None,
) -> IdentityRuntime:
    if fetcher is None:
        from proctor.api.outbound import UrllibFetcher

        fetcher = UrllibFetcher()
    connections = connections if connections is not None else config.connection_models()
    identity = config.identity
    pg = config.listeners.postgres
    postgres = (pg.address, pg.port) if pg is not None else None
    tokens = TokenAuthenticator(store)
    revalidator = TokenRevalidator(store)
    if identity is None:
        return IdentityRuntime(
            authenticator=tokens,
            store=store,
            tokens=tokens,
            access=AccessPolicy(()),
            roles=RoleResolver(None),
            revalidator=revalidator,
            revalidate_interval=2.0,
            postgres=postgres,
        )
    registry = build_registry(identity, fetcher)
    access = AccessPolicy(identity.access)
    chain: list[Authenticator] = [tokens]
    if any(w.accept_as_password for w in identity.workload):
        chain.append(ExternalJwtAuthenticator(registry))
    authenticator: Authenticator = ChainAuthenticator(chain) if len(chain) > 1 else tokens
    grants = None
    if access.restricts:
        if isinstance(store, SqlStore):
            grants = AccessGrants(ApprovalStore(store), access)
        authenticator = AuthorizingAuthenticator(
            authenticator, access, connections.values(), grants.load if grants else None
        )
    minter = TokenMinter(store, access, connections, identity.exchange.max_ttl)
    exchange = TokenExchange(registry, minter) if identity.exchange.enabled else None
    signin = None
    if identity.providers and isinstance(store, SqlStore):
        signin = SignIn(
            registry,
            fetcher,
            minter,
            IdentityStore(store),
            store,
            public_url(config) + CALLBACK_PATH,
            identity.refresh_token_key,
        )
    saml = None
    if identity.saml and isinstance(store, SqlStore):
        base = public_url(config)
        providers = {p.name: SamlProvider(p, base) for p in identity.saml}
        saml = SamlSignIn(providers, minter, IdentityStore(store))
    return IdentityRuntime(
        authenticator=authenticator,
        store=store,
        tokens=tokens,
        access=access,
        roles=RoleResolver(identity.roles),
        revalidator=revalidator,
        revalidate_interval=identity.revalidate_interval,
        postgres=postgres,
        registry=registry,
        exchange=exchange,
        signin=signin,
        saml=saml,
        grants=grants,
    )
