"""Who is on the other end of a connection, once verified."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified identity.

    ``issuer`` says who vouched for it: ``proctor`` for gateway-issued tokens, an OIDC issuer
    URL, a SAML entity id or a workload issuer later on. ``(issuer, subject)`` is unique.
    """

    subject: str
    groups: frozenset[str] = frozenset()
    issuer: str = "proctor"
    display_name: str | None = None
    email: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    # The id (not the secret) of the Proctor token the identity authenticated with.
    token_id: str | None = None

    @property
    def is_machine(self) -> bool:
        return self.subject.startswith(("ci:", "agent:", "svc:"))
