"""Frozen value types shared by every layer: nothing here does I/O."""

from proctor.model.approval import (
    AccessGrant,
    ApprovalEvent,
    ApprovalRequest,
    Decision,
    RequestKind,
    RequestStatus,
    Scope,
)
from proctor.model.connection import Connection, Credential, TlsMode, UpstreamTls
from proctor.model.identity import Identity
from proctor.model.session import SessionEnd, SessionStart, StatementRecord
from proctor.model.statement import (
    WRITE_OPERATIONS,
    Access,
    Action,
    Feature,
    Operation,
    RelationRef,
    Statement,
    Verdict,
)
from proctor.model.token import IssuedToken, TokenRecord

__all__ = [
    "WRITE_OPERATIONS",
    "Access",
    "AccessGrant",
    "Action",
    "ApprovalEvent",
    "ApprovalRequest",
    "Connection",
    "Credential",
    "Decision",
    "Feature",
    "Identity",
    "IssuedToken",
    "Operation",
    "RelationRef",
    "RequestKind",
    "RequestStatus",
    "Scope",
    "SessionEnd",
    "SessionStart",
    "Statement",
    "StatementRecord",
    "TlsMode",
    "TokenRecord",
    "UpstreamTls",
    "Verdict",
]
