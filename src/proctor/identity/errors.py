"""Why an external credential was refused.

Each refusal carries a short machine-readable ``reason`` (for metrics and tests; never an
identity or a value from the token) and a message that is safe to show the client: it says
what was wrong (expired, wrong audience, unknown key) but never echoes the token itself.
"""

from __future__ import annotations

from proctor.identity.authenticator import AuthenticationError


class TokenRejected(AuthenticationError):
    """An external JWT failed validation."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderUnavailable(AuthenticationError):
    """The issuer's discovery document or keys could not be fetched (a transient failure)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.reason = "provider_unavailable"


class NoMatchingRule(TokenRejected):
    """A valid workload token whose claims satisfy none of the issuer's rules."""

    def __init__(self, message: str) -> None:
        super().__init__("no_matching_rule", message)
