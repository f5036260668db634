"""``gateway:``, ``listeners:``, ``store:`` and ``recordings:``: how the gateway itself runs."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from proctor.config.base import HIDDEN, ConfigModel
from proctor.config.fields import (
    ByteSize,
    ConfigPath,
    Duration,
    Host,
    Port,
    PositiveCount,
    Text,
    Workers,
    base_dir,
    duration_between,
    require_file,
    size_between,
)
from proctor.config.recordings import RecordingStorageConfig
from proctor.config.retention import RetentionConfig

KIB = 1024
GIB = 1024**3


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class GatewayConfig(ConfigModel):
    workers: Workers = 1  # "auto": one per CPU this process may use
    drain_timeout: Annotated[Duration, Field(ge=0)] = 30.0
    # Must be positive: a client that never finishes startup must not hold a slot forever.
    handshake_timeout: Annotated[Duration, Field(gt=0)] = 10.0
    idle_timeout: Annotated[Duration, Field(ge=0)] = 0.0  # 0: sessions may idle forever
    # PostgreSQL itself refuses messages above 1 GiB; below 1 KiB even a startup fails.
    max_message_size: Annotated[ByteSize, size_between(KIB, GIB, "1KiB", "1GiB")] = 64 * 1024**2
    max_connections: PositiveCount = 1000  # per worker
    state_dir: ConfigPath = Path(".proctor")
    log_level: LogLevel = LogLevel.INFO


class ListenerTlsMode(enum.StrEnum):
    AUTO = "auto"  # self-signed CA and certificate generated once, kept in state_dir
    FILES = "files"  # cert_file and key_file
    OFF = "off"


class ListenerTlsConfig(ConfigModel):
    mode: ListenerTlsMode = ListenerTlsMode.AUTO
    cert_file: ConfigPath | None = None
    key_file: ConfigPath | None = None

    @field_validator("cert_file", "key_file")
    @classmethod
    def _files_match_mode(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        mode = info.data.get("mode")
        if mode is ListenerTlsMode.FILES:
            if value is None:
                raise PydanticCustomError("required_by_mode", "required when tls.mode is files")
            return require_file(value)
        if value is not None and mode is not None:
            # Set but ignored is the worst case: the operator believes their certificate is used.
            raise PydanticCustomError("unused_for_mode", "only used when tls.mode is files")
        return value


class PostgresListenerConfig(ConfigModel):
    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {"tls": dict}

    address: Host = "127.0.0.1"
    port: Port = 15432
    tls: ListenerTlsConfig
    # Tokens sent over plain TCP can be sniffed; by default only loopback clients may do so.
    allow_cleartext_without_tls: bool = False


class HttpListenerConfig(ConfigModel):
    address: Host = "127.0.0.1"
    port: Port = 18080


class ListenersConfig(ConfigModel):
    # postgres stays None when omitted: no PostgreSQL listener. http always exists.
    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {"http": dict}

    postgres: PostgresListenerConfig | None = None
    http: HttpListenerConfig


_POSTGRES_SCHEMES = ("postgresql", "postgres")


def _store_url(value: str, info: ValidationInfo) -> str:
    scheme, separator, rest = value.partition("://")
    scheme = scheme.lower()
    if separator and scheme == "sqlite":
        return _absolute_sqlite_url(rest, info)
    if separator and (scheme in _POSTGRES_SCHEMES or scheme.startswith("postgresql+")):
        return value
    raise PydanticCustomError(
        "store_url", "expected a URL such as sqlite:///state.db or postgresql://user@host/db"
    )


def _absolute_sqlite_url(rest: str, info: ValidationInfo) -> str:
    # SQLAlchemy's form: sqlite:///relative/path, sqlite:////absolute/path, sqlite:///:memory:
    location, question, query = rest.partition("?")
    if not location.startswith("/") or location == "/":
        raise PydanticCustomError("store_url", "expected sqlite:///PATH (three slashes)")
    path_text = location[1:]
    if path_text == ":memory:":
        return f"sqlite:///{rest[1:]}"
    path = Path(path_text)
    if not path.is_absolute():
        path = base_dir(info) / path
    return f"sqlite:///{path}{question}{query}"


StoreUrl = Annotated[Text, AfterValidator(_store_url)]


class StoreConfig(ConfigModel):
    url: StoreUrl = "sqlite:///state.db"

    def shown_value(self, field_name: str) -> object:
        shown = super().shown_value(field_name)
        if field_name == "url" and isinstance(shown, str):
            return redact_url_password(shown)
        return shown


class RecordingFailure(enum.StrEnum):
    REFUSE = "refuse"
    CONTINUE = "continue"


class RecordingsConfig(ConfigModel):
    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {
        "storage": dict,
        "retention": dict,
    }

    dir: ConfigPath = Path("recordings")  # where storage.kind local keeps them
    storage: RecordingStorageConfig
    # false: no tamper-evident recording (the store's session index only). For benchmarks
    # and development; an audited deployment keeps it on.
    enabled: bool = True
    # Tamper-evident recordings (docs/recording-format.md): signing keys and the KEK live
    # here, outside the recordings and the database.
    keys_dir: ConfigPath = Path("recording-keys")
    encrypt: bool = True  # payloads under per-session AES-256-GCM keys wrapped by the KEK
    checkpoint_every: Annotated[int, Field(ge=1, le=1_000_000)] = 1000  # events
    checkpoint_interval: Duration = 5.0  # seconds: the most a crash can lose
    # The most often a worker signs a ledger tree head while it records (one blob each: a
    # busy worker at 1s stores ~86,000 a day, and `proctor verify` reads every one).
    head_interval: Annotated[Duration, duration_between(1.0, 3600.0, "1s", "1h")] = 1.0
    # Result bytes a worker may hold for the recorder before sessions wait for it (MiB).
    max_backlog_mb: Annotated[int, Field(ge=1, le=65_536)] = 64
    # A recording that cannot be written: refuse commands and new sessions (fail closed),
    # or "continue" (logged and counted; the audit trail then has a hole).
    on_failure: RecordingFailure = RecordingFailure.REFUSE
    retention: RetentionConfig = Field(default_factory=RetentionConfig)  # docs/recordings.md


class PolicyConfig(ConfigModel):
    """``policy:``: where the guardrail policy is (its contents: ``proctor.policy``)."""

    file: ConfigPath

    @field_validator("file")
    @classmethod
    def _file_exists(cls, value: Path) -> Path:
        return require_file(value)


def redact_url_password(url: str) -> str:
    """``postgresql://app:s3cret@db/x`` -> ``postgresql://app:<hidden>@db/x``.

    A password written as a reference (``${env:PW}``) is kept: it is not a secret.
    """
    scheme, separator, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not separator or not at or ":" not in userinfo:
        return url
    user, _, password = userinfo.partition(":")
    if password.startswith("${") and password.endswith("}") and password.count("${") == 1:
        return url
    return f"{scheme}://{user}:{HIDDEN}@{host}{slash}{tail}"
