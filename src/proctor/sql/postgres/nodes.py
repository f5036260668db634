"""What the PostgreSQL walker knows about parse tree node types: the nodes with nothing below
them that matters, statement-named nodes that are parts of a statement, the operation a
statement node stands for, and how to read a qualified name and a DefElem's boolean."""

from __future__ import annotations

from typing import Any

from proctor.model import Operation
from proctor.sql._tree import Node, unwrap
from proctor.sql.catalog import STATEMENT_OPERATIONS

Op = Operation

# Nodes with nothing below them that matters (names, constants, column references).
_LEAVES = frozenset(
    {
        "String",
        "Integer",
        "Float",
        "Boolean",
        "BitString",
        "A_Const",
        "A_Star",
        "ColumnRef",
        "ParamRef",
        "TypeName",
        "Alias",
        "RoleSpec",
        "SQLValueFunction",
        "LockingClause",  # FOR UPDATE OF <from-item names>: aliases, not relations
        "CurrentOfExpr",
        "TriggerTransition",
    }
)
# Node types named like statements that are parts of one (ALTER TABLE ... REPLICA IDENTITY).
_STATEMENT_PARTS = frozenset({"ReplicaIdentityStmt"})
_FALSE_WORDS = frozenset({"false", "off", "no", "0", "f", "n"})


def _operation(kind: str, body: Node) -> Operation:
    if kind == "SelectStmt":
        return Op.CREATE if body.get("intoClause") else Op.SELECT
    if kind in ("GrantStmt", "GrantRoleStmt"):
        return Op.GRANT if body.get("is_grant") else Op.REVOKE
    if kind == "AlterDefaultPrivilegesStmt":
        return Op.GRANT if (body.get("action") or {}).get("is_grant") else Op.REVOKE
    return STATEMENT_OPERATIONS.get(kind, Op.UNKNOWN)


def _qualified(names: list[str] | None) -> tuple[str | None, str] | None:
    if not names or len(names) > 3:
        return None
    if len(names) == 1:
        return None, names[0]
    return names[-2], names[-1]


def _def_bool(arg: Any) -> bool:
    """A DefElem's boolean value as PostgreSQL's defGetBoolean reads it; unreadable → True."""
    wrapped = unwrap(arg)
    if wrapped is None:
        return True
    kind, body = wrapped
    if kind == "Integer":
        return int(body.get("ival", 0)) != 0
    if kind == "Boolean":
        return bool(body.get("boolval", False))
    if kind == "String":
        word = str(body.get("sval", "")).lower()
        if word in _FALSE_WORDS:
            return False
    return True
