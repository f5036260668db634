"""What the PostgreSQL adapter needs from the server layer and the rest of the gateway.

The server layer owns sockets and TLS; it hands the adapter these small interfaces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from proctor.identity.authenticator import Authenticator
from proctor.masking import Masker
from proctor.model import AccessGrant, ApprovalRequest, Connection, Identity, Statement
from proctor.pipeline.gate import PolicyDecider
from proctor.recording.writer import RecorderFactory


class UpstreamTlsError(Exception):
    """TLS towards the upstream server could not be established (the reason is safe to show)."""


class StatementAnalyzer(Protocol):
    def analyze(
        self,
        text: str,
        prepared: Mapping[str, Statement] | None = None,
        *,
        standard_conforming_strings: bool = True,
    ) -> Statement: ...


class StreamIO(Protocol):
    """One side of a proxied connection."""

    @property
    def peer(self) -> str: ...
    async def read(self) -> bytes:
        """Handshake phase only: the next received bytes, b"" at EOF."""
        ...

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def start_relay(self, on_data: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        """Switch from read() to callbacks; data already buffered is delivered first."""
        ...

    def hold_reading(self, reason: str) -> None:
        """Deliver no more data until ``release_reading(reason)`` (holds may overlap)."""
        ...

    def release_reading(self, reason: str) -> None: ...


class ClientIO(StreamIO, Protocol):
    @property
    def peer_host(self) -> str | None:
        """The client's IP address (no port); None for a Unix socket."""
        ...

    @property
    def is_tls(self) -> bool: ...
    @property
    def is_loopback(self) -> bool: ...
    @property
    def tls_available(self) -> bool: ...
    async def start_tls(self) -> None: ...


class UpstreamIO(StreamIO, Protocol):
    async def start_tls(self, connection: Connection) -> None:
        """Raises UpstreamTlsError when the handshake or the certificate check fails."""
        ...


class Network(Protocol):
    async def open_upstream(self, connection: Connection) -> UpstreamIO: ...


@dataclass(frozen=True, slots=True)
class CancelTarget:
    connection: Connection
    pid: int
    secret: int
    # The session's own reaction to its client's cancel (withdrawing a held statement);
    # called by the worker that owns the session, before the cancel goes upstream.
    on_cancel: Callable[[], None] | None = field(default=None, compare=False)


class CancelKeys(Protocol):
    def register(self, target: CancelTarget) -> tuple[int, int]:
        """Issue the (pid, secret) the client sees for this upstream backend."""
        ...

    def unregister(self, pid: int) -> None: ...
    def issued_pid(self, real_pid: int) -> int | None:
        """The pid issued for a real backend pid of any session of this gateway."""
        ...

    async def cancel(self, pid: int, secret: int) -> None:
        """Forward a CancelRequest to whichever upstream backend the key names, if any."""
        ...


class Reviews(Protocol):
    """Approvals as a session sees them: ask, wait, give up (see proctor.approvals)."""

    async def request(
        self,
        *,
        identity: Identity,
        connection: str,
        session_id: str,
        text: str,
        redacted_text: str,
        rule: str | None,
        workflow: str | None,
    ) -> ApprovalRequest:
        """Create the request (and notify reviewers)."""
        ...

    async def wait(self, request_id: str, expires_at: datetime) -> ApprovalRequest:
        """Until the request is settled; past ``expires_at`` it is expired and returned."""
        ...

    async def withdraw(self, request_id: str, by: str) -> None: ...

    def url(self, request_id: str) -> str | None: ...

    def still_needed(self, request: ApprovalRequest) -> str: ...


class SessionObserver(Protocol):
    """Metrics hooks. Labels never carry identities, statement text or values."""

    def session_opened(self, connection: str) -> None: ...
    def session_closed(self, connection: str, outcome: str) -> None: ...
    def auth_failed(self, reason: str) -> None: ...
    def statement(self, connection: str, verdict: str) -> None: ...
    def bytes_moved(self, client_to_server: int, server_to_client: int) -> None: ...
    def protocol_error(self, side: str) -> None: ...
    def added_latency(self, seconds: float) -> None: ...
    def denial(self, connection: str, rule: str) -> None: ...
    def masked_values(self, connection: str, counts: dict[str, int]) -> None:
        """Values masked in one result, by entity type (counts only)."""
        ...

    def recording_backlog(self) -> None:
        """A session stopped reading its server until the recording caught up."""
        ...


@dataclass(frozen=True, slots=True)
class PgSettings:
    max_message_size: int
    allow_cleartext_without_tls: bool
    gateway_version: str
    protocol: str = "postgres"
    policy_hash: str | None = None  # the policy in force, recorded with each session


@dataclass(frozen=True, slots=True)
class PgContext:
    """Everything a PostgreSQL session needs; one per worker, shared by its sessions."""

    settings: PgSettings
    connections: Mapping[str, Connection]
    authenticator: Authenticator
    recorders: RecorderFactory
    network: Network
    cancel_keys: CancelKeys
    observer: SessionObserver
    policy: PolicyDecider
    analyzer: StatementAnalyzer
    # May this identity open this connection? None when allowed, else the message to show.
    # Without it, only a token's own connection scope is checked.
    authorize: Callable[[Identity, Connection], str | None] | None = None
    # The just-in-time access grant an authorized session relies on (None: the access
    # rules allow it anyway); the worker ends the session when that grant ends.
    access_grant: Callable[[Identity, Connection], AccessGrant | None] | None = None
    # Which masker a session gets (identity, connection, client address, protocol); None
    # when no session is masked.
    masking: Callable[[Identity, Connection, str | None, str], Masker | None] | None = None
    # Statements the policy sends to review wait for a decision; None: they are refused.
    reviews: Reviews | None = None
