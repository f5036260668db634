"""``identity:``: who may sign in, which machines are trusted, who may use what.

```yaml
identity:
  public_url: https://proctor.acme.example      # how browsers reach the HTTP listener
  providers:                                     # people: OpenID Connect
    - name: okta
      issuer: https://acme.okta.com/oauth2/default
      client_id: 0oa1proctor
      client_secret: ${env:OKTA_CLIENT_SECRET}
      subject_claim: email
      groups: {claims: [groups], map: {okta-dba: [dba]}}
  saml:                                          # people: SAML 2.0 (see config/saml.py)
    - name: entra-saml
      idp_entity_id: https://sts.windows.net/11111111-2222-3333-4444-555555555555/
      idp_metadata_file: /etc/proctor/entra-metadata.xml
  workload:                                      # machines: trusted external issuers
    - name: github-actions
      issuer: https://token.actions.githubusercontent.com
      audiences: [https://proctor.acme.example]
      rules:
        - match: {repository: acme/payments, ref: refs/heads/main}
          subject: ci:payments-deploy
          groups: [ci]
  access:                                        # which identities may use which connections
    - connections: [shop]
      groups: [dba, ci]
  roles:                                         # API roles beyond "user"
    admin: {groups: [proctor-admins]}
```

Validators name the exact key and never print a secret (``client_secret`` and
``refresh_token_key`` are treated like passwords).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from proctor.config.base import HIDDEN, ConfigModel
from proctor.config.fields import ConfigPath, ConnectionName, Duration, TagKey, TagValue, Text

ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}")
_SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/+=-]{0,199}")
_CLAIM_PATH = re.compile(r"[^\s{}]{1,200}")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _provider_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise PydanticCustomError(
            "provider_name",
            "expected a name of 1-63 lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    return value


def _group(value: str) -> str:
    if not _GROUP.fullmatch(value):
        raise PydanticCustomError(
            "group_name",
            "expected a group name of letters, digits and '_.:@/-', starting with a letter or "
            "digit (at most 128 characters)",
        )
    return value


def _claim_path(value: str) -> str:
    if not _CLAIM_PATH.fullmatch(value):
        raise PydanticCustomError(
            "claim_path", "expected a claim name or dotted path such as realm_access.roles"
        )
    return value


def _subject_template(value: str) -> str:
    # Placeholders are checked when a token is mapped; the literal parts must be safe here.
    literal = re.sub(r"\{[^{}]+\}", "x", value)
    if not _SUBJECT.fullmatch(literal) or value.count("{") != value.count("}"):
        raise PydanticCustomError(
            "subject",
            "expected a subject such as ci:payments-deploy (letters, digits, '_.:@/+=-'), "
            "optionally with {claim} placeholders",
        )
    return value


def _issuer_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        pass
    elif parts.scheme == "http" and parts.hostname in _LOOPBACK:
        pass  # a local test provider
    else:
        raise PydanticCustomError(
            "issuer_url", "expected an https URL (http only for a loopback address)"
        )
    if parts.query or parts.fragment:
        raise PydanticCustomError("issuer_url", "expected a URL without query or fragment")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url", "expected an http(s) URL")
    return value.rstrip("/")


def _algorithm(value: object) -> object:
    if isinstance(value, str):
        if value.lower() == "none" or value.upper().startswith("HS"):
            raise PydanticCustomError(
                "algorithm",
                "unsigned (none) and shared-secret (HS*) algorithms are never accepted; "
                f"expected one of {', '.join(ASYMMETRIC_ALGORITHMS)}",
            )
        if value not in ASYMMETRIC_ALGORITHMS:
            raise PydanticCustomError(
                "algorithm", f"expected one of {', '.join(ASYMMETRIC_ALGORITHMS)}"
            )
    return value


def _non_empty_algorithms(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise PydanticCustomError("algorithms", "expected at least one algorithm")
    return value


def _skew(value: float) -> float:
    if value > 300:
        raise PydanticCustomError(
            "clock_skew", "expected at most 5m: a large skew extends every token's life"
        )
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise PydanticCustomError("positive_duration", "expected a duration longer than zero")
    return value


ProviderName = Annotated[str, AfterValidator(_provider_name)]
GroupName = Annotated[str, AfterValidator(_group)]
ClaimPath = Annotated[str, AfterValidator(_claim_path)]
SubjectTemplate = Annotated[Text, AfterValidator(_subject_template)]
IssuerUrl = Annotated[Text, AfterValidator(_issuer_url)]
HttpUrl = Annotated[Text, AfterValidator(_http_url)]
Algorithm = Annotated[str, BeforeValidator(_algorithm)]
Algorithms = Annotated[tuple[Algorithm, ...], AfterValidator(_non_empty_algorithms)]
ClockSkew = Annotated[Duration, AfterValidator(_skew)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


class ClaimMatch(ConfigModel):
    """What a claim must be. Written as a string (exact), a list (any of), or a mapping with
    exactly one of ``glob`` / ``regex``."""

    exact: tuple[str, ...] = ()
    glob: Text | None = None
    regex: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, bool):
            return {"exact": ["true" if data else "false"]}
        if isinstance(data, str | int | float):
            return {"exact": [str(data)]}
        if isinstance(data, list):
            if not data or not all(isinstance(v, str | int | float) for v in data):
                raise PydanticCustomError(
                    "claim_match", "expected a non-empty list of strings (any of them matches)"
                )
            return {"exact": [str(v) for v in data]}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = [bool(self.exact), self.glob is not None, self.regex is not None]
        if sum(kinds) != 1:
            raise PydanticCustomError(
                "claim_match",
                "expected a string, a list of strings, {glob: PATTERN} or {regex: PATTERN}",
            )
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise PydanticCustomError(
                    "claim_match", "not a valid regular expression: {error}", {"error": str(exc)}
                ) from None
        return self


Conditions = dict[ClaimPath, ClaimMatch]


class GroupRuleConfig(ConfigModel):
    """Extra Proctor groups for identities whose claims satisfy every condition of ``when``."""

    when: Annotated[Conditions, Field(min_length=1)]
    groups: Annotated[tuple[GroupName, ...], Field(min_length=1)]


class GroupsConfig(ConfigModel):
    """How a provider's claims become Proctor groups.

    ``claims``: claim paths holding group names (``groups``, ``roles``, ``realm_access.roles``).
    ``map``: provider group -> Proctor groups. With a map, groups it does not name are dropped
    unless ``keep_unmapped`` is true; without one, every provider group is kept as it is.
    ``rules``: groups added when conditions on any claims hold.
    """

    claims: tuple[ClaimPath, ...] = ("groups",)
    map: dict[Text, tuple[GroupName, ...]] = Field(default_factory=dict)
    keep_unmapped: bool | None = None
    rules: tuple[GroupRuleConfig, ...] = ()

    @property
    def keeps_unmapped(self) -> bool:
        return self.keep_unmapped if self.keep_unmapped is not None else not self.map


class OidcProviderConfig(ConfigModel):
    """An OpenID Provider people sign in with (browser code + PKCE, device flow)."""

    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {"groups": dict}

    name: ProviderName
    issuer: IssuerUrl
    client_id: Text
    client_secret: Text | None = None  # None: a public client (PKCE only)
    # Extra accepted "aud" values for tokens exchanged at /oauth/token (the client_id always is).
    audiences: tuple[Text, ...] = ()
    scopes: tuple[Text, ...] = ("openid", "email", "profile")
    algorithms: Algorithms = DEFAULT_ALGORITHMS
    clock_skew: ClockSkew = 60.0
    discovery_url: HttpUrl | None = None  # default: ISSUER/.well-known/openid-configuration
    jwks_uri: HttpUrl | None = None  # default: from discovery
    # Which claim names the person in Proctor (sessions, policies, `user` of psql).
    subject_claim: ClaimPath = "sub"
    display_name_claim: ClaimPath = "name"
    email_claim: ClaimPath = "email"
    groups: GroupsConfig
    # Lifetime of the Proctor token a sign-in issues.
    token_ttl: PositiveDuration = 8 * 3600.0
    device_flow: bool = True
    # Minimum time between JWKS refetches caused by unknown key ids.
    jwks_refetch_interval: Duration = 30.0

    def shown_value(self, field_name: str) -> object:
        shown = super().shown_value(field_name)
        if (
            field_name == "client_secret"
            and shown is not None
            and not self.uses_reference("client_secret")
        ):
            return HIDDEN
        return shown

    @property
    def accepted_audiences(self) -> frozenset[str]:
        return frozenset((self.client_id, *self.audiences))


class WorkloadRuleConfig(ConfigModel):
    """Tokens whose claims satisfy every condition in ``match`` become ``subject``."""

    match: Annotated[Conditions, Field(min_length=1)]
    subject: SubjectTemplate
    groups: tuple[GroupName, ...] = ()
    # Connections the identity is limited to (empty: whatever `access` allows).
    connections: tuple[ConnectionName, ...] = ()
    token_ttl: PositiveDuration | None = None


class WorkloadIssuerConfig(ConfigModel):
    """A trusted external issuer of machine identities (CI, Kubernetes, SPIFFE, client
    credentials). Its tokens may be exchanged at /oauth/token or used directly as the
    PostgreSQL password."""

    name: ProviderName
    issuer: IssuerUrl
    audiences: Annotated[tuple[Text, ...], Field(min_length=1)]
    algorithms: Algorithms = DEFAULT_ALGORITHMS
    clock_skew: ClockSkew = 60.0
    discovery_url: HttpUrl | None = None
    jwks_uri: HttpUrl | None = None
    jwks_file: ConfigPath | None = None  # a static JWKS (e.g. a cluster without discovery)
    max_token_lifetime: PositiveDuration | None = None
    rules: Annotated[tuple[WorkloadRuleConfig, ...], Field(min_length=1)]
    token_ttl: PositiveDuration = 900.0
    accept_as_password: bool = True
    jwks_refetch_interval: Duration = 30.0

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        if self.jwks_file is not None and self.jwks_uri is not None:
            raise PydanticCustomError(
                "key_source", "jwks_file and jwks_uri are exclusive: name one key source"
            )
        if self.jwks_file is not None:
            if not self.jwks_file.is_file():
                raise PydanticCustomError(
                    "file_missing",
                    "jwks_file: no such file: {path}",
                    {"path": str(self.jwks_file)},
                )
            try:
                document = json.loads(self.jwks_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                document = None
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                raise PydanticCustomError(
                    "jwks_file",
                    "jwks_file: expected a JWKS document (a JSON object with a 'keys' list) "
                    "in {path}",
                    {"path": str(self.jwks_file)},
                )
        return self


class AccessRuleConfig(ConfigModel):
    """Identities (by subject or group) that may use connections (by name or tags).

    A connection matches when its name is in ``connections`` (``"*"``: every connection) or it
    carries every tag in ``tags``. An identity matches when its subject is in ``subjects`` or
    it is in one of ``groups``.
    """

    connections: tuple[Text, ...] = ()
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)
    groups: tuple[GroupName, ...] = ()
    subjects: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if not self.connections and not self.tags:
            raise PydanticCustomError(
                "access_rule", "name the connections (connections: [...] or tags: {...})"
            )
        if not self.groups and not self.subjects:
            raise PydanticCustomError("access_rule", "name who (groups: [...] or subjects: [...])")
        return self


class RoleConfig(ConfigModel):
    groups: tuple[GroupName, ...] = ()
    subjects: tuple[Text, ...] = ()


class RolesConfig(ConfigModel):
    """API roles. Every signed-in identity is a ``user``; these add the others."""

    admin: RoleConfig = Field(default_factory=RoleConfig)
    auditor: RoleConfig = Field(default_factory=RoleConfig)
    approver: RoleConfig = Field(default_factory=RoleConfig)


class ExchangeConfig(ConfigModel):
    """RFC 8693 token exchange at ``POST /oauth/token``."""

    enabled: bool = True
    # Upper bound for every Proctor token the gateway issues from an external credential.
    max_ttl: PositiveDuration = 12 * 3600.0


class IdentityConfig(ConfigModel):
    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {
        "roles": dict,
        "exchange": dict,
    }

    # How people's browsers reach the HTTP listener (redirect URIs are built from it).
    # Default: http://ADDRESS:PORT of listeners.http.
    public_url: HttpUrl | None = None
    providers: tuple[OidcProviderConfig, ...] = ()
    saml: tuple[SamlProviderConfig, ...] = ()
    workload: tuple[WorkloadIssuerConfig, ...] = ()
    access: tuple[AccessRuleConfig, ...] = ()  # empty: every identity may use every connection
    roles: RolesConfig
    exchange: ExchangeConfig
    # How often live sessions are checked for revoked tokens.
    revalidate_interval: PositiveDuration = 2.0
    # Key that encrypts providers' refresh tokens at rest (enables `proctor login` refresh).
    refresh_token_key: Text | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        seen: dict[str, str] = {}
        named = [(f"providers[{i}]", p.name) for i, p in enumerate(self.providers)]
        named += [(f"saml[{i}]", s.name) for i, s in enumerate(self.saml)]
        named += [(f"workload[{i}]", w.name) for i, w in enumerate(self.workload)]
        for where, name in named:
            if name in seen:
                raise PydanticCustomError(
                    "duplicate_name",
                    f"duplicate provider name {name!r}: used by {seen[name]} and {where}",
                )
            seen[name] = where
        return self

    def shown_value(self, field_name: str) -> object:
        shown = super().shown_value(field_name)
        if (
            field_name == "refresh_token_key"
            and shown is not None
            and not self.uses_reference("refresh_token_key")
        ):
            return HIDDEN
        return shown


def connection_names_used(identity: IdentityConfig) -> list[tuple[tuple[Any, ...], str]]:
    """(key path, name) of every connection name the identity section refers to."""
    out: list[tuple[tuple[Any, ...], str]] = []
    for i, rule in enumerate(identity.access):
        for j, name in enumerate(rule.connections):
            if name != "*":
                out.append((("identity", "access", i, "connections", j), name))
    for i, issuer in enumerate(identity.workload):
        for j, wrule in enumerate(issuer.rules):
            for k, name in enumerate(wrule.connections):
                out.append((("identity", "workload", i, "rules", j, "connections", k), name))
    return out


# SAML providers build on the field types above, so their module imports this one: the field
# `IdentityConfig.saml` is completed once both are loaded.
from proctor.config.saml import SamlProviderConfig  # noqa: E402

IdentityConfig.model_rebuild()
