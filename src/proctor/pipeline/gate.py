"""The per-command hooks every protocol adapter runs before forwarding: analyze, decide, record.

One ``CommandGate`` per session (made by a factory per connection, never shared: one
session's prepared statements must never inform another's decisions). The adapter passes the
command text; the gate returns the verdict, having recorded the command with that verdict
*before* the adapter forwards anything (audit before forward).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final, Protocol

from proctor.model import (
    Action,
    Connection,
    Identity,
    Operation,
    Statement,
    StatementRecord,
    Verdict,
)
from proctor.policy.context import DecisionContext
from proctor.recording.writer import SessionRecorder

# Enum members and values read per statement, looked up once: compiled code reaches a member
# through the enum class's Python-level __getattr__ hook (~0.2 µs) and ``.value`` through a
# Python property (~0.3 µs); a module constant and ``_value_`` cost a load.
_DENY: Final = Action.DENY
_REVIEW: Final = Action.REVIEW
_PREPARE: Final = Operation.PREPARE


class Analyze(Protocol):
    def __call__(
        self,
        text: str,
        prepared: Mapping[str, Statement] | None = None,
        *,
        standard_conforming_strings: bool = True,
    ) -> Statement: ...


PreparedNames = Callable[[str], Mapping[str, Statement]]


class PolicyDecider(Protocol):
    def decide(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> Verdict: ...


class GateObserver(Protocol):
    def statement(self, connection: str, verdict: str) -> None: ...
    def denial(self, connection: str, rule: str) -> None: ...


class RecordingUnavailableError(Exception):
    """The command cannot be recorded, so it must not run."""


class CommandGate:
    __slots__ = (
        "_analyze",
        "_client_addr",
        "_connection",
        "_events",
        "_identity",
        "_observer",
        "_policy",
        "_prepared",
        "_prepared_names",
        "_protocol",
        "_recorder",
        "_session_id",
    )

    def __init__(
        self,
        *,
        session_id: str,
        identity: Identity,
        connection: Connection,
        analyze: Analyze,
        prepared_names: PreparedNames,
        policy: PolicyDecider,
        recorder: SessionRecorder,
        observer: GateObserver,
        client_addr: str | None,
        protocol: str,
    ) -> None:
        self._session_id = session_id
        self._identity = identity
        self._connection = connection
        self._analyze = analyze
        self._prepared_names = prepared_names
        self._policy = policy
        self._recorder = recorder
        self._observer = observer
        self._client_addr = client_addr
        self._protocol = protocol
        # SQL-level PREPAREd statements of this session, so EXECUTE is judged by what it runs.
        self._prepared: dict[str, Statement] = {}
        self._events = 0

    def check(
        self,
        text: str,
        kind: str,
        statement: Statement | None = None,
        *,
        standard_conforming_strings: bool = True,
    ) -> tuple[Statement, Verdict]:
        """Analyze (unless ``statement`` is given), decide and record one command.

        Raises RecordingUnavailableError when the command could not be recorded.
        """
        if not self._recorder.healthy:
            raise RecordingUnavailableError
        if statement is None:
            # With standard_conforming_strings off, backslashes in '...' literals escape
            # quotes, which PostgreSQL's parser (always "on" in libpg_query) would misread.
            statement = self._analyze(
                text,
                self._prepared or None,
                standard_conforming_strings=standard_conforming_strings,
            )
        now = datetime.now(UTC)
        context = DecisionContext(client_addr=self._client_addr, now=now, protocol=self._protocol)
        verdict = self._policy.decide(statement, self._identity, self._connection, context)
        action = verdict.action
        action_name: str = action._value_
        self.record(
            text=statement.redacted_text or text,
            kind=kind,
            verdict=action_name,
            rule=verdict.rule,
            at=now,
        )
        connection = self._connection.name
        self._observer.statement(connection, action_name)
        if action is _DENY or action is _REVIEW:
            # A refusal by the connection's default has no rule: count it as "default".
            self._observer.denial(connection, verdict.rule or "default")
        if verdict.allowed and _PREPARE in statement.effects:
            self._prepared.update(self._prepared_names(text))
        return statement, verdict

    def output(self, data: bytes) -> None:
        """What the client was sent (results already masked), for the session recording."""
        self._recorder.output(data)

    @property
    def recording_backlogged(self) -> bool:
        """The recording is behind by more than it may hold: read no more results for now."""
        return self._recorder.backlogged

    @property
    def recording_ok(self) -> bool:
        """Whether commands may run: their recording can be written."""
        return self._recorder.healthy

    def record(
        self,
        *,
        text: str,
        kind: str,
        verdict: str,
        rule: str | None = None,
        error: str | None = None,
        at: datetime | None = None,
    ) -> None:
        self._events += 1
        self._recorder.statement(
            StatementRecord(
                session_id=self._session_id,
                seq=self._events,
                at=at or datetime.now(UTC),
                text=text,
                kind=kind,
                verdict=verdict,
                error=error,
                rule=rule,
            )
        )
