"""Frozen value types shared by every layer: nothing here does I/O."""

from proctor.model.connection import Connection, Credential, TlsMode, UpstreamTls
from proctor.model.identity import Identity
from proctor.model.session import SessionEnd, SessionStart, StatementRecord
from proctor.model.token import IssuedToken, TokenRecord

__all__ = [
    "Connection",
    "Credential",
    "Identity",
    "IssuedToken",
    "SessionEnd",
    "SessionStart",
    "StatementRecord",
    "TlsMode",
    "TokenRecord",
    "UpstreamTls",
]
