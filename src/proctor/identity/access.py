"""Authorization: which identities may use which connections, and API roles.

Connection access comes from ``identity.access`` rules. Without any rule every identity may use
every connection (Proctor's behaviour before rules existed); with rules, access is denied unless
a rule grants it. A token's own connection scope narrows further, never widens.

Denials are meant to be read by the person denied, so they name the person, the connection
and what to do next: ``alice is not allowed to use pg-prod; ask for access with
`proctor request pg-prod```.

API roles: every authenticated identity is a ``user``; ``admin``, ``auditor`` and
``approver`` come from ``identity.roles`` (by subject or group). ``admin`` implies the others.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence

from proctor.config.identity import AccessRuleConfig, RoleConfig, RolesConfig
from proctor.model import Connection, Identity


def denial_message(subject: str, connection: str) -> str:
    return (
        f"{subject} is not allowed to use {connection}; "
        f"ask for access with `proctor request {connection}`"
    )


class AccessPolicy:
    def __init__(self, rules: Sequence[AccessRuleConfig]) -> None:
        self._rules = list(rules)

    @property
    def restricts(self) -> bool:
        return bool(self._rules)

    def allows(self, identity: Identity, connection: Connection) -> bool:
        scope = identity.claims.get("connections")
        if scope and connection.name not in scope:
            return False
        if not self._rules:
            return True
        return any(
            _rule_covers(rule, connection) and _rule_names(rule, identity) for rule in self._rules
        )

    def denial(self, identity: Identity, connection: Connection) -> str | None:
        """None when allowed, else the message to show the client."""
        if self.allows(identity, connection):
            return None
        return denial_message(identity.subject, connection.name)

    def allowed(self, identity: Identity, connections: Iterable[Connection]) -> frozenset[str]:
        return frozenset(c.name for c in connections if self.allows(identity, c))


def _rule_covers(rule: AccessRuleConfig, connection: Connection) -> bool:
    if "*" in rule.connections or connection.name in rule.connections:
        return True
    if rule.tags:
        return all(connection.tags.get(k) == v for k, v in rule.tags.items())
    return False


def _rule_names(rule: AccessRuleConfig, identity: Identity) -> bool:
    return identity.subject in rule.subjects or bool(identity.groups & set(rule.groups))


class Role(enum.StrEnum):
    ADMIN = "admin"
    AUDITOR = "auditor"
    APPROVER = "approver"
    USER = "user"


class RoleResolver:
    """The API roles of an identity (for the HTTP API and admin commands)."""

    def __init__(self, roles: RolesConfig | None) -> None:
        self._roles: Mapping[Role, RoleConfig] = (
            {Role.ADMIN: roles.admin, Role.AUDITOR: roles.auditor, Role.APPROVER: roles.approver}
            if roles is not None
            else {}
        )

    def roles(self, identity: Identity) -> frozenset[Role]:
        found = {Role.USER}
        for role, config in self._roles.items():
            if identity.subject in config.subjects or identity.groups & set(config.groups):
                found.add(role)
        if Role.ADMIN in found:
            found.update({Role.AUDITOR, Role.APPROVER})
        return frozenset(found)

    def has(self, identity: Identity, role: Role) -> bool:
        return role in self.roles(identity)
