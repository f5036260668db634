"""Protocol errors raised by the codec: always a clear message, never a crash."""

from __future__ import annotations


class ProtocolError(Exception):
    """The peer sent bytes the protocol does not allow.

    ``sqlstate`` is what the gateway reports to a client (08P01 protocol_violation by default,
    54000 program_limit_exceeded for oversized messages).
    """

    def __init__(self, message: str, sqlstate: str = "08P01") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
