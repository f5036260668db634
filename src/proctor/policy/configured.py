"""The policy a configuration names (``policy: {file: ...}``), or the built-in one."""

from __future__ import annotations

from proctor.config import ProctorConfig
from proctor.policy.engine import Policy


def load_configured_policy(config: ProctorConfig) -> Policy:
    """Load the configured policy file; ``PolicyError`` when it is invalid.

    Without a ``policy`` section this is ``Policy.builtin()``: every statement the analyzer
    can classify is allowed, and every statement it cannot is refused.
    """
    if config.policy is None:
        return Policy.builtin()
    return Policy.load(config.policy.file)
