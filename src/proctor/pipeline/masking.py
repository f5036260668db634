"""Which masker a session gets: the configured profiles, chosen by the policy.

``proctor.yaml`` declares profiles (``masking.profiles``); the policy's ``masking`` section
picks one per session by identity, connection, client and time (docs/masking.md). Both are
checked together when the gateway starts (and by ``proctor config check``): a policy naming
a profile that does not exist is a configuration error, never a surprise at connect time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from proctor.config import ProctorConfig
from proctor.config.masking import BUILTIN_PROFILE
from proctor.masking import Masker, Profile, ProfileError
from proctor.model import Connection, Identity
from proctor.policy import Policy
from proctor.policy.context import DecisionContext


class MaskingSetupError(Exception):
    """A profile is invalid or the policy names one that does not exist (safe to show)."""

    def __init__(self, file: str, path: str, message: str) -> None:
        super().__init__(f"{file}: {path}: {message}")
        self.file = file
        self.path = path
        self.message = message


def load_profiles(config: ProctorConfig, policy: Policy) -> dict[str, Profile]:
    """Validate every configured profile and the policy's references to them."""
    profiles: dict[str, Profile] = {BUILTIN_PROFILE: Profile(name=BUILTIN_PROFILE)}
    for name, body in config.masking.profiles.items():
        try:
            profiles[name] = Profile.from_dict({"name": name, **body})
        except ProfileError as exc:
            raise MaskingSetupError(
                str(config.config_path), f"masking.profiles.{name}", str(exc)
            ) from None
    missing = sorted(policy.masking_profiles() - profiles.keys())
    if missing:
        known = ", ".join(sorted(profiles))
        raise MaskingSetupError(
            policy.source,
            "masking",
            f"names profile(s) {', '.join(missing)} that {config.config_path} does not "
            f"declare under masking.profiles (known: {known})",
        )
    return profiles


class MaskerChooser:
    """Per worker: builds each profile's `Masker` once (compiled detectors are shared by
    sessions; per-result state lives in column plans) and picks one per session."""

    __slots__ = ("_maskers", "_policy", "_profiles")

    def __init__(self, profiles: Mapping[str, Profile], policy: Policy) -> None:
        self._profiles = dict(profiles)
        self._policy = policy
        self._maskers: dict[str, Masker] = {}

    @property
    def used(self) -> bool:
        """Whether any session can be masked at all (else the relay skips the machinery)."""
        return bool(self._policy.masking_profiles())

    def warm(self) -> None:
        """Compile the profiles the policy uses now, not on a client's first query."""
        for name in self._policy.masking_profiles():
            self.masker(name)

    def masker(self, name: str) -> Masker:
        masker = self._maskers.get(name)
        if masker is None:
            masker = self._maskers[name] = Masker(self._profiles[name])
        return masker

    def __call__(
        self, identity: Identity, connection: Connection, client_addr: str | None, protocol: str
    ) -> Masker | None:
        context = DecisionContext(client_addr=client_addr, now=datetime.now(UTC), protocol=protocol)
        name = self._policy.masking_profile(identity, connection, context)
        return None if name is None else self.masker(name)
