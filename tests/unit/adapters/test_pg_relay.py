"""The relay's logic with in-memory sides: recording before forwarding, one write per read,
and refusals that keep the session in step with the server."""

from __future__ import annotations

import struct

from proctor.adapters.postgres.relay import Relay
from proctor.codecs.pgwire import BackendScanner, ProtocolError, decode, encode
from proctor.model import StatementRecord


class Recorder:
    def __init__(self) -> None:
        self.healthy = True
        self.records: list[StatementRecord] = []

    def statement(self, record: StatementRecord) -> None:
        self.records.append(record)

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


class Harness:
    def __init__(self) -> None:
        self.to_client: list[bytes] = []
        self.to_upstream: list[bytes] = []
        self.errors: list[ProtocolError] = []
        self.recorder = Recorder()
        self.observer = Observer()
        self.relay = Relay(
            session_id="ses_test",
            connection="shop",
            recorder=self.recorder,
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
    h.relay.client_data(parse("s1", "delete from t") + bind + encode.message("S", b""))
    msgs = h.upstream_messages()
    assert [m[0] for m in msgs] == ["P", "B", "S"]
    p = decode.parse(msgs[0][1])
    assert p.name == "s1" and p.query.startswith("PROCTOR_REFUSED_")
    assert msgs[1][1] == bind[5:]


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
