"""``connections:``: the targets the gateway fronts, and the credentials it holds for them."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from proctor.config.base import HIDDEN, ConfigModel
from proctor.config.fields import (
    ConnectionName,
    Host,
    Port,
    TagKey,
    TagValue,
    Text,
    absolute_path,
    path_text,
    require_file,
)
from proctor.model import Connection, Credential, TlsMode, UpstreamTls

SYSTEM_CA = "system"  # ca_file value meaning "the system's trusted CAs", as in libpq's sslrootcert
_VERIFYING_MODES = frozenset({TlsMode.VERIFY_CA, TlsMode.VERIFY_FULL})


class Protocol(enum.StrEnum):
    """Wire protocols of targets. Adding one is a new member plus its adapter."""

    POSTGRES = "postgres"


def _ca_source(value: str, info: ValidationInfo) -> str:
    return value if value == SYSTEM_CA else str(absolute_path(value, info))


# A CA bundle path (made absolute) or "system".
CaSource = Annotated[str, BeforeValidator(path_text), AfterValidator(_ca_source)]
DatabaseName = Annotated[Text, Field(max_length=63)]  # PostgreSQL's NAMEDATALEN - 1


class UpstreamTlsConfig(ConfigModel):
    """TLS from the gateway to the target; modes as libpq's sslmode."""

    mode: TlsMode = TlsMode.PREFER
    ca_file: CaSource | None = None
    server_name: Host | None = None

    @field_validator("ca_file")
    @classmethod
    def _ca_file_matches_mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("mode")
        if mode is None:  # mode itself is invalid and reported on its own
            return value
        if mode in _VERIFYING_MODES:
            if value is None:
                # Verifying against "whatever CAs the host trusts" must be a choice, not an
                # accident: a public CA can issue a certificate for an internal host name.
                raise PydanticCustomError(
                    "required_by_mode",
                    "required when tls.mode is verify-ca or verify-full: the path of a CA "
                    "bundle, or 'system' to trust the system's CAs",
                )
            return value if value == SYSTEM_CA else str(require_file(Path(value)))
        if value is not None:
            # prefer/require do not verify the server; a CA here would suggest they do.
            raise PydanticCustomError(
                "unused_for_mode", "only used when tls.mode is verify-ca or verify-full"
            )
        return value

    @field_validator("server_name")
    @classmethod
    def _server_name_needs_tls(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("mode") is TlsMode.DISABLE:
            raise PydanticCustomError("unused_for_mode", "has no effect when tls.mode is disable")
        return value


class CredentialConfig(ConfigModel):
    """What the gateway presents upstream; the client never sees it."""

    username: Annotated[Text, Field(max_length=63)]
    password: Text | None = None  # None: the target needs no password (trust, certificates)

    def shown_value(self, field_name: str) -> object:
        shown = super().shown_value(field_name)
        if field_name == "password" and shown is not None and not self.uses_reference("password"):
            return HIDDEN
        return shown


class ConnectionConfig(ConfigModel):
    omitted_sections: ClassVar[dict[str, Callable[[], object]]] = {"tls": dict}

    name: ConnectionName
    protocol: Protocol
    host: Host
    port: Port
    database: DatabaseName | None = None  # None: a database named like the connection
    allow_database_override: bool = True  # clients may ask for "name/otherdb"
    tls: UpstreamTlsConfig
    credential: CredentialConfig
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)

    @property
    def database_name(self) -> str:
        return self.database or self.name

    def to_model(self) -> Connection:
        return Connection(
            name=self.name,
            protocol=self.protocol.value,
            host=self.host,
            port=self.port,
            database=self.database_name,
            credential=Credential(self.credential.username, self.credential.password),
            tls=UpstreamTls(self.tls.mode, self._model_ca_file(), self.tls.server_name),
            tags=MappingProxyType(dict(self.tags)),
            allow_database_override=self.allow_database_override,
        )

    def _model_ca_file(self) -> str | None:
        # The model (like ssl.create_default_context) reads "no CA file" as "system CAs"; the
        # config demands that choice be spelt out, so "system" maps to None here.
        return None if self.tls.ca_file == SYSTEM_CA else self.tls.ca_file


def unique_names(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """Validate the list, and report duplicate names even when some connections are invalid.

    A plain after-validator would only run once every connection is valid, hiding a duplicate
    until the other problems are fixed; this one merges both sets of errors into one report.
    """
    duplicates = _duplicate_name_errors(value)
    try:
        connections = handler(value)
    except ValidationError as exc:
        if not duplicates:
            raise
        merged = [_as_init_details(error) for error in exc.errors()] + duplicates
        raise ValidationError.from_exception_data(exc.title, merged) from None
    if duplicates:
        raise ValidationError.from_exception_data("connections", duplicates)
    return connections


def _duplicate_name_errors(value: object) -> list[InitErrorDetails]:
    if not isinstance(value, list | tuple):
        return []
    first_index: dict[str, int] = {}
    errors: list[InitErrorDetails] = []
    for index, item in enumerate(value):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_index:
            # The message names the other entry's position, not the name: a name could come
            # from a reference, and reference values are never printed.
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError(
                        "duplicate_name",
                        f"duplicate connection name: connections[{first_index[name]}] "
                        "has the same name",
                    ),
                    loc=(index, "name"),
                    input=name,
                )
            )
        else:
            first_index[name] = index
    return errors


def _as_init_details(error: ErrorDetails) -> InitErrorDetails:
    # Re-raised errors keep their type, location, input and rendered message; their context
    # is dropped because the problem translator works from the message.
    return InitErrorDetails(
        type=PydanticCustomError(error["type"], error["msg"]),
        loc=error["loc"],
        input=error["input"],
    )
