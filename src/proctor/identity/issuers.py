"""Trusted issuers at run time: OIDC providers (people) and workload issuers (machines).

Built once per worker from the ``identity:`` configuration. ``IssuerRegistry.resolve(token)``
is the one entry point that turns an external JWT into a ``Resolved`` identity: it reads the
token's (unverified) ``iss`` only to choose which issuers' rules apply, then each candidate
validates it fully (signature, audience, times ...) before any claim is believed.

Several configured entries may share an issuer URL (an IdP whose ID tokens sign people in and
whose client-credentials access tokens identify agents): they share one key set, and the
token's audience decides which entry applies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from proctor.config.identity import (
    IdentityConfig,
    OidcProviderConfig,
    WorkloadIssuerConfig,
    WorkloadRuleConfig,
)
from proctor.identity.claims import (
    Condition,
    TemplateError,
    all_hold,
    claim_at,
    claim_strings,
    render_template,
)
from proctor.identity.errors import NoMatchingRule, TokenRejected
from proctor.identity.fetch import Fetcher
from proctor.identity.groups import SAFE_SUBJECT, GroupMapper, string_or_none, to_conditions
from proctor.identity.keys import CachedDiscovery, Discovery, KeySet
from proctor.identity.validation import (
    JwtValidator,
    ValidationRules,
    audiences_of,
    unverified_parts,
)
from proctor.model import Identity

log = logging.getLogger("proctor.identity")

# Claims kept on the Identity (and so visible to policies): never the whole token.
_KEPT_CLAIMS = ("iss", "sub", "aud", "azp", "client_id", "jti", "exp", "iat")


@dataclass(frozen=True)
class Resolved:
    """An external token turned into a Proctor identity, with what a token for it may be."""

    identity: Identity
    source: str  # the configured provider or workload issuer name
    token_ttl: float
    connections: frozenset[str] = frozenset()  # empty: whatever access rules allow
    claims: Mapping[str, Any] = field(default_factory=dict)  # the verified claims


class OidcProvider:
    kind = "oidc"

    def __init__(
        self,
        config: OidcProviderConfig,
        fetcher: Fetcher | None,
        keys: KeySet,
        discovery: Callable[[], Discovery],
    ) -> None:
        self.config = config
        self.name = config.name
        self.issuer = config.issuer
        self.keys = keys
        self.discovery = discovery
        self.fetcher = fetcher
        self.validator = JwtValidator(
            ValidationRules(
                issuer=config.issuer,
                audiences=config.accepted_audiences,
                algorithms=frozenset(config.algorithms),
                clock_skew=config.clock_skew,
            ),
            keys,
        )
        self._groups = GroupMapper(config.groups)

    def accepts_audience(self, claims: Mapping[str, Any]) -> bool:
        return bool(set(audiences_of(claims)) & self.config.accepted_audiences)

    def resolve(self, token: str, nonce: str | None = None) -> Resolved:
        claims = self.validator.validate(token, nonce=nonce)
        azp = claims.get("azp")
        if len(audiences_of(claims)) > 1 and azp is not None and azp != self.config.client_id:
            # OIDC Core 3.1.3.7: with several audiences, azp names the client it was for.
            raise TokenRejected("wrong_audience", "the token was issued to another client (azp)")
        return self.map_claims(claims)

    def map_claims(self, claims: Mapping[str, Any]) -> Resolved:
        cfg = self.config
        subjects = claim_strings(claims, cfg.subject_claim)
        if len(subjects) != 1 or not subjects[0]:
            raise TokenRejected(
                "no_subject", f"the token has no {cfg.subject_claim!r} claim to name the user"
            )
        subject = subjects[0]
        if not SAFE_SUBJECT.fullmatch(subject):
            raise TokenRejected(
                "no_subject", f"the token's {cfg.subject_claim!r} claim is not a usable user name"
            )
        identity = Identity(
            subject=subject,
            groups=frozenset(self.groups_of(claims)),
            issuer=cfg.issuer,
            display_name=string_or_none(claim_at(claims, cfg.display_name_claim)),
            email=string_or_none(claim_at(claims, cfg.email_claim)),
            claims=_kept(claims, provider=self.name),
        )
        return Resolved(identity, self.name, cfg.token_ttl, frozenset(), dict(claims))

    def groups_of(self, claims: Mapping[str, Any]) -> set[str]:
        return self._groups.groups(claims)


class WorkloadIssuer:
    kind = "workload"

    def __init__(self, config: WorkloadIssuerConfig, keys: KeySet) -> None:
        self.config = config
        self.name = config.name
        self.issuer = config.issuer
        self.keys = keys
        self.validator = JwtValidator(
            ValidationRules(
                issuer=config.issuer,
                audiences=frozenset(config.audiences),
                algorithms=frozenset(config.algorithms),
                clock_skew=config.clock_skew,
                max_lifetime=config.max_token_lifetime,
            ),
            keys,
        )
        self._rules: list[tuple[tuple[Condition, ...], WorkloadRuleConfig]] = [
            (to_conditions(rule.match), rule) for rule in config.rules
        ]

    def accepts_audience(self, claims: Mapping[str, Any]) -> bool:
        return bool(set(audiences_of(claims)) & set(self.config.audiences))

    def resolve(self, token: str, nonce: str | None = None) -> Resolved:
        return self.map_claims(self.validator.validate(token))

    def map_claims(self, claims: Mapping[str, Any]) -> Resolved:
        for conditions, rule in self._rules:
            if not all_hold(conditions, claims):
                continue
            try:
                subject = render_template(rule.subject, claims)
            except TemplateError as exc:
                raise TokenRejected("no_subject", str(exc)) from None
            identity = Identity(
                subject=subject,
                groups=frozenset(rule.groups),
                issuer=self.issuer,
                claims=_kept(claims, provider=self.name),
            )
            ttl = rule.token_ttl if rule.token_ttl is not None else self.config.token_ttl
            return Resolved(identity, self.name, ttl, frozenset(rule.connections), dict(claims))
        # Which claims were looked at, never their values: the token is valid but its holder
        # is not someone we know, and the message goes back to that holder.
        raise NoMatchingRule(
            f"the token from {self.name} is valid but matches none of its rules "
            f"(they look at: {', '.join(sorted(self._claims_examined()))})"
        )

    def _claims_examined(self) -> set[str]:
        return {c.path for conditions, _ in self._rules for c in conditions}


Issuer = OidcProvider | WorkloadIssuer


def _kept(claims: Mapping[str, Any], provider: str) -> dict[str, Any]:
    kept = {name: claims[name] for name in _KEPT_CLAIMS if name in claims}
    kept["provider"] = provider
    return kept


class IssuerRegistry:
    """Every trusted issuer of this gateway, looked up by the ``iss`` of a token."""

    def __init__(self, issuers: Sequence[Issuer]) -> None:
        self.issuers = list(issuers)
        self._by_url: dict[str, list[Issuer]] = {}
        for issuer in self.issuers:
            self._by_url.setdefault(issuer.issuer, []).append(issuer)

    @property
    def providers(self) -> dict[str, OidcProvider]:
        return {i.name: i for i in self.issuers if isinstance(i, OidcProvider)}

    def resolve(self, token: str, password: bool = False) -> Resolved:
        """Validate ``token`` against the issuer it names; ``password``: presented as a
        PostgreSQL password, where only workload issuers that allow it are considered."""
        _, payload = unverified_parts(token)
        iss = payload.get("iss")
        candidates = self._by_url.get(iss, []) if isinstance(iss, str) else []
        if password:
            candidates = [
                c
                for c in candidates
                if isinstance(c, WorkloadIssuer) and c.config.accept_as_password
            ]
        if not candidates:
            raise TokenRejected("unknown_issuer", "the token's issuer is not trusted by Proctor")
        # The audience picks the entry; it is checked again, verified, by the validator.
        matching = [c for c in candidates if c.accepts_audience(payload)] or candidates[:1]
        last: TokenRejected | None = None
        for candidate in matching:
            try:
                return candidate.resolve(token)
            except NoMatchingRule as exc:
                last = exc
        assert last is not None
        raise last


def build_registry(
    config: IdentityConfig,
    fetcher: Fetcher | None,
) -> IssuerRegistry:
    """One KeySet per issuer URL (shared by entries that name the same issuer)."""
    key_sets: dict[tuple[str, str | None], KeySet] = {}
    discoveries: dict[str, CachedDiscovery] = {}
    issuers: list[Issuer] = []

    def discovery_for(issuer: str, url: str | None) -> CachedDiscovery:
        if issuer not in discoveries:
            discoveries[issuer] = CachedDiscovery(fetcher, issuer, url)
        return discoveries[issuer]

    def keyset(
        issuer: str,
        jwks_uri: str | None,
        discovery_url: str | None,
        refetch: float,
        static: Mapping[str, Any] | None = None,
    ) -> KeySet:
        key = (issuer, jwks_uri if static is None else f"static:{id(static)}")
        if key not in key_sets:
            key_sets[key] = KeySet(
                issuer,
                fetcher,
                jwks_uri=jwks_uri,
                static_jwks=static,
                discovery=None
                if (jwks_uri or static is not None)
                else discovery_for(issuer, discovery_url),
                min_refetch_interval=refetch,
            )
        return key_sets[key]

    for provider in config.providers:
        disc = discovery_for(provider.issuer, provider.discovery_url)
        keys = keyset(
            provider.issuer,
            provider.jwks_uri,
            provider.discovery_url,
            provider.jwks_refetch_interval,
        )
        issuers.append(OidcProvider(provider, fetcher, keys, disc))
    for workload in config.workload:
        static = None
        if workload.jwks_file is not None:
            static = json.loads(workload.jwks_file.read_text())
        keys = keyset(
            workload.issuer,
            workload.jwks_uri,
            workload.discovery_url,
            workload.jwks_refetch_interval,
            static,
        )
        issuers.append(WorkloadIssuer(workload, keys))
    return IssuerRegistry(issuers)
