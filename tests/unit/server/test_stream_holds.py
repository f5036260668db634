"""Reading from one side of the relay pauses for overlapping reasons (a slow peer, a
recording that is behind) and resumes only when none is left."""

from __future__ import annotations

from proctor.server.streams import StreamProtocol


class Transport:
    def __init__(self) -> None:
        self.paused = False
        self.calls: list[str] = []
        self.closing = False

    def pause_reading(self) -> None:
        self.paused = True
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.paused = False
        self.calls.append("resume")

    def is_closing(self) -> bool:
        return self.closing


def _side() -> tuple[StreamProtocol, Transport]:
    side = StreamProtocol()
    transport = Transport()
    side.transport = transport  # type: ignore[assignment]
    return side, transport


def test_reading_resumes_only_when_every_hold_is_released() -> None:
    upstream, transport = _side()
    client, _ = _side()
    client.flow_peer = upstream
    client.pause_writing()  # the client cannot take more
    upstream.hold_reading("recording")  # and the recorder is behind
    assert transport.paused and transport.calls == ["pause"]
    client.resume_writing()  # the client drained: the recording still holds reading
    assert transport.paused
    upstream.release_reading("recording")
    assert not transport.paused and transport.calls == ["pause", "resume"]


def test_releasing_what_was_not_held_changes_nothing() -> None:
    upstream, transport = _side()
    upstream.release_reading("recording")
    upstream.hold_reading("recording")
    upstream.hold_reading("recording")
    upstream.release_reading("peer_slow")
    assert transport.calls == ["pause"] and transport.paused
    upstream.release_reading("recording")
    assert transport.calls == ["pause", "resume"]


def test_a_closing_transport_is_left_alone() -> None:
    upstream, transport = _side()
    transport.closing = True
    upstream.hold_reading("recording")
    upstream.release_reading("recording")
    assert transport.calls == []
