"""One client connection to the PostgreSQL listener: handshake, then relay, then close.

Handshake order, and why:
1. Startup packets: SSLRequest (TLS is started before anything else is read; bytes pipelined
   before the TLS handshake are refused, as PostgreSQL does since CVE-2021-23214),
   GSSENCRequest (always declined), CancelRequest (routed, then closed).
2. The client's password is a Proctor access token, requested in cleartext; this is allowed
   only under TLS or from loopback unless configured, since the token is a bearer secret.
3. The identity is resolved, then the connection named by the startup ``database``.
4. The session is opened in the recorder *before* upstream is contacted: an attempt that fails
   upstream is still on record.
5. Upstream: TLS as configured, the gateway's own credential, the server's ParameterStatus
   forwarded, its BackendKeyData replaced by a key the gateway issues (so a client never
   learns, and cannot cancel, anything but its own session).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import UTC, datetime

from proctor.adapters.postgres.hold import Held, waiting_notice
from proctor.adapters.postgres.ports import (
    CancelTarget,
    ClientIO,
    PgContext,
    UpstreamIO,
    UpstreamTlsError,
)
from proctor.adapters.postgres.relay import Relay, refusal_text
from proctor.adapters.postgres.results import ResultMasking, stats_json
from proctor.adapters.postgres.startup_options import (
    OptionsError,
    as_set_statement,
    startup_settings,
)
from proctor.adapters.postgres.upstream_auth import UpstreamAuthenticator, UpstreamAuthError
from proctor.adapters.postgres.upstream_tls import negotiate_tls
from proctor.codecs.pgwire import (
    BackendScanner,
    CancelRequest,
    FrontendFramer,
    GssEncRequest,
    ProtocolError,
    SslRequest,
    StartupFramer,
    StartupMessage,
    decode,
    encode,
)
from proctor.codecs.pgwire.constants import (
    AUTH_CLEARTEXT,
    AUTH_OK,
    B_AUTHENTICATION,
    B_BACKEND_KEY_DATA,
    B_ERROR_RESPONSE,
    B_NEGOTIATE_PROTOCOL,
    B_PARAMETER_STATUS,
    B_READY_FOR_QUERY,
    F_PASSWORD,
)
from proctor.codecs.pgwire.encodings import python_codec
from proctor.identity.authenticator import AuthenticationError
from proctor.masking import MaskingStats
from proctor.model import AccessGrant, Connection, Identity, SessionEnd, SessionStart
from proctor.pipeline.gate import CommandGate
from proctor.policy.context import DecisionContext
from proctor.recording.writer import RecordingUnavailable, SessionRecorder
from proctor.sql import prepared_statements

log = logging.getLogger("proctor.postgres")

# Startup parameters a client may not pass upstream: the gateway sets user and database, and
# replication connections bypass the SQL layer entirely.
_RESERVED_PARAMS = frozenset({"user", "database", "replication"})
_ALL_TYPES = frozenset(range(256))
# While the recording is behind, how often to look whether it caught up.
BACKLOG_POLL_SECONDS = 0.02


class SessionRefused(Exception):
    """Ends the handshake with a FATAL error to the client."""

    def __init__(self, sqlstate: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.hint = hint


def new_session_id() -> str:
    return "ses_" + secrets.token_hex(10)


class PgSession:
    def __init__(self, ctx: PgContext, client: ClientIO) -> None:
        self.ctx = ctx
        self.client = client
        self.id = new_session_id()
        self.identity: Identity | None = None
        self.connection: Connection | None = None
        self.upstream: UpstreamIO | None = None
        self.relay: Relay | None = None
        self._review_task: asyncio.Task[None] | None = None
        self._backlog_timer: asyncio.TimerHandle | None = None
        self.access_grant: AccessGrant | None = None  # the JIT grant that admitted us
        self._recorder: SessionRecorder | None = None
        self._cancel_pid: int | None = None
        self._closed = False
        self._end_reason = "handshake_failed"
        self._client_rest = b""
        self._client_encoding = "UTF8"
        self._scs = True
        # What masking replaced in this session (counts only), kept for the session's end row.
        self._masked = MaskingStats()
        self.closed_event = asyncio.Event()

    # -- handshake -------------------------------------------------------------------------

    async def handshake(self) -> bool:
        """Run until the relay starts (True) or the connection is finished (False)."""
        try:
            startup = await self._read_startup()
            if startup is None:
                return False
            await self._authenticate(startup)
            await self._connect_upstream(startup)
            return True
        except SessionRefused as exc:
            self._fatal(exc.sqlstate, str(exc), exc.hint)
        except ProtocolError as exc:
            self.ctx.observer.protocol_error("client")
            self._fatal(exc.sqlstate, f"protocol violation: {exc}")
        except UpstreamAuthError as exc:
            self._end_reason = "upstream_refused"
            log.warning("upstream_auth_failed", extra=self._log_fields(error=str(exc)))
            self._fatal("08004", f"could not open connection {self._conn_name()}: {exc}")
        except UpstreamTlsError as exc:
            self._end_reason = "upstream_tls_failed"
            log.warning("upstream_tls_failed", extra=self._log_fields(error=str(exc)))
            self._fatal(
                "08001", f"could not open connection {self._conn_name()}: upstream TLS: {exc}"
            )
        except (OSError, asyncio.IncompleteReadError, EOFError) as exc:
            log.info("handshake_io_error", extra=self._log_fields(error=type(exc).__name__))
            if self.upstream is not None:
                # The client is waiting for its session: tell it the upstream side failed.
                self._end_reason = "upstream_gone"
                self._fatal("08006", f"connection to {self._conn_name()} failed during start-up")
        self.close("handshake_failed")
        return False

    async def refuse_after_startup(self, sqlstate: str, message: str) -> None:
        """Read the startup packet (negotiating TLS if asked), then refuse with FATAL."""
        try:
            if await self._read_startup() is not None:
                self._fatal(sqlstate, message)
        except ProtocolError:
            pass
        self.close(self._end_reason, record=False)

    def _conn_name(self) -> str:
        return self.connection.name if self.connection else "?"

    async def _read_startup(self) -> StartupMessage | None:
        framer = StartupFramer()
        tls_done = False
        while True:
            packet = framer.feed(b"")
            while packet is None:
                data = await self.client.read()
                if not data:
                    return None
                packet = framer.feed(data)
            if isinstance(packet, SslRequest):
                if tls_done or not self.client.tls_available:
                    self.client.write(b"N")
                    continue
                if framer.take_remaining():
                    raise ProtocolError("received unencrypted data after SSL request")
                self.client.write(b"S")
                await self.client.start_tls()
                tls_done = True
                continue
            if isinstance(packet, GssEncRequest):
                self.client.write(b"N")
                continue
            if isinstance(packet, CancelRequest):
                self._end_reason = "cancel_request"
                await self.ctx.cancel_keys.cancel(packet.pid, packet.secret)
                self.close("cancel_request", record=False)
                return None
            self._client_rest = framer.take_remaining()
            return packet

    async def _read_client_message(self, framer: FrontendFramer) -> tuple[int, bytes]:
        data = self._client_rest
        self._client_rest = b""
        while True:
            messages, _ = framer.feed(data)
            if messages:
                first = messages[0]
                if len(messages) > 1:
                    self._client_rest = b"".join(m.encode() for m in messages[1:])
                return first.type, first.body
            data = await self.client.read()
            if not data:
                raise EOFError

    async def _authenticate(self, startup: StartupMessage) -> None:
        params = startup.params
        if startup.minor != 0 or startup.protocol_options:
            self.client.write(encode.negotiate_protocol_version(0, startup.protocol_options))
        if params.get("replication", "false").lower() not in ("false", "off", "no", "0"):
            raise SessionRefused("0A000", "replication connections are not supported by Proctor")
        if not (
            self.client.is_tls
            or self.client.is_loopback
            or self.ctx.settings.allow_cleartext_without_tls
        ):
            raise SessionRefused(
                "28000",
                "Proctor requires TLS for token authentication",
                "connect with sslmode=require",
            )
        self.client.write(encode.authentication(AUTH_CLEARTEXT))
        framer = FrontendFramer(self.ctx.settings.max_message_size)
        mtype, body = await self._read_client_message(framer)
        if mtype != F_PASSWORD:
            raise ProtocolError(f"expected a password message, got {chr(mtype)!r}")
        token = decode.password(body)
        try:
            identity = await asyncio.to_thread(self.ctx.authenticator.authenticate, token)
        except AuthenticationError as exc:
            self.ctx.observer.auth_failed("invalid_token")
            log.info("auth_failed", extra=self._log_fields(reason="invalid_token"))
            raise SessionRefused("28P01", f"authentication failed: {exc}") from exc
        user = params.get("user")
        if user and user != identity.subject:
            self.ctx.observer.auth_failed("user_mismatch")
            raise SessionRefused(
                "28000",
                f'user "{user}" does not match the token\'s identity "{identity.subject}"',
                f"connect as user {identity.subject}, or omit the user",
            )
        self.identity = identity
        self.connection, database = self._resolve_connection(params.get("database") or "")
        self._database = database

    def _resolve_connection(self, requested: str) -> tuple[Connection, str]:
        assert self.identity is not None
        name, _, database = requested.partition("/")
        if not name:
            raise SessionRefused(
                "3D000",
                "no connection named: set the database to a Proctor connection name",
                "for example: psql 'host=… dbname=shop'",
            )
        connection = self.ctx.connections.get(name)
        if connection is None or connection.protocol != "postgres":
            raise SessionRefused("3D000", f'connection "{name}" does not exist')
        if self.ctx.authorize is not None:
            denial = self.ctx.authorize(self.identity, connection)
            if denial:
                self.ctx.observer.auth_failed("not_authorized")
                raise SessionRefused("42501", denial)
            if self.ctx.access_grant is not None:
                self.access_grant = self.ctx.access_grant(self.identity, connection)
        else:
            allowed = self.identity.claims.get("connections")
            if allowed and name not in allowed:
                raise SessionRefused(
                    "42501", f'{self.identity.subject} is not allowed to use connection "{name}"'
                )
        if database and not connection.allow_database_override:
            raise SessionRefused(
                "42501", f'connection "{name}" does not allow choosing another database'
            )
        return connection, database or connection.database or name

    def _open_recording(self) -> SessionRecorder:
        assert self.identity is not None and self.connection is not None
        start = SessionStart(
            id=self.id,
            subject=self.identity.subject,
            groups=self.identity.groups,
            connection=self.connection.name,
            database=self._database,
            protocol="postgres",
            client_addr=self.client.peer,
            started_at=datetime.now(UTC),
            token_id=self.identity.token_id,
            gateway_version=self.ctx.settings.gateway_version,
            policy_hash=self.ctx.settings.policy_hash,
        )
        try:
            return self.ctx.recorders.open(start)
        except RecordingUnavailable as exc:
            # Fail closed: no recording, no session.
            raise SessionRefused("58030", f"session recording unavailable: {exc}") from exc

    def _judge_startup_settings(self, params: dict[str, str]) -> None:
        """Run-time settings in the startup packet — parameters of their own (``role=…``) or
        inside ``options`` (``-c role=…``) — are judged as the SET statements they amount to."""
        assert self.connection is not None and self.identity is not None
        try:
            settings = startup_settings(params, _RESERVED_PARAMS)
        except OptionsError as exc:
            self._end_reason = "policy_refused"
            raise SessionRefused("42501", f"startup options refused: {exc}") from exc
        for name, value in settings:
            statement = self.ctx.analyzer.analyze(as_set_statement(name, value))
            context = DecisionContext(
                client_addr=self.client.peer_host, now=datetime.now(UTC), protocol="postgres"
            )
            verdict = self.ctx.policy.decide(statement, self.identity, self.connection, context)
            if not verdict.allowed:
                self._end_reason = "policy_refused"
                message, _, _ = refusal_text(verdict)
                raise SessionRefused("42501", f"startup option {name}: {message}")

    async def _connect_upstream(self, startup: StartupMessage) -> None:
        assert self.connection is not None and self.identity is not None
        conn = self.connection
        self._recorder = self._open_recording()
        self.ctx.observer.session_opened(conn.name)
        self._judge_startup_settings(startup.params)
        try:
            upstream = await self.ctx.network.open_upstream(conn)
        except OSError as exc:
            self._end_reason = "upstream_unreachable"
            log.warning("upstream_unreachable", extra=self._log_fields(error=str(exc)))
            raise SessionRefused(
                "08001", f"could not connect to connection {conn.name}: upstream unreachable"
            ) from exc
        self.upstream = upstream
        await negotiate_tls(upstream, conn)
        params = {k: v for k, v in startup.params.items() if k not in _RESERVED_PARAMS}
        params = {k: v for k, v in params.items() if not k.startswith("_pq_.")}
        params["user"] = conn.credential.username
        params["database"] = self._database
        upstream.write(encode.startup_message(params))
        await self._upstream_startup(upstream)

    async def _upstream_startup(self, upstream: UpstreamIO) -> None:
        assert self.connection is not None
        auth = UpstreamAuthenticator(self.connection.credential)
        scanner = BackendScanner(_ALL_TYPES, max_held=self.ctx.settings.max_message_size)
        to_client: list[bytes] = []
        while True:
            data = await upstream.read()
            if not data:
                raise UpstreamAuthError("the upstream server closed the connection during startup")
            _, messages = scanner.feed(data)
            for fm in messages:
                mtype, body = fm.type, fm.body
                if mtype == B_AUTHENTICATION:
                    code, payload = decode.authentication(body)
                    reply = auth.handle(code, payload)
                    if reply is not None:
                        upstream.write(reply)
                    if code == AUTH_OK:
                        to_client.append(encode.authentication(AUTH_OK))
                elif mtype == B_ERROR_RESPONSE:
                    self._end_reason = "upstream_refused"
                    fields = decode.fields(body)
                    # Upstream text may name the gateway's credential: log it, do not relay it.
                    log.warning(
                        "upstream_startup_error",
                        extra=self._log_fields(sqlstate=fields.get("C"), error=fields.get("M")),
                    )
                    raise SessionRefused(
                        "08004",
                        f"could not open connection {self.connection.name}: the upstream server "
                        f"refused the gateway (SQLSTATE {fields.get('C', '?')})",
                    )
                elif mtype == B_BACKEND_KEY_DATA:
                    pid, secret = decode.backend_key(body)
                    self._cancel_pid, key = self._register_cancel(pid, secret)
                    to_client.append(encode.backend_key_data(self._cancel_pid, key))
                elif mtype == B_NEGOTIATE_PROTOCOL:
                    continue
                elif mtype == B_READY_FOR_QUERY:
                    if not auth.done:
                        raise UpstreamAuthError("the server skipped authentication")
                    to_client.append(encode.message(mtype, body))
                    self.client.write(b"".join(to_client))
                    return
                else:
                    if mtype == B_PARAMETER_STATUS:
                        name, value = decode.parameter_status(body)
                        if name == "client_encoding":
                            self._client_encoding = value
                        elif name == "standard_conforming_strings":
                            self._scs = value.lower() == "on"
                    to_client.append(encode.message(mtype, body))

    def _register_cancel(self, pid: int, secret: int) -> tuple[int, int]:
        assert self.connection is not None
        return self.ctx.cancel_keys.register(
            CancelTarget(self.connection, pid, secret, on_cancel=self._client_cancel)
        )

    # -- relay -----------------------------------------------------------------------------

    def start_relay(self) -> None:
        assert self.upstream is not None and self._recorder is not None
        assert self.connection is not None
        upstream = self.upstream
        assert self.identity is not None
        gate = CommandGate(
            session_id=self.id,
            identity=self.identity,
            connection=self.connection,
            analyze=self.ctx.analyzer.analyze,
            prepared_names=prepared_statements,
            policy=self.ctx.policy,
            recorder=self._recorder,
            observer=self.ctx.observer,
            client_addr=self.client.peer_host,
            protocol="postgres",
        )
        masking = self._result_masking(gate)
        self.relay = Relay(
            connection=self.connection.name,
            gate=gate,
            observer=self.ctx.observer,
            to_client=self.client.write,
            to_upstream=upstream.write,
            on_protocol_error=self._relay_protocol_error,
            max_message_size=self.ctx.settings.max_message_size,
            client_encoding=self._client_encoding,
            standard_conforming_strings=self._scs,
            issued_pid=self.ctx.cancel_keys.issued_pid,
            masking=masking,
            on_hold=self._on_hold if self.ctx.reviews is not None else None,
            on_recording_backlog=self._recording_backlog,
        )
        self._end_reason = "open"
        log.info("session_started", extra=self._log_fields())
        self.upstream.start_relay(self.relay.upstream_data, self._upstream_eof)
        self.client.start_relay(self.relay.client_data, self._client_eof)
        if self._client_rest:
            rest, self._client_rest = self._client_rest, b""
            self.relay.client_data(rest)

    def _result_masking(self, gate: CommandGate) -> ResultMasking | None:
        """The session's result masking, when the policy gives it a masking profile."""
        choose = self.ctx.masking
        if choose is None:
            return None
        assert self.identity is not None and self.connection is not None
        masker = choose(self.identity, self.connection, self.client.peer_host, "postgres")
        if masker is None:
            return None
        connection = self.connection.name
        observer = self.ctx.observer

        session_masked = self._masked

        def record(stats: MaskingStats) -> None:
            # Counts per column and entity type only: never a value (docs/masking.md).
            gate.record(text=stats_json(stats), kind="masking", verdict="masked")
            session_masked.merge(stats)
            observer.masked_values(connection, stats.by_entity())

        log.info("masking_profile", extra=self._log_fields(profile=masker.profile.name))
        return ResultMasking(masker, python_codec(self._client_encoding), record)

    # -- statements held for review ------------------------------------------------------------

    def _on_hold(self, held: Held) -> None:
        self._review_task = asyncio.get_running_loop().create_task(self._review(held))

    async def _review(self, held: Held) -> None:
        reviews, relay = self.ctx.reviews, self.relay
        assert reviews is not None and relay is not None
        assert self.identity is not None and self.connection is not None
        statement = held.statement
        try:
            request = await reviews.request(
                identity=self.identity,
                connection=self.connection.name,
                session_id=self.id,
                text=held.text,
                redacted_text=(statement.redacted_text if statement else None) or held.text,
                rule=held.verdict.rule,
                workflow=None,
            )
        except Exception:
            log.exception("approval_request_failed", extra=self._log_fields())
            relay.settle(None, ("58030", "Proctor could not ask for approval of this statement"))
            return
        held.request = request
        log.info("statement_held", extra=self._log_fields(request=request.id))
        relay.notice(
            waiting_notice(request, reviews.url(request.id), reviews.still_needed(request))
        )
        try:
            final = await reviews.wait(request.id, request.expires_at)
        except Exception:
            log.exception("approval_wait_failed", extra=self._log_fields(request=request.id))
            relay.settle(None, ("XX000", f"waiting for request {request.id} failed"))
            return
        if self.relay is relay and not self._closed:
            relay.settle(final)

    def _client_cancel(self) -> None:
        """The client cancelled: a held statement's request is withdrawn."""
        relay = self.relay
        held = relay.holding if relay is not None else None
        reviews = self.ctx.reviews
        if held is None or reviews is None or self.identity is None:
            return
        request = held.request
        if request is None:
            return  # not asked yet: the request task will see the session's own cancel
        asyncio.get_running_loop().create_task(reviews.withdraw(request.id, self.identity.subject))

    def _relay_protocol_error(self, side: str, exc: ProtocolError) -> None:
        self.ctx.observer.protocol_error(side)
        log.warning("protocol_violation", extra=self._log_fields(side=side, error=str(exc)))
        if side == "client" and self.relay is not None and self.relay.at_message_boundary:
            self.client.write(
                encode.error_response(exc.sqlstate, f"protocol violation: {exc}", severity="FATAL")
            )
        self.close("protocol_violation")

    # -- the recording is behind -----------------------------------------------------------

    def _recording_backlog(self) -> None:
        """Read no more from the server until the recorder has caught up: its backlog stays
        bounded (so does the gateway's memory), and nothing goes unrecorded."""
        if self.upstream is None or self._closed:
            return
        self.upstream.hold_reading("recording")
        if self._backlog_timer is None:
            self.ctx.observer.recording_backlog()
            self._backlog_timer = asyncio.get_running_loop().call_later(
                BACKLOG_POLL_SECONDS, self._backlog_check
            )

    def _backlog_check(self) -> None:
        self._backlog_timer = None
        if self.upstream is None or self._closed or self.relay is None:
            return
        if not self.relay.recording_ok:
            # The recorder cannot store what it holds (fail closed): the rest of this result
            # could not be recorded, so the session ends instead of waiting for ever.
            if self.relay.at_message_boundary:
                self._fatal("58030", "the session recording cannot be written; session ended")
            self.close("recording_failed")
        elif self.relay.recording_backlogged:
            self._backlog_timer = asyncio.get_running_loop().call_later(
                BACKLOG_POLL_SECONDS, self._backlog_check
            )
        else:
            self.upstream.release_reading("recording")

    def _client_eof(self) -> None:
        if self.upstream is not None and not (self.relay and self.relay.terminating):
            # Tell the server we are leaving rather than just dropping the socket.
            self.upstream.write(encode.terminate())
        self.close("client_terminated" if self.relay and self.relay.terminating else "client_gone")

    def _upstream_eof(self) -> None:
        relay = self.relay
        if (
            relay is not None
            and not relay.terminating
            and not relay.upstream_fatal
            and relay.at_message_boundary
        ):
            self.client.write(
                encode.error_response(
                    "08006",
                    f"the upstream server of connection {self._conn_name()} closed the connection",
                    severity="FATAL",
                )
            )
        self.close(
            "client_terminated" if self.relay and self.relay.terminating else "upstream_gone"
        )

    # -- teardown --------------------------------------------------------------------------

    def _fatal(self, sqlstate: str, message: str, hint: str | None = None) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.client.write(encode.error_response(sqlstate, message, severity="FATAL", hint=hint))

    def _abandon_review(self) -> None:
        """The session ends while a statement waits: nobody needs a decision any more."""
        task, self._review_task = self._review_task, None
        if task is not None and not task.done():
            task.cancel()
        held = self.relay.holding if self.relay is not None else None
        if held is not None and held.request is not None and self.ctx.reviews is not None:
            by = self.identity.subject if self.identity is not None else "gateway"
            asyncio.get_running_loop().create_task(self.ctx.reviews.withdraw(held.request.id, by))

    def close(self, reason: str, record: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        if self._end_reason == "open" or (
            self._end_reason == "handshake_failed" and reason != "handshake_failed"
        ):
            self._end_reason = reason
        if self._cancel_pid is not None:
            self.ctx.cancel_keys.unregister(self._cancel_pid)
        self._abandon_review()
        if self._backlog_timer is not None:
            self._backlog_timer.cancel()
            self._backlog_timer = None
        if self.upstream is not None:
            self.upstream.close()
        self.client.close()
        relay = self.relay
        if self._recorder is not None and record:
            self._recorder.end(
                SessionEnd(
                    id=self.id,
                    ended_at=datetime.now(UTC),
                    reason=self._end_reason,
                    statements=relay.statements if relay else 0,
                    bytes_from_client=relay.bytes_from_client if relay else 0,
                    bytes_to_client=relay.bytes_to_client if relay else 0,
                    masked=self._masked.by_column(),
                )
            )
        if self.connection is not None and self._recorder is not None:
            self.ctx.observer.session_closed(self.connection.name, self._end_reason)
            if relay is not None:
                self.ctx.observer.bytes_moved(relay.bytes_from_client, relay.bytes_to_client)
        if relay is not None:
            log.info("session_ended", extra=self._log_fields(reason=self._end_reason))
        self.closed_event.set()

    def _log_fields(self, **extra: object) -> dict[str, object]:
        # Never the token, the password or statement text: ids and names only.
        fields: dict[str, object] = {"session": self.id, "client": self.client.peer}
        if self.identity is not None:
            fields["subject"] = self.identity.subject
        if self.connection is not None:
            fields["connection"] = self.connection.name
        fields.update(extra)
        return fields
