"""The walker's dispatch table: node type → handler, for every node type that needs more
than "record the statement's effect and walk below"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proctor.model import Operation
from proctor.sql._tree import Node
from proctor.sql.catalog import FUNCTION_OPTION_STATEMENTS
from proctor.sql.postgres.ddl import (
    _alter_object_schema,
    _alter_table_cmd,
    _composite_type,
    _create_schema,
    _create_table,
    _create_table_as,
    _default_privileges,
    _drop,
    _grant,
    _grant_role,
    _import_foreign_schema,
    _object_statement,
    _partition_cmd,
    _rename,
    _targets_field,
    _targets_list,
    _vacuum_relation,
)
from proctor.sql.postgres.facts import _Ctx
from proctor.sql.postgres.queries import (
    _copy,
    _deallocate,
    _execute,
    _explain,
    _filtered_dml,
    _func_call,
    _insert,
    _merge,
    _prepare,
    _range_var,
    _select,
)
from proctor.sql.postgres.routines import (
    _alter_function,
    _create_event_trigger,
    _create_function,
    _create_trigger,
    _do,
    _function_options,
    _load,
    _named_functions,
    _op_class_item,
)
from proctor.sql.postgres.settings import (
    _alter_setting_of,
    _alter_system,
    _constraints_set,
    _variable_set,
)

if TYPE_CHECKING:  # the walker imports the handler table: its types are for annotations only
    from proctor.sql.postgres.walker import Handler, _Walker

Op = Operation


def _leaf(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    return


_HANDLERS: dict[str, Handler] = {
    "RangeVar": _range_var,
    "FuncCall": _func_call,
    "SelectStmt": _select,
    "InsertStmt": _insert,
    "UpdateStmt": _filtered_dml(Op.UPDATE, "UpdateStmt"),
    "DeleteStmt": _filtered_dml(Op.DELETE, "DeleteStmt"),
    "MergeStmt": _merge,
    "CopyStmt": _copy,
    "ExplainStmt": _explain,
    "PrepareStmt": _prepare,
    "ExecuteStmt": _execute,
    "DeallocateStmt": _deallocate,
    "CreateFunctionStmt": _create_function,
    "AlterFunctionStmt": _alter_function,
    "DoStmt": _do,
    "CreateTrigStmt": _create_trigger,
    "CreateEventTrigStmt": _create_event_trigger,
    "RuleStmt": _targets_field(Op.CREATE, "RuleStmt", "relation"),
    "ViewStmt": _targets_field(Op.CREATE, "ViewStmt", "view"),
    "CreateStmt": _create_table,
    "CreateTableAsStmt": _create_table_as,
    "IndexStmt": _targets_field(Op.CREATE, "IndexStmt", "relation"),
    "CreateSeqStmt": _targets_field(Op.CREATE, "CreateSeqStmt", "sequence"),
    "AlterSeqStmt": _targets_field(Op.ALTER, "AlterSeqStmt", "sequence"),
    "CompositeTypeStmt": _composite_type,
    "AlterTableStmt": _targets_field(Op.ALTER, "AlterTableStmt", "relation"),
    "AlterTableCmd": _alter_table_cmd,
    "PartitionCmd": _partition_cmd,
    "RenameStmt": _rename,
    "AlterObjectSchemaStmt": _alter_object_schema,
    "AlterOwnerStmt": _targets_field(Op.ALTER, "AlterOwnerStmt", "relation"),
    "AlterObjectDependsStmt": _targets_field(Op.ALTER, "AlterObjectDependsStmt", "relation"),
    "DropStmt": _drop,
    "CommentStmt": _object_statement("CommentStmt"),
    "SecLabelStmt": _object_statement("SecLabelStmt"),
    "AlterExtensionContentsStmt": _object_statement("AlterExtensionContentsStmt"),
    "TruncateStmt": _targets_list(Op.TRUNCATE, "TruncateStmt", "relations"),
    "LockStmt": _targets_list(Op.UTILITY, "LockStmt", "relations"),
    "CreateStatsStmt": _targets_list(Op.CREATE, "CreateStatsStmt", "relations"),
    "VacuumRelation": _vacuum_relation,
    "ClusterStmt": _targets_field(Op.UTILITY, "ClusterStmt", "relation"),
    "ReindexStmt": _targets_field(Op.UTILITY, "ReindexStmt", "relation"),
    "RefreshMatViewStmt": _targets_field(Op.UTILITY, "RefreshMatViewStmt", "relation"),
    "CreatePolicyStmt": _targets_field(Op.CREATE, "CreatePolicyStmt", "table"),
    "AlterPolicyStmt": _targets_field(Op.ALTER, "AlterPolicyStmt", "table"),
    "GrantStmt": _grant,
    "GrantRoleStmt": _grant_role,
    "AlterDefaultPrivilegesStmt": _default_privileges,
    "ImportForeignSchemaStmt": _import_foreign_schema,
    "CreateSchemaStmt": _create_schema,
    "VariableSetStmt": _variable_set,
    "AlterSystemStmt": _alter_system,
    "AlterRoleSetStmt": _alter_setting_of("role:"),
    "AlterDatabaseSetStmt": _alter_setting_of("database:"),
    "ConstraintsSetStmt": _constraints_set,
    "LoadStmt": _load,
    "A_Const": _leaf,
    "CreateCastStmt": _named_functions("CreateCastStmt", "func"),
    "CreateConversionStmt": _named_functions("CreateConversionStmt", "func_name"),
    "CreateTransformStmt": _named_functions("CreateTransformStmt", "fromsql", "tosql"),
    "CreatePLangStmt": _named_functions("CreatePLangStmt", "plhandler", "plinline", "plvalidator"),
    "CreateAmStmt": _named_functions("CreateAmStmt", "handler_name"),
    "CreateOpClassItem": _op_class_item,
    **{kind: _function_options(kind) for kind in FUNCTION_OPTION_STATEMENTS},
}
