"""``ProctorConfig``: the whole validated ``proctor.yaml``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ClassVar, Self

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    WrapValidator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from proctor.config.approvals import ApprovalsConfig
from proctor.config.base import ConfigModel
from proctor.config.connections import ConnectionConfig, unique_names
from proctor.config.fields import context_config_path
from proctor.config.identity import IdentityConfig, connection_names_used
from proctor.config.masking import MaskingConfig
from proctor.config.sections import (
    GatewayConfig,
    ListenersConfig,
    PolicyConfig,
    RecordingsConfig,
    StoreConfig,
)
from proctor.model import Connection

CONFIG_VERSION = 1


def _supported_version(value: object) -> int:
    # Compared by value, not parsed as an int first: "version: yes" (a YAML boolean) must not
    # pass as 1, and "expected 1" is a clearer answer to "version: one" than "not a number".
    if isinstance(value, bool) or value not in (CONFIG_VERSION, str(CONFIG_VERSION)):
        raise PydanticCustomError(
            "version",
            f"expected {CONFIG_VERSION} (the only configuration version this Proctor reads)",
        )
    return CONFIG_VERSION


ConfigVersion = Annotated[int, BeforeValidator(_supported_version)]


class ProctorConfig(ConfigModel):
    """The validated configuration: secrets resolved, paths absolute, units in seconds/bytes.

    Build it with ``proctor.config.load_config``. Validating a dict directly works too; pass
    ``context={"config_path": Path}`` so relative paths resolve against that file's directory.
    """

    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {
        "gateway": dict,
        "listeners": dict,
        "store": dict,
        "recordings": dict,
        "connections": list,
    }

    version: ConfigVersion
    gateway: GatewayConfig
    listeners: ListenersConfig
    store: StoreConfig
    recordings: RecordingsConfig
    connections: Annotated[tuple[ConnectionConfig, ...], WrapValidator(unique_names)] = ()
    # None: the built-in policy (see docs/policy.md).
    policy: PolicyConfig | None = None
    # None: Proctor access tokens only (see docs/identity.md).
    identity: IdentityConfig | None = None
    # Masking profiles the policy chooses from (see docs/masking.md).
    masking: MaskingConfig = Field(default_factory=MaskingConfig)
    # Who reviews held statements and access requests (see docs/approvals.md).
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)

    _config_path: Path = PrivateAttr(default_factory=lambda: Path.cwd() / "proctor.yaml")

    @model_validator(mode="after")
    def _remember_config_path(self, info: ValidationInfo) -> Self:
        self._config_path = context_config_path(info) or Path.cwd() / "proctor.yaml"
        return self

    @model_validator(mode="after")
    def _identity_names_known_connections(self) -> Self:
        if self.identity is None:
            return self
        known = {connection.name for connection in self.connections}
        errors = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "unknown_connection",
                    f"no connection named {name!r} (connections: {', '.join(sorted(known))})"
                    if known
                    else f"no connection named {name!r} (there are no connections)",
                ),
                loc=path,
                input=name,
            )
            for path, name in connection_names_used(self.identity)
            if name not in known
        ]
        if errors:
            raise ValidationError.from_exception_data("ProctorConfig", errors)
        return self

    @property
    def config_path(self) -> Path:
        """Absolute path of the file this configuration was loaded from."""
        return self._config_path

    def connection_models(self) -> dict[str, Connection]:
        """Connection name -> the frozen ``proctor.model.Connection`` the gateway works with."""
        return {connection.name: connection.to_model() for connection in self.connections}

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the effective configuration.

        Secret values are not part of it: a value that used a reference contributes the
        reference text, a literal password a fixed placeholder. So the fingerprint changes
        when the configuration changes, not when a secret is rotated, and can be published.
        """
        canonical = json.dumps(
            self.public_view(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
