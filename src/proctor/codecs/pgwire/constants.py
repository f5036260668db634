"""Protocol constants (PostgreSQL docs, "Message Formats")."""

from __future__ import annotations

PROTOCOL_V3 = 196608  # 3.0
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102

# PostgreSQL's own MAX_STARTUP_PACKET_LENGTH.
MAX_STARTUP_PACKET = 10_000

# Frontend message types (after startup).
F_QUERY = ord("Q")
F_PARSE = ord("P")
F_BIND = ord("B")
F_EXECUTE = ord("E")
F_DESCRIBE = ord("D")
F_CLOSE = ord("C")
F_SYNC = ord("S")
F_FLUSH = ord("H")
F_FUNCTION_CALL = ord("F")
F_COPY_DATA = ord("d")
F_COPY_DONE = ord("c")
F_COPY_FAIL = ord("f")
F_TERMINATE = ord("X")
F_PASSWORD = ord("p")  # also SASLInitialResponse / SASLResponse / GSSResponse

FRONTEND_TYPES = frozenset(
    {
        F_QUERY,
        F_PARSE,
        F_BIND,
        F_EXECUTE,
        F_DESCRIBE,
        F_CLOSE,
        F_SYNC,
        F_FLUSH,
        F_FUNCTION_CALL,
        F_COPY_DATA,
        F_COPY_DONE,
        F_COPY_FAIL,
        F_TERMINATE,
        F_PASSWORD,
    }
)

# Backend message types.
B_AUTHENTICATION = ord("R")
B_BACKEND_KEY_DATA = ord("K")
B_PARAMETER_STATUS = ord("S")
B_READY_FOR_QUERY = ord("Z")
B_ERROR_RESPONSE = ord("E")
B_NOTICE_RESPONSE = ord("N")
B_NOTIFICATION = ord("A")
B_COMMAND_COMPLETE = ord("C")
B_ROW_DESCRIPTION = ord("T")
B_DATA_ROW = ord("D")
B_EMPTY_QUERY = ord("I")
B_PARSE_COMPLETE = ord("1")
B_BIND_COMPLETE = ord("2")
B_CLOSE_COMPLETE = ord("3")
B_PORTAL_SUSPENDED = ord("s")
B_NO_DATA = ord("n")
B_PARAMETER_DESCRIPTION = ord("t")
B_COPY_IN = ord("G")
B_COPY_OUT = ord("H")
B_COPY_BOTH = ord("W")
B_COPY_DATA = ord("d")
B_COPY_DONE = ord("c")
B_FUNCTION_CALL_RESPONSE = ord("V")
B_NEGOTIATE_PROTOCOL = ord("v")

# Authentication request codes (inside 'R').
AUTH_OK = 0
AUTH_CLEARTEXT = 3
AUTH_MD5 = 5
AUTH_SASL = 10
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12

# Transaction status bytes in ReadyForQuery.
TX_IDLE = ord("I")
TX_IN_BLOCK = ord("T")
TX_FAILED = ord("E")
