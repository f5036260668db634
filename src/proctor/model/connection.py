"""A target the gateway fronts, and the credential it uses upstream."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class TlsMode(enum.StrEnum):
    """TLS towards the upstream server, named as libpq names sslmode."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


@dataclass(frozen=True, slots=True)
class UpstreamTls:
    mode: TlsMode = TlsMode.PREFER
    ca_file: str | None = None
    server_name: str | None = None


@dataclass(frozen=True, slots=True)
class Credential:
    """What the gateway presents upstream. The client never sees any of it.

    ``password`` is the resolved secret; ``repr`` hides it so it cannot reach a log line.
    """

    username: str
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Connection:
    name: str
    protocol: str
    host: str
    port: int
    database: str | None
    credential: Credential
    tls: UpstreamTls = UpstreamTls()
    tags: Mapping[str, str] = field(default_factory=dict)
    # Whether clients may pick another database on the same server with "name/otherdb".
    allow_database_override: bool = True
