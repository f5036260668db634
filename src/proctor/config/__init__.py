"""Loading and validating ``proctor.yaml``.

``load_config(path)`` returns a frozen ``ProctorConfig`` (secrets resolved, paths absolute,
durations in seconds, sizes in bytes) or raises ``ConfigError`` listing every problem with
file, line, key path and expected-vs-found. ``config_warnings(config)`` lists what loads but
deserves attention (literal passwords, unreachable connections).

Imports only ``proctor.model``, pydantic, PyYAML and the standard library.
"""

from proctor.config.advice import config_warnings
from proctor.config.connections import (
    ConnectionConfig,
    CredentialConfig,
    Protocol,
    UpstreamTlsConfig,
)
from proctor.config.errors import ConfigError, ConfigProblem
from proctor.config.loader import load_config
from proctor.config.schema import CONFIG_VERSION, ProctorConfig
from proctor.config.sections import (
    GatewayConfig,
    HttpListenerConfig,
    ListenersConfig,
    ListenerTlsConfig,
    ListenerTlsMode,
    LogLevel,
    PolicyConfig,
    PostgresListenerConfig,
    RecordingsConfig,
    StoreConfig,
)

__all__ = [
    "CONFIG_VERSION",
    "ConfigError",
    "ConfigProblem",
    "ConnectionConfig",
    "CredentialConfig",
    "GatewayConfig",
    "HttpListenerConfig",
    "ListenerTlsConfig",
    "ListenerTlsMode",
    "ListenersConfig",
    "LogLevel",
    "PolicyConfig",
    "PostgresListenerConfig",
    "ProctorConfig",
    "Protocol",
    "RecordingsConfig",
    "StoreConfig",
    "UpstreamTlsConfig",
    "config_warnings",
    "load_config",
]
