"""The relay: after the handshake, every byte of a PostgreSQL session passes through here.

Client → server: complete messages from the frontend framer. Commands (Query, Parse,
FunctionCall) are recorded *before* they are forwarded (audit before forward); everything
received in one read is forwarded with one write.

Server → client: the backend scanner forwards bytes as they arrive and surfaces only
ReadyForQuery, ErrorResponse and ParameterStatus.

Refusing a command without desynchronising the session: the command is replaced, on its way
upstream, by a statement that fails to parse and carries a random marker. The server then does
exactly what it does for any failing command — in the right order relative to earlier pipelined
commands, aborting the transaction block, skipping extended-protocol messages until Sync — and
the relay rewrites that one ErrorResponse (recognised by its marker) into the gateway's own.
"""

from __future__ import annotations

import logging
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from proctor.adapters.postgres.hold import Held, approval_record, outcome_error
from proctor.adapters.postgres.ports import SessionObserver
from proctor.adapters.postgres.results import INTEREST as MASKING_INTEREST
from proctor.adapters.postgres.results import RUNS as MASKING_RUNS
from proctor.adapters.postgres.results import ResultMasking
from proctor.approvals.service import statement_hash
from proctor.codecs.pgwire import (
    BackendScanner,
    FramedMessage,
    FrontendFramer,
    Message,
    ProtocolError,
    decode,
    encode,
)
from proctor.codecs.pgwire.constants import (
    B_ERROR_RESPONSE,
    B_NOTICE_RESPONSE,
    B_NOTIFICATION,
    B_PARAMETER_STATUS,
    B_READY_FOR_QUERY,
    F_BIND,
    F_CLOSE,
    F_DESCRIBE,
    F_EXECUTE,
    F_FUNCTION_CALL,
    F_PARSE,
    F_QUERY,
    F_SYNC,
    F_TERMINATE,
    TX_IDLE,
)
from proctor.codecs.pgwire.encodings import python_codec
from proctor.model import (
    Action,
    ApprovalRequest,
    Operation,
    RequestStatus,
    Scope,
    Statement,
    Verdict,
)
from proctor.pipeline.gate import CommandGate, RecordingUnavailableError

_BACKEND_INTEREST = frozenset(
    {B_READY_FOR_QUERY, B_ERROR_RESPONSE, B_PARAMETER_STATUS, B_NOTIFICATION}
)
_MARKER = "PROCTOR_REFUSED_"
# Server messages the result masking handles alone (with masking on).
_MASKED_HERE = frozenset(MASKING_INTEREST | MASKING_RUNS) - {
    B_READY_FOR_QUERY,
    B_ERROR_RESPONSE,
    B_NOTICE_RESPONSE,
    B_NOTIFICATION,
}
_COMMANDS = frozenset({F_QUERY, F_PARSE, F_FUNCTION_CALL})
# Client messages the result masking follows (to know which result a row belongs to).
_MASKING_FOLLOWS = frozenset({F_QUERY, F_PARSE, F_BIND, F_DESCRIBE, F_EXECUTE, F_CLOSE, F_SYNC})
_perf = time.perf_counter
log = logging.getLogger("proctor.postgres")
_PID = struct.Struct("!i")


@dataclass(frozen=True, slots=True)
class Refusal:
    sqlstate: str
    message: str
    detail: str | None
    hint: str | None
    cycle: int


class Relay:
    __slots__ = (
        "_backend",
        "_bytes_in",
        "_bytes_out",
        "_codec",
        "_connection",
        "_cycles_done",
        "_cycles_sent",
        "_frontend",
        "_gate",
        "_held",
        "_hold_next",
        "_masking",
        "_max_buffered",
        "_notices",
        "_observer",
        "_on_backlog",
        "_on_hold",
        "_on_protocol_error",
        "_overhead",
        "_pid_swap",
        "_preapproved",
        "_refusals",
        "_scs",
        "_seq",
        "_statement",
        "_to_client",
        "_to_upstream",
        "last_active",
        "terminating",
        "tx_status",
        "upstream_fatal",
    )

    def __init__(
        self,
        *,
        connection: str,
        gate: CommandGate,
        observer: SessionObserver,
        to_client: Callable[[bytes], None],
        to_upstream: Callable[[bytes], None],
        on_protocol_error: Callable[[str, ProtocolError], None],
        max_message_size: int,
        client_encoding: str,
        standard_conforming_strings: bool = True,
        issued_pid: Callable[[int], int | None] | None = None,
        masking: ResultMasking | None = None,
        on_hold: Callable[[Held], None] | None = None,
        on_recording_backlog: Callable[[], None] | None = None,
    ) -> None:
        self._connection = connection
        self._gate = gate
        self._observer = observer
        self._to_client = to_client
        self._to_upstream = to_upstream
        self._on_protocol_error = on_protocol_error
        self._frontend = FrontendFramer(max_message_size)
        self._max_buffered = max_message_size
        # With masking, the scanner also surfaces result shapes, and rows in runs.
        self._masking = masking
        self._backend = (
            BackendScanner(_BACKEND_INTEREST)
            if masking is None
            else BackendScanner(_BACKEND_INTEREST | MASKING_INTEREST, runs=MASKING_RUNS)
        )
        self._statement: Statement | None = None  # of the last command judged
        # Review: a statement the policy holds waits here while `on_hold` asks reviewers.
        self._on_hold = on_hold
        # Called when the recording falls too far behind the output (the session then stops
        # reading the server until it catches up).
        self._on_backlog = on_recording_backlog
        self._held: Held | None = None
        self._hold_next: tuple[str, Statement | None, Verdict] | None = None
        self._notices: list[bytes] = []
        self._preapproved: dict[str, str] = {}  # statement hash -> session-scope request
        self._codec = python_codec(client_encoding)
        self._scs = standard_conforming_strings
        self._seq = 0  # commands seen
        self._refusals: dict[str, Refusal] = {}
        self._cycles_sent = 0
        self._cycles_done = 0
        self._overhead = 0.0
        self._bytes_in = 0
        self._bytes_out = 0
        self.tx_status = TX_IDLE
        self.terminating = False
        # The server sent FATAL/PANIC: it is closing, and its error is the client's last word.
        self.upstream_fatal = False
        # Real backend pid -> the pid the gateway issued: notifications name the issued one.
        self._pid_swap = issued_pid
        # When bytes last moved either way (perf_counter seconds), for the idle timeout.
        self.last_active = _perf()

    @property
    def recording_backlogged(self) -> bool:
        return self._gate.recording_backlogged

    @property
    def recording_ok(self) -> bool:
        return self._gate.recording_ok

    @property
    def statements(self) -> int:
        return self._seq

    @property
    def bytes_from_client(self) -> int:
        return self._bytes_in

    @property
    def bytes_to_client(self) -> int:
        return self._bytes_out

    @property
    def at_message_boundary(self) -> bool:
        return self._backend.at_boundary

    # -- client → server -------------------------------------------------------------------

    def client_data(self, data: bytes) -> None:
        started = self.last_active = _perf()
        self._bytes_in += len(data)
        if self._held is not None:
            # Nothing overtakes a held statement: keep what follows until it is settled.
            self._held.buffered += data
            if len(self._held.buffered) > self._max_buffered:
                self._on_protocol_error(
                    "client",
                    ProtocolError("too much data sent while a statement waits for approval"),
                )
            return
        self._feed(data)
        self._overhead += _perf() - started

    def _feed(self, data: bytes) -> None:
        try:
            messages, complete = self._frontend.feed(data)
        except ProtocolError as exc:
            self._on_protocol_error("client", exc)
            return
        if messages:
            self._process(messages, complete)

    def _process(self, messages: list[Message], complete: bytes | None) -> None:
        """Judge, record and forward client messages; stops at a statement held for review."""
        rebuilt: list[bytes] | None = None if complete is not None else []
        for index, msg in enumerate(messages):
            mtype = msg.type
            replacement: bytes | None = None
            try:
                if mtype in _COMMANDS:
                    replacement = self._command(msg)
                    if self._hold_next is not None:
                        before = rebuilt if rebuilt is not None else messages[:index]
                        self._hold(msg, messages[index + 1 :], before)
                        return
                    if mtype != F_PARSE:
                        self._cycles_sent += 1
                elif mtype == F_SYNC:
                    self._cycles_sent += 1
                elif mtype == F_BIND and not self._gate.recording_ok:
                    # A statement prepared earlier runs with Bind/Execute alone: without a
                    # recording it must not run either (fail closed).
                    replacement = self._refuse(
                        msg,
                        "58030",
                        "Proctor refused the command: the session recording is unavailable",
                    )
                elif mtype == F_TERMINATE:
                    self.terminating = True
                replacement = self._follow(msg, replacement)
            except ProtocolError as exc:
                self._on_protocol_error("client", exc)
                return
            if replacement is not None and rebuilt is None:
                rebuilt = [m.encode() for m in messages[:index]]
            if rebuilt is not None:
                rebuilt.append(replacement if replacement is not None else msg.encode())
        out = complete if rebuilt is None else b"".join(rebuilt)
        if out:
            self._to_upstream(out)

    def _follow(self, msg: Message, replacement: bytes | None) -> bytes | None:
        """Result masking follows the commands; it may put its own Describe before one."""
        masking = self._masking
        # A replacement may be of another type (a refused Bind becomes a marker Parse).
        mtype = msg.type if replacement is None else replacement[0]
        if masking is None or mtype not in _MASKING_FOLLOWS:
            return replacement
        before = masking.client_message(
            mtype, msg.body if replacement is None else replacement[5:], self._statement
        )
        if not before:
            return replacement
        return before + (replacement if replacement is not None else msg.encode())

    # -- statements held for review ----------------------------------------------------------

    @property
    def holding(self) -> Held | None:
        return self._held

    def _hold(self, msg: Message, rest: list[Message], before: list[bytes] | list[Message]) -> None:
        text, statement, verdict = self._hold_next  # type: ignore[misc]
        self._hold_next = None
        prefix = b"".join(b if isinstance(b, bytes) else b.encode() for b in before)
        if prefix:
            self._to_upstream(prefix)
        self._held = Held(msg, text, statement, verdict, list(rest))
        assert self._on_hold is not None
        self._on_hold(self._held)

    def notice(self, text: str) -> None:
        """A NoticeResponse to the client, between whole server messages."""
        data = encode.notice_response(text)
        if self._backend.at_boundary:
            self._bytes_out += len(data)
            self._gate.output(data)  # the recording holds what the client saw, notices too
            self._to_client(data)
        else:
            self._notices.append(data)  # sent, counted and recorded with the next output

    def settle(self, request: ApprovalRequest | None, error: tuple[str, str] | None = None) -> None:
        """Run or refuse the held statement, then go on with what the client sent since.

        ``request``: the settled request (approved runs the statement); ``error``: SQLSTATE
        and message when no request could be made or awaited."""
        held = self._held
        if held is None:
            return
        self._held = None
        msg = held.msg
        replacement: bytes | None = None
        if request is not None:
            self._gate.record(
                text=approval_record(request), kind="approval", verdict=request.status.value
            )
            if request.status is RequestStatus.APPROVED:
                if request.scope is Scope.SESSION:
                    self._preapproved[statement_hash(held.text)] = request.id
            else:
                message, detail = outcome_error(request)
                replacement = self._refuse(msg, "42501", message, detail)
        else:
            sqlstate, message = error or ("XX000", "the approval request failed")
            replacement = self._refuse(msg, sqlstate, message, "The statement was not run.")
        if msg.type != F_PARSE:
            self._cycles_sent += 1
        self._statement = held.statement
        try:
            replacement = self._follow(msg, replacement)
        except ProtocolError as exc:
            self._on_protocol_error("client", exc)
            return
        self._to_upstream(replacement if replacement is not None else msg.encode())
        if held.rest:
            self._process(held.rest, None)
        if held.buffered:
            if self._held is not None:
                self._held.buffered[:0] = held.buffered
            else:
                self._feed(bytes(held.buffered))

    def _command(self, msg: Message) -> bytes | None:
        """Judge and record one command; return a replacement when it must not run."""
        mtype = msg.type
        statement: Statement | None = None
        if mtype == F_QUERY:
            text, kind = decode.query(msg.body, self._codec), "query"
        elif mtype == F_PARSE:
            text, kind = decode.parse(msg.body, self._codec).query, "parse"
        else:
            statement = function_call_statement(decode.function_call_oid(msg.body))
            text, kind = statement.text, "function-call"
            if self._masking is not None:
                # Its result is one value of a type only the OID names: it cannot be masked.
                self._seq += 1
                self._gate.record(text=text, kind=kind, verdict="deny", rule="masking")
                self._observer.statement(self._connection, "deny")
                return self._refuse(
                    msg,
                    "42501",
                    "function calls by OID are refused when results are masked",
                    "The FunctionCall protocol message returns a value Proctor cannot mask.",
                )
        self._statement = None
        self._seq += 1
        try:
            self._statement, verdict = self._gate.check(
                text, kind, statement, standard_conforming_strings=self._scs
            )
        except RecordingUnavailableError:
            # Fail closed: a command that cannot be recorded does not run.
            self._observer.statement(self._connection, "refused")
            return self._refuse(
                msg, "58030", "Proctor refused the command: the session recording is unavailable"
            )
        except Exception:
            # A bug in analysis or policy must not let the command through (fail closed) nor
            # kill the session: refuse this one command and keep going.
            log.exception("command_check_failed", extra={"connection": self._connection})
            self._observer.statement(self._connection, "refused")
            return self._refuse(
                msg, "XX000", "Proctor could not check this command, so it was not run"
            )
        if verdict.allowed:
            return None
        if verdict.action is Action.REVIEW and self._on_hold is not None:
            approved_by = self._preapproved.get(statement_hash(text))
            if approved_by is not None:
                # The reviewer approved this exact statement for the rest of the session.
                self._gate.record(
                    text=f"covered by request {approved_by} (session scope)",
                    kind="approval",
                    verdict="approved",
                )
                return None
            self._hold_next = (text, self._statement, verdict)
            return None
        return self._refuse(msg, "42501", *refusal_text(verdict))

    def _refuse(
        self,
        msg: Message,
        sqlstate: str,
        message: str,
        detail: str | None = None,
        hint: str | None = None,
    ) -> bytes:
        nonce = secrets.token_hex(8)
        marker = _MARKER + nonce
        cycle = self._cycles_sent
        self._refusals[nonce] = Refusal(sqlstate, message, detail, hint, cycle)
        if msg.type == F_PARSE:
            name = decode.parse(msg.body, self._codec).name
            body = name.encode(self._codec) + b"\x00" + marker.encode() + b"\x00\x00\x00"
            return encode.message(F_PARSE, body)
        if msg.type == F_BIND:
            # A Parse of the marker in the Bind's place: the server fails it and skips to Sync,
            # as it would for a failing Bind (the unnamed statement is the one replaced).
            return encode.message(F_PARSE, b"\x00" + marker.encode() + b"\x00\x00\x00")
        # Query and FunctionCall both answer with one error then ReadyForQuery, as a Query does.
        return encode.message(F_QUERY, marker.encode() + b"\x00")

    # -- server → client -------------------------------------------------------------------

    def upstream_data(self, data: bytes) -> None:
        started = self.last_active = _perf()
        try:
            out, found = self._backend.feed(data)
            if found:
                out = self._inspect(out, found)
        except ProtocolError as exc:
            # A malformed server message (or one masking cannot parse): end the session
            # rather than forward what could not be checked.
            self._on_protocol_error("server", exc)
            return
        if self._notices and self._backend.at_boundary:
            out = bytes(out) + b"".join(self._notices)
            self._notices.clear()
        if out:
            self._gate.output(out)
            self._bytes_out += len(out)
            self._to_client(out)
            if self._on_backlog is not None and self._gate.recording_backlogged:
                self._on_backlog()
        self._overhead += _perf() - started

    def _inspect(self, out: bytes, found: list[FramedMessage]) -> bytes:
        splices: list[tuple[int, int, bytes]] = []
        masking = self._masking
        for fm in found:
            mtype = fm.type
            if masking is not None:
                if masking.discarding and mtype != B_READY_FOR_QUERY:
                    splices.append((fm.start, fm.end, b""))
                    continue
                if mtype in _MASKED_HERE:
                    masking.handle(out, fm, splices)
                    continue
                if mtype == B_NOTICE_RESPONSE:
                    masked = masking.mask_fields(mtype, fm.body)
                    if masked is not None:
                        splices.append((fm.start, fm.end, masked))
                    continue
            if mtype == B_READY_FOR_QUERY:
                if masking is not None:
                    masking.ready()
                self.tx_status = decode.ready_status(fm.body)
                self._cycles_done += 1
                self._observer.added_latency(self._overhead)
                self._overhead = 0.0
                if self._refusals:
                    self._refusals = {
                        k: r for k, r in self._refusals.items() if r.cycle >= self._cycles_done
                    }
            elif mtype == B_ERROR_RESPONSE:
                # A unique violation quotes the key: "Key (email)=(jane@…) already exists".
                masked = masking.error(fm.body) if masking is not None else None
                fields = decode.fields(fm.body)
                text = fields.get("M", "")
                if self._refusals and _MARKER in text:
                    nonce = text.split(_MARKER, 1)[1][:16]
                    refusal = self._refusals.pop(nonce, None)
                    if refusal is not None:
                        replacement = encode.error_response(
                            refusal.sqlstate,
                            refusal.message,
                            detail=refusal.detail,
                            hint=refusal.hint,
                        )
                        splices.append((fm.start, fm.end, replacement))
                        continue
                if fields.get("V", fields.get("S")) in ("FATAL", "PANIC"):
                    self.upstream_fatal = True
                self._record_error(fields)
                if masked is not None:
                    splices.append((fm.start, fm.end, masked))
            elif mtype == B_NOTIFICATION:
                swap = self._pid_swap
                if len(fm.body) < 4:
                    continue
                pid = _PID.unpack_from(fm.body, 0)[0]
                issued = swap(pid) if swap is not None else None
                pid = pid if issued is None else issued
                replaced = masking.mask_notification(pid, fm.body) if masking else None
                if replaced is not None:
                    splices.append((fm.start, fm.end, replaced))
                elif issued is not None:
                    body = _PID.pack(issued) + fm.body[4:]
                    splices.append((fm.start, fm.end, encode.message(B_NOTIFICATION, body)))
            elif mtype == B_PARAMETER_STATUS:
                name, value = decode.parameter_status(fm.body)
                if name == "client_encoding":
                    self._codec = python_codec(value)
                    if masking is not None:
                        masking.set_codec(self._codec)
                elif name == "TimeZone" and masking is not None:
                    masking.set_timezone(value)
                elif name == "standard_conforming_strings":
                    self._scs = value.lower() == "on"
        if not splices:
            return out
        parts: list[bytes] = []
        pos = 0
        for start, end, replacement in splices:
            parts.append(out[pos:start])
            parts.append(replacement)
            pos = end
        parts.append(out[pos:])
        return b"".join(parts)

    def _record_error(self, fields: dict[str, str]) -> None:
        # Only severity and SQLSTATE: the message text can carry row values (a unique
        # violation quotes the key), and nothing unmasked may reach a recording.
        self._gate.record(
            text="",
            kind="error",
            verdict="error",
            error=f"{fields.get('V', fields.get('S', 'ERROR'))} {fields.get('C', '')}",
        )


def function_call_statement(oid: int) -> Statement:
    """The FunctionCall message names its function by OID only: nothing to analyze, so the
    command is incomplete and policy refuses it unless a rule allows such calls."""
    text = f"<function call oid={oid}>"
    return Statement(
        text=text,
        operation=Operation.CALL,
        effects=frozenset({Operation.CALL}),
        functions=frozenset({f"oid:{oid}"}),
        complete=False,
        notes=("FunctionCall protocol message: the function is known only by its OID",),
        redacted_text=text,
    )


def refusal_text(verdict: Verdict) -> tuple[str, str | None, str | None]:
    """Message, detail and hint of the error a refused command gets."""
    rule = f'policy rule "{verdict.rule}"' if verdict.rule else "the default policy"
    reason = verdict.message or "not allowed"
    if verdict.action is Action.REVIEW:
        return (
            f"approval required by {rule}: {reason}",
            "The statement was not run. Approvals are not enabled on this gateway yet, so a "
            "statement that needs review is refused.",
            None,
        )
    return (f"denied by {rule}: {reason}", "The statement was not run.", None)
