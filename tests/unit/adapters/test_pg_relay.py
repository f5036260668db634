"""The relay's logic with in-memory sides: recording before forwarding, one write per read,
and refusals that keep the session in step with the server."""

from __future__ import annotations

import struct
from typing import Any

from proctor.adapters.postgres.relay import Relay
from proctor.codecs.pgwire import BackendScanner, ProtocolError, decode, encode
from proctor.model import Connection, Credential, Identity, StatementRecord
from proctor.pipeline.gate import CommandGate
from proctor.policy import Policy
from proctor.sql import Analyzer, prepared_statements

POLICY: dict[str, Any] = {
    "version": 1,
    "default": "allow",
    "rules": [
        {
            "name": "no-drop",
            "action": "deny",
            "message": "dropping tables is not allowed here",
            "match": {"operations": ["drop"]},
        },
        {
            "name": "review-deletes",
            "action": "review",
            "message": "deletes need a second pair of eyes",
            "match": {"operations": ["delete"]},
        },
    ],
}


class Recorder:
    def __init__(self) -> None:
        self.healthy = True
        self.backlogged = False
        self.records: list[StatementRecord] = []
        self.outputs: list[bytes] = []

    def statement(self, record: StatementRecord) -> None:
        self.records.append(record)

    def output(self, data: bytes) -> None:
        self.outputs.append(data)

    def end(self, end: object) -> None:
        pass


class Observer:
    def __init__(self) -> None:
        self.verdicts: list[str] = []
        self.latencies: list[float] = []

    def session_opened(self, connection: str) -> None: ...
    def session_closed(self, connection: str, outcome: str) -> None: ...
    def auth_failed(self, reason: str) -> None: ...
    def statement(self, connection: str, verdict: str) -> None:
        self.verdicts.append(verdict)

    def bytes_moved(self, a: int, b: int) -> None: ...
    def protocol_error(self, side: str) -> None: ...
    def added_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def denial(self, connection: str, rule: str) -> None:
        self.verdicts.append(f"denial:{rule}")


class Harness:
    def __init__(self, policy: dict[str, Any] | None = None, analyze: Any = None) -> None:
        self.to_client: list[bytes] = []
        self.to_upstream: list[bytes] = []
        self.errors: list[ProtocolError] = []
        self.recorder = Recorder()
        self.observer = Observer()
        gate = CommandGate(
            session_id="ses_test",
            identity=Identity(subject="alice", groups=frozenset({"analyst"})),
            connection=Connection(
                name="shop",
                protocol="postgres",
                host="127.0.0.1",
                port=5432,
                database="shop",
                credential=Credential(username="app"),
            ),
            analyze=analyze or Analyzer().analyze,
            prepared_names=prepared_statements,
            policy=Policy.from_dict(policy or POLICY),
            recorder=self.recorder,
            observer=self.observer,
            client_addr="127.0.0.1",
            protocol="postgres",
        )
        self.relay = Relay(
            connection="shop",
            gate=gate,
            observer=self.observer,
            to_client=self.to_client.append,
            to_upstream=self.to_upstream.append,
            on_protocol_error=lambda side, exc: self.errors.append(exc),
            max_message_size=1 << 20,
            client_encoding="UTF8",
        )

    def upstream_messages(self) -> list[tuple[str, bytes]]:
        _, found = BackendScanner(frozenset(range(256))).feed(b"".join(self.to_upstream))
        return [(chr(m.type), m.body) for m in found]

    def client_messages(self) -> list[tuple[str, bytes]]:
        _, found = BackendScanner(frozenset(range(256))).feed(b"".join(self.to_client))
        return [(chr(m.type), m.body) for m in found]


def q(sql: str) -> bytes:
    return encode.message("Q", sql.encode() + b"\x00")


def parse(name: str, sql: str) -> bytes:
    return encode.message(
        "P", name.encode() + b"\x00" + sql.encode() + b"\x00" + struct.pack("!h", 0)
    )


def ready(status: bytes = b"I") -> bytes:
    return encode.message("Z", status)


def test_commands_are_recorded_before_forwarding_in_one_write() -> None:
    h = Harness()
    data = q("select 1") + parse("s1", "select $1") + encode.message("S", b"")
    h.relay.client_data(data)
    assert h.to_upstream == [data]  # one write, bytes untouched
    assert [(r.kind, r.text, r.seq) for r in h.recorder.records] == [
        ("query", "select 1", 1),
        ("parse", "select $1", 2),
    ]
    assert h.relay.statements == 2


def test_partial_messages_wait_for_the_rest() -> None:
    h = Harness()
    data = q("select 42")
    h.relay.client_data(data[:3])
    assert h.to_upstream == [] and h.recorder.records == []
    h.relay.client_data(data[3:])
    assert h.to_upstream == [data]


def test_refusal_when_recording_is_unavailable_replaces_the_command() -> None:
    h = Harness()
    h.recorder.healthy = False
    h.relay.client_data(q("drop table customers"))
    ((kind, body),) = h.upstream_messages()
    assert kind == "Q"
    sent = decode.query(body)
    assert sent.startswith("PROCTOR_REFUSED_") and "drop" not in sent
    assert h.observer.verdicts == ["refused"]
    assert h.recorder.records == []  # nothing could be recorded: nothing ran
    # The server rejects the marker; the relay turns that error into the gateway's own.
    server_error = encode.error_response("42601", f'syntax error at or near "{sent}"')
    h.relay.upstream_data(server_error + ready())
    (etype, ebody), (ztype, _) = h.client_messages()
    fields = decode.fields(ebody)
    assert (etype, ztype) == ("E", "Z")
    assert fields["C"] == "58030" and "recording is unavailable" in fields["M"]
    assert "PROCTOR_REFUSED" not in fields["M"]


def test_refused_parse_keeps_statement_name_and_the_rest_of_the_batch() -> None:
    h = Harness()
    h.recorder.healthy = False
    bind = encode.message("B", b"\x00s1\x00\x00\x00\x00\x00\x00\x00")
    h.relay.client_data(parse("s1", "drop table t") + bind + encode.message("S", b""))
    msgs = h.upstream_messages()
    # The Bind is refused too (a prepared statement must not run unrecorded either): it
    # becomes a marker Parse, which the server skips after the first error anyway.
    assert [m[0] for m in msgs] == ["P", "P", "S"]
    p = decode.parse(msgs[0][1])
    assert p.name == "s1" and p.query.startswith("PROCTOR_REFUSED_")
    assert decode.parse(msgs[1][1]).query.startswith("PROCTOR_REFUSED_")


def test_bind_of_an_earlier_statement_is_refused_without_a_recording() -> None:
    h = Harness()
    h.relay.client_data(parse("s1", "select 1") + encode.message("S", b""))
    h.recorder.healthy = False
    bind = encode.message("B", b"\x00s1\x00\x00\x00\x00\x00\x00\x00")
    execute = encode.message("E", b"\x00\x00\x00\x00\x00")
    h.relay.client_data(bind + execute + encode.message("S", b""))
    msgs = h.upstream_messages()[2:]
    assert [m[0] for m in msgs] == ["P", "E", "S"]
    marker = decode.parse(msgs[0][1]).query
    assert marker.startswith("PROCTOR_REFUSED_")
    error = encode.error_response("42601", f'syntax error at or near "{marker}"')
    h.relay.upstream_data(error + ready())
    codes = [decode.fields(b)["C"] for t, b in h.client_messages() if t == "E"]
    assert codes == ["58030"]


def test_only_the_marked_error_is_rewritten() -> None:
    h = Harness()
    h.relay.client_data(q("select * from nope"))
    h.recorder.healthy = False
    h.relay.client_data(q("select 2"))
    marker = decode.query(h.upstream_messages()[1][1])
    real = encode.error_response("42P01", 'relation "nope" does not exist')
    mine = encode.error_response("42601", f'syntax error at or near "{marker}"')
    h.relay.upstream_data(real + ready() + mine + ready())
    codes = [decode.fields(b)["C"] for t, b in h.client_messages() if t == "E"]
    assert codes == ["42P01", "58030"]


def test_stale_refusals_are_dropped_when_their_cycle_ends() -> None:
    h = Harness()
    # First message of the batch fails for real: the server skips the refused Parse.
    h.relay.client_data(parse("", "select 1/0"))
    h.recorder.healthy = False
    h.relay.client_data(parse("", "select 2") + encode.message("S", b""))
    h.relay.upstream_data(encode.error_response("22012", "division by zero") + ready())
    assert h.relay._refusals == {}


def test_errors_record_only_sqlstate_not_message_text() -> None:
    h = Harness()
    h.relay.client_data(q("insert into users values ('bob@example.com')"))
    h.relay.upstream_data(
        encode.error_response("23505", "duplicate key", detail="Key (email)=(bob@example.com)")
        + ready()
    )
    error = h.recorder.records[-1]
    assert error.kind == "error" and error.error == "ERROR 23505"
    assert "bob@example.com" not in repr(error)


def test_ready_for_query_tracks_status_and_latency() -> None:
    h = Harness()
    h.relay.client_data(q("begin"))
    h.relay.upstream_data(encode.message("C", b"BEGIN\x00") + ready(b"T"))
    assert h.relay.tx_status == ord("T")
    assert len(h.observer.latencies) == 1 and h.observer.latencies[0] >= 0


def test_client_encoding_change_is_followed() -> None:
    h = Harness()
    h.relay.upstream_data(encode.parameter_status("client_encoding", "LATIN1"))
    h.relay.client_data(q("select 'x'")[:-3] + "é'".encode("latin-1") + b"\x00")
    assert h.recorder.records[-1].text.endswith("é'")


def test_protocol_violation_is_reported_not_forwarded() -> None:
    h = Harness()
    h.relay.client_data(b"\x00\x00\x00\x00\x05")
    assert h.errors and h.to_upstream == []


def test_terminate_is_noticed() -> None:
    h = Harness()
    h.relay.client_data(encode.terminate())
    assert h.relay.terminating and h.to_upstream == [encode.terminate()]


def test_policy_denial_names_the_rule_and_keeps_the_session_in_step() -> None:
    h = Harness()
    h.relay.client_data(q("/* harmless */ DrOp TABLE customers"))
    ((_kind, body),) = h.upstream_messages()
    marker = decode.query(body)
    assert marker.startswith("PROCTOR_REFUSED_")
    record = h.recorder.records[-1]
    assert (record.verdict, record.rule, record.kind) == ("deny", "no-drop", "query")
    h.relay.upstream_data(
        encode.error_response("42601", f'syntax error at or near "{marker}"') + ready()
    )
    (_, ebody), (ztype, _) = h.client_messages()
    fields = decode.fields(ebody)
    assert fields["C"] == "42501" and ztype == "Z"
    assert fields["M"] == 'denied by policy rule "no-drop": dropping tables is not allowed here'
    assert "denial:no-drop" in h.observer.verdicts


def test_review_is_refused_until_approvals_exist() -> None:
    h = Harness()
    h.relay.client_data(q("with d as (delete from t where id = 1 returning *) select * from d"))
    marker = decode.query(h.upstream_messages()[0][1])
    h.relay.upstream_data(encode.error_response("42601", f'at or near "{marker}"') + ready())
    fields = decode.fields(h.client_messages()[0][1])
    assert fields["M"].startswith('approval required by policy rule "review-deletes"')


def test_a_batch_with_one_denied_statement_is_refused_whole() -> None:
    h = Harness()
    h.relay.client_data(q("select 1; drop table t; select 2"))
    ((_, body),) = h.upstream_messages()
    assert decode.query(body).startswith("PROCTOR_REFUSED_")


def test_sql_prepare_and_execute_are_judged_by_what_they_run() -> None:
    h = Harness()
    h.relay.client_data(q("prepare p as select 1"))
    h.relay.client_data(q("execute p"))
    assert [decode.query(b) for _, b in h.upstream_messages()] == [
        "prepare p as select 1",
        "execute p",
    ]
    h.relay.client_data(q("prepare d as drop table t"))
    assert decode.query(h.upstream_messages()[-1][1]).startswith("PROCTOR_REFUSED_")


def test_function_call_message_is_refused_unless_allowed() -> None:
    h = Harness()
    call = encode.message("F", struct.pack("!IhhhihI", 1598, 0, 1, 0, 0, 0, 0)[:-4] + b"\x00\x00")
    h.relay.client_data(call)
    ((kind, body),) = h.upstream_messages()
    assert kind == "Q" and decode.query(body).startswith("PROCTOR_REFUSED_")
    assert h.recorder.records[-1].kind == "function-call"


def test_refusals_by_the_default_action_are_counted_as_default() -> None:
    h = Harness({"version": 1, "default": "deny"})
    h.relay.client_data(q("select 1"))
    assert "denial:default" in h.observer.verdicts
    assert h.recorder.records[-1].verdict == "deny" and h.recorder.records[-1].rule is None


def test_a_failing_check_refuses_the_command_and_keeps_the_session() -> None:
    def broken(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("analyzer bug")

    h = Harness(analyze=broken)
    h.relay.client_data(q("select 1"))
    ((kind, body),) = h.upstream_messages()
    assert kind == "Q" and decode.query(body).startswith("PROCTOR_REFUSED_")
    assert h.observer.verdicts == ["refused"]


def test_malformed_server_row_in_a_masked_session_ends_it_without_forwarding() -> None:
    from proctor.adapters.postgres.results import ResultMasking
    from proctor.masking import Masker

    h = Harness()
    errors: list[tuple[str, ProtocolError]] = []
    sent: list[bytes] = []
    relay = Relay(
        connection="shop",
        gate=h.relay._gate,
        observer=h.observer,
        to_client=sent.append,
        to_upstream=lambda b: None,
        on_protocol_error=lambda side, exc: errors.append((side, exc)),
        max_message_size=1 << 20,
        client_encoding="UTF8",
        masking=ResultMasking(Masker(), "utf-8", lambda stats: None),
    )
    relay.client_data(q("select email from t"))
    field = b"email\x00" + struct.pack("!IhIhih", 0, 0, 25, -1, -1, 0)
    rowdesc = encode.message("T", struct.pack("!h", 1) + field)
    # The cell claims 100 bytes but the row holds 5: the masker cannot read it.
    bad_row = encode.message("D", struct.pack("!hi", 1, 100) + b"a@b.c")
    relay.upstream_data(rowdesc + bad_row + ready())
    assert [side for side, _ in errors] == ["server"]
    assert b"a@b.c" not in b"".join(sent) and not sent


def test_output_the_recording_cannot_keep_up_with_stops_the_reading() -> None:
    h = Harness()
    waits: list[int] = []
    relay = Relay(
        connection="shop",
        gate=h.relay._gate,
        observer=h.observer,
        to_client=h.to_client.append,
        to_upstream=h.to_upstream.append,
        on_protocol_error=lambda side, exc: h.errors.append(exc),
        max_message_size=1 << 20,
        client_encoding="UTF8",
        on_recording_backlog=lambda: waits.append(1),
    )
    relay.client_data(q("select 1"))
    relay.upstream_data(ready())
    assert waits == [] and not relay.recording_backlogged
    h.recorder.backlogged = True
    relay.upstream_data(ready())
    # Delivered and recorded all the same: only the next read waits.
    assert waits == [1] and relay.recording_backlogged
    assert h.recorder.outputs[-1] == ready() and h.to_client[-1] == ready()
