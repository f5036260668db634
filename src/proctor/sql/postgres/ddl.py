"""Walker handlers for schema changes and privileges: which relations CREATE, ALTER, DROP,
RENAME, COMMENT, TRUNCATE, LOCK, VACUUM, GRANT and CREATE SCHEMA ... write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proctor.model import Operation
from proctor.sql._tree import Node, unwrap
from proctor.sql.catalog import GRANT_RELATION_OBJECTS, RELATION_CHILD_OBJECTS, RELATION_OBJECTS
from proctor.sql.postgres.facts import _Ctx
from proctor.sql.postgres.nodes import _operation

if TYPE_CHECKING:  # the walker imports the handler table: its types are for annotations only
    from proctor.sql.postgres.walker import Handler, _Walker

Op = Operation


def _targets_field(
    operation: Operation, kind: str, field: str, *, also_read: bool = False
) -> Handler:
    """A statement whose ``field`` is one embedded target relation."""

    def handler(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
        w.effect(operation, ctx)
        w.target(body.get(field), ctx, also_read=also_read)
        w.children(kind, body, ctx, depth, skip=(field,))

    return handler


def _targets_list(operation: Operation, kind: str, field: str) -> Handler:
    """A statement whose ``field`` is a list of wrapped target RangeVars."""

    def handler(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
        w.effect(operation, ctx)
        w.wrapped_targets(body.get(field), ctx)
        w.children(kind, body, ctx, depth, skip=(field,))

    return handler


def _create_table(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.CREATE, ctx)
    w.target(body.get("relation"), ctx)
    # INHERITS (parent) / PARTITION OF parent: the parent changes too.
    w.wrapped_targets(body.get("inhRelations"), ctx)
    w.children("CreateStmt", body, ctx, depth, skip=("relation", "inhRelations"))


def _create_table_as(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.CREATE, ctx)
    w.target((body.get("into") or {}).get("rel"), ctx)
    w.children("CreateTableAsStmt", body, ctx, depth, skip=("into",))


def _composite_type(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.CREATE, ctx)  # the type's RangeVar names a type, not a table
    w.children("CompositeTypeStmt", body, ctx, depth, skip=("typevar",))


_INHERIT_COMMANDS = frozenset({"AT_AddInherit", "AT_DropInherit"})


def _alter_table_cmd(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    if body.get("subtype") in _INHERIT_COMMANDS:
        parent = unwrap(body.get("def"))
        if parent is None or parent[0] != "RangeVar":
            w.facts.incomplete("unexpected parse tree shape in ALTER TABLE INHERIT")
        else:
            w.target(parent[1], ctx)
        w.children("AlterTableCmd", body, ctx, depth, skip=("def",))
        return
    w.children("AlterTableCmd", body, ctx, depth)


def _partition_cmd(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.target(body.get("name"), ctx)  # ATTACH / DETACH PARTITION: the partition changes
    w.children("PartitionCmd", body, ctx, depth, skip=("name",))


def _rename(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.ALTER, ctx)
    relation = body.get("relation")
    w.target(relation, ctx)
    if isinstance(relation, dict) and body.get("renameType") in RELATION_OBJECTS:
        newname = body.get("newname")
        if isinstance(newname, str):  # the new name is taken over: a write on it too
            w.write(relation.get("schemaname"), newname, ctx)
    w.children("RenameStmt", body, ctx, depth, skip=("relation",))


def _alter_object_schema(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.ALTER, ctx)
    relation = body.get("relation")
    w.target(relation, ctx)
    newschema = body.get("newschema")
    if isinstance(relation, dict) and isinstance(newschema, str) and "relname" in relation:
        w.write(newschema, str(relation["relname"]), ctx)
    w.children("AlterObjectSchemaStmt", body, ctx, depth, skip=("relation",))


def _drop(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.DROP, ctx)
    objtype = body.get("removeType")
    if objtype in RELATION_OBJECTS or objtype in RELATION_CHILD_OBJECTS:
        for item in body.get("objects", []):
            w.object_target(objtype, item, ctx)
        w.children("DropStmt", body, ctx, depth, skip=("objects",))
    else:
        w.children("DropStmt", body, ctx, depth)


def _object_statement(kind: str) -> Handler:
    """COMMENT ON / SECURITY LABEL ON / ALTER EXTENSION ADD|DROP: alters the named object."""

    def handler(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
        w.effect(Op.ALTER, ctx)
        objtype = body.get("objtype")
        if objtype in RELATION_OBJECTS or objtype in RELATION_CHILD_OBJECTS:
            w.object_target(objtype, body.get("object"), ctx)
            w.children(kind, body, ctx, depth, skip=("object",))
        else:
            w.children(kind, body, ctx, depth)

    return handler


def _grant(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.GRANT if body.get("is_grant") else Op.REVOKE, ctx)
    if (
        body.get("targtype") == "ACL_TARGET_OBJECT"
        and body.get("objtype") in GRANT_RELATION_OBJECTS
    ):
        w.wrapped_targets(body.get("objects"), ctx, in_schema=False)
        w.children("GrantStmt", body, ctx, depth, skip=("objects",))
    else:
        w.children("GrantStmt", body, ctx, depth)


def _grant_role(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.GRANT if body.get("is_grant") else Op.REVOKE, ctx)
    w.children("GrantRoleStmt", body, ctx, depth)


def _default_privileges(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(_operation("AlterDefaultPrivilegesStmt", body), ctx)
    w.children("AlterDefaultPrivilegesStmt", body, ctx, depth, skip=("action",))


def _vacuum_relation(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.target(body.get("relation"), ctx)
    w.children("VacuumRelation", body, ctx, depth, skip=("relation",))


def _import_foreign_schema(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.CREATE, ctx)
    local = body.get("local_schema")
    if body.get("list_type") == "FDW_IMPORT_SCHEMA_LIMIT_TO":
        for item in body.get("table_list", []):
            wrapped = unwrap(item)
            if wrapped is None or wrapped[0] != "RangeVar":
                w.facts.incomplete("unexpected parse tree shape in IMPORT FOREIGN SCHEMA")
                continue
            w.write(local if isinstance(local, str) else None, str(wrapped[1]["relname"]), ctx)
    # the table list names remote tables: not relations of this database
    w.children("ImportForeignSchemaStmt", body, ctx, depth, skip=("table_list",))


def _create_schema(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.CREATE, ctx)
    name = body.get("schemaname")
    if name is None:  # CREATE SCHEMA AUTHORIZATION role: the schema is named after the role
        role = body.get("authrole") or {}
        name = role.get("rolename") if role.get("roletype") == "ROLESPEC_CSTRING" else None
    w.push(body.get("schemaElts"), ctx._replace(schema=name), depth)
