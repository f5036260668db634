"""Names the analyzer knows: statement kinds, functions with side effects, secret arguments.

Everything here is data: the walker in ``postgres.py`` looks names up, it never matches text.
"""

from __future__ import annotations

from proctor.model import Operation

Op = Operation

# Statement node type → operation, for every statement whose operation does not depend on its
# fields. SelectStmt (INTO), GrantStmt / GrantRoleStmt / AlterDefaultPrivilegesStmt (grant or
# revoke) are decided in postgres.py. A statement node type missing here is UNKNOWN and makes
# the analysis incomplete.
STATEMENT_OPERATIONS: dict[str, Operation] = {
    # queries and DML
    "SelectStmt": Op.SELECT,
    "ReturnStmt": Op.SELECT,  # RETURN expr in a SQL-standard function body
    "InsertStmt": Op.INSERT,
    "UpdateStmt": Op.UPDATE,
    "DeleteStmt": Op.DELETE,
    "MergeStmt": Op.MERGE,
    "CopyStmt": Op.COPY,
    "TruncateStmt": Op.TRUNCATE,
    # wrappers
    "ExplainStmt": Op.EXPLAIN,
    "PrepareStmt": Op.PREPARE,
    "ExecuteStmt": Op.EXECUTE,
    "CallStmt": Op.CALL,
    "DoStmt": Op.DO,
    # privileges
    "GrantStmt": Op.GRANT,
    "GrantRoleStmt": Op.GRANT,
    "AlterDefaultPrivilegesStmt": Op.GRANT,
    # settings
    "VariableSetStmt": Op.SET,
    "AlterSystemStmt": Op.SET,
    "ConstraintsSetStmt": Op.SET,
    # transactions
    "TransactionStmt": Op.TRANSACTION,
    # harmless or maintenance utilities
    "VariableShowStmt": Op.UTILITY,
    "ListenStmt": Op.UTILITY,
    "UnlistenStmt": Op.UTILITY,
    "NotifyStmt": Op.UTILITY,
    "DiscardStmt": Op.UTILITY,
    "FetchStmt": Op.UTILITY,
    "ClosePortalStmt": Op.UTILITY,
    "DeclareCursorStmt": Op.UTILITY,
    "DeallocateStmt": Op.UTILITY,
    "CheckPointStmt": Op.UTILITY,
    "LoadStmt": Op.UTILITY,
    "LockStmt": Op.UTILITY,
    "VacuumStmt": Op.UTILITY,
    "ClusterStmt": Op.UTILITY,
    "ReindexStmt": Op.UTILITY,
    "RefreshMatViewStmt": Op.UTILITY,
    # DDL: create
    "CreateStmt": Op.CREATE,
    "CreateTableAsStmt": Op.CREATE,
    "CreateForeignTableStmt": Op.CREATE,
    "ViewStmt": Op.CREATE,
    "IndexStmt": Op.CREATE,
    "CreateSeqStmt": Op.CREATE,
    "CreateSchemaStmt": Op.CREATE,
    "CreateFunctionStmt": Op.CREATE,
    "CreateTrigStmt": Op.CREATE,
    "CreateEventTrigStmt": Op.CREATE,
    "RuleStmt": Op.CREATE,
    "CreatePolicyStmt": Op.CREATE,
    "CreateStatsStmt": Op.CREATE,
    "CreateRoleStmt": Op.CREATE,
    "CreatedbStmt": Op.CREATE,
    "CreateTableSpaceStmt": Op.CREATE,
    "CreateExtensionStmt": Op.CREATE,
    "CreateFdwStmt": Op.CREATE,
    "CreateForeignServerStmt": Op.CREATE,
    "CreateUserMappingStmt": Op.CREATE,
    "ImportForeignSchemaStmt": Op.CREATE,
    "CreatePublicationStmt": Op.CREATE,
    "CreateSubscriptionStmt": Op.CREATE,
    "CreatePLangStmt": Op.CREATE,
    "CreateAmStmt": Op.CREATE,
    "CreateCastStmt": Op.CREATE,
    "CreateConversionStmt": Op.CREATE,
    "CreateOpClassStmt": Op.CREATE,
    "CreateOpFamilyStmt": Op.CREATE,
    "CreateTransformStmt": Op.CREATE,
    "CreateDomainStmt": Op.CREATE,
    "CreateEnumStmt": Op.CREATE,
    "CreateRangeStmt": Op.CREATE,
    "CompositeTypeStmt": Op.CREATE,
    "DefineStmt": Op.CREATE,  # aggregates, operators, types, collations, text search objects
    # DDL: alter
    "AlterTableStmt": Op.ALTER,
    "AlterTableMoveAllStmt": Op.ALTER,
    "AlterSeqStmt": Op.ALTER,
    "AlterDomainStmt": Op.ALTER,
    "AlterEnumStmt": Op.ALTER,
    "AlterTypeStmt": Op.ALTER,
    "AlterFunctionStmt": Op.ALTER,
    "AlterOperatorStmt": Op.ALTER,
    "AlterOpFamilyStmt": Op.ALTER,
    "AlterCollationStmt": Op.ALTER,
    "AlterTSDictionaryStmt": Op.ALTER,
    "AlterTSConfigurationStmt": Op.ALTER,
    "AlterExtensionStmt": Op.ALTER,
    "AlterExtensionContentsStmt": Op.ALTER,
    "AlterFdwStmt": Op.ALTER,
    "AlterForeignServerStmt": Op.ALTER,
    "AlterUserMappingStmt": Op.ALTER,
    "AlterEventTrigStmt": Op.ALTER,
    "AlterPublicationStmt": Op.ALTER,
    "AlterSubscriptionStmt": Op.ALTER,
    "AlterRoleStmt": Op.ALTER,
    "AlterRoleSetStmt": Op.ALTER,
    "AlterDatabaseStmt": Op.ALTER,
    "AlterDatabaseSetStmt": Op.ALTER,
    "AlterDatabaseRefreshCollStmt": Op.ALTER,
    "AlterTableSpaceOptionsStmt": Op.ALTER,
    "AlterPolicyStmt": Op.ALTER,
    "AlterStatsStmt": Op.ALTER,
    "AlterObjectSchemaStmt": Op.ALTER,
    "AlterObjectDependsStmt": Op.ALTER,
    "AlterOwnerStmt": Op.ALTER,
    "RenameStmt": Op.ALTER,
    "CommentStmt": Op.ALTER,
    "SecLabelStmt": Op.ALTER,
    "ReassignOwnedStmt": Op.ALTER,
    # DDL: drop
    "DropStmt": Op.DROP,
    "DropRoleStmt": Op.DROP,
    "DropdbStmt": Op.DROP,
    "DropTableSpaceStmt": Op.DROP,
    "DropUserMappingStmt": Op.DROP,
    "DropSubscriptionStmt": Op.DROP,
    "DropOwnedStmt": Op.DROP,
}

# Object types whose names are relations (pg_class entries a policy can name).
RELATION_OBJECTS = frozenset(
    {
        "OBJECT_TABLE",
        "OBJECT_VIEW",
        "OBJECT_MATVIEW",
        "OBJECT_SEQUENCE",
        "OBJECT_INDEX",
        "OBJECT_FOREIGN_TABLE",
    }
)
# Object types named as `relation.object`: the relation is altered.
RELATION_CHILD_OBJECTS = frozenset(
    {"OBJECT_TRIGGER", "OBJECT_RULE", "OBJECT_POLICY", "OBJECT_TABCONSTRAINT", "OBJECT_COLUMN"}
)
# GRANT/REVOKE object types whose targets are relations.
GRANT_RELATION_OBJECTS = frozenset(
    {"OBJECT_TABLE", "OBJECT_SEQUENCE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"}
)

# Functions that execute SQL text passed as an argument, or read tables named by a value:
# what they do is invisible in the parse tree, so a call makes the analysis incomplete.
DYNAMIC_SQL_FUNCTIONS = frozenset(
    {
        "dblink",
        "dblink_exec",
        "dblink_open",
        "dblink_send_query",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "table_to_xml",
        "table_to_xmlschema",
        "table_to_xml_and_xmlschema",
        "schema_to_xml",
        "schema_to_xmlschema",
        "schema_to_xml_and_xmlschema",
        "database_to_xml",
        "database_to_xmlschema",
        "database_to_xml_and_xmlschema",
        "ts_stat",
        "ts_rewrite",
    }
)

# Built-in functions a policy usually wants to see (every call is reported in
# Statement.functions anyway; this list is for starter policies and documentation).
DANGEROUS_FUNCTIONS = frozenset(
    {
        # server files
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_ls_logicalsnapdir",
        "pg_ls_logicalmapdir",
        "pg_ls_replslotdir",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "pg_file_sync",
        "pg_logdir_ls",
        "lo_import",
        "lo_export",
        # other servers and dynamic SQL
        "dblink",
        "dblink_connect",
        "dblink_connect_u",
        "dblink_exec",
        "dblink_open",
        "dblink_send_query",
        "query_to_xml",
        "database_to_xml",
        # sessions and the server process
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_wal_replay_pause",
        "pg_wal_replay_resume",
        "pg_create_physical_replication_slot",
        "pg_create_logical_replication_slot",
        "pg_drop_replication_slot",
        "pg_logical_slot_get_changes",
        "pg_logical_emit_message",
        # settings and time
        "set_config",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
    }
)

# Options of CREATE OPERATOR / AGGREGATE / TYPE / TEXT SEARCH ..., ALTER OPERATOR / TYPE and
# FOREIGN DATA WRAPPER that name a function the new object will call: listed in
# Statement.functions, so `CREATE OPERATOR ### (FUNCTION = pg_read_file)` shows pg_read_file.
FUNCTION_OPTIONS = frozenset(
    {
        "function",
        "procedure",
        "sfunc",
        "finalfunc",
        "combinefunc",
        "serialfunc",
        "deserialfunc",
        "msfunc",
        "minvfunc",
        "mfinalfunc",
        "input",
        "output",
        "receive",
        "send",
        "typmod_in",
        "typmod_out",
        "analyze",
        "subscript",
        "restrict",
        "join",
        "canonical",
        "subtype_diff",
        "init",
        "lexize",
        "start",
        "gettoken",
        "end",
        "headline",
        "lextypes",
        "handler",
        "validator",
    }
)
# Statements with DefElem options that may name such functions.
FUNCTION_OPTION_STATEMENTS = frozenset(
    {"DefineStmt", "AlterOperatorStmt", "AlterTypeStmt", "CreateFdwStmt", "AlterFdwStmt"}
)

# Functions whose *constant* arguments change the analysis: set_config's setting name
# (settings, features), connection strings and keys (redaction). Two texts that differ only
# in such constants must not share an analysis (see templates.py).
CONSTANT_SENSITIVE_FUNCTIONS = frozenset(
    {
        "set_config",
        "dblink_connect",
        "dblink_connect_u",
        "dblink",
        "dblink_exec",
        "pgp_sym_encrypt",
        "pgp_sym_encrypt_bytea",
        "pgp_sym_decrypt",
        "pgp_sym_decrypt_bytea",
        "pgp_pub_decrypt",
        "pgp_pub_decrypt_bytea",
        "encrypt",
        "decrypt",
        "encrypt_iv",
        "decrypt_iv",
        "hmac",
        "crypt",
    }
)
