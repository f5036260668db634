"""PostgreSQL statement analysis: text → ``Statement``, by walking PostgreSQL's own parse tree.

Theory of operation
-------------------
libpg_query (through pglast) parses the text exactly as the server would and returns the raw
parse tree (``_tree.parse``). A single walker visits every node of every statement with an
explicit stack (no recursion, so no nesting can exhaust Python's stack) and records facts:

- *effects*: each statement node adds its operation (``catalog.STATEMENT_OPERATIONS``), wherever
  it sits — a DELETE inside a CTE, a rule action, a PREPARE, a SQL function body or under
  EXPLAIN ANALYZE adds ``delete`` just as a top-level DELETE does;
- *relations*: a ``RangeVar`` is a read unless the node that owns it makes it a write target
  (INSERT/UPDATE/DELETE/MERGE targets, DDL targets, TRUNCATE, COPY FROM, SELECT INTO, LOCK,
  GRANT ...). Unqualified names that refer to a CTE in scope are not relations;
- *functions*: every ``FuncCall``, as written (``schema.name`` or ``name``);
- *unfiltered*: UPDATE/DELETE with no WHERE clause or one that is constantly true
  (``constant.always_true``);
- *settings* and *features* (SET ROLE, ALTER SYSTEM, COPY PROGRAM, ...);
- *secrets*: byte offsets of literals ``redact`` must hide.

Context travels with each node on the stack: the CTE names in scope, whether the subtree is
*effective* (plain EXPLAIN executes nothing: its DML targets count as reads and add no
effects), the schema CREATE SCHEMA puts new objects in, and where SET clauses apply.

Fail closed: whatever the walker cannot account for makes ``complete`` False with a note — an
unknown statement type, a parse tree of unexpected shape, a DO block, a function body in a
language other than SQL, EXECUTE of a prepared statement whose definition was not seen,
functions that run SQL text (dblink, query_to_xml ...), set_config with a computed name,
text over ``MAX_TEXT_CHARS`` or a NUL character, and parse errors. No input raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from pglast import parser as pg_parser

from proctor.model import Access, Feature, Operation, RelationRef, Statement
from proctor.sql import redact as _redact
from proctor.sql._tree import (
    EMBEDDED,
    NODE_TYPES,
    Node,
    ParseFailure,
    parse,
    string_values,
    unwrap,
)
from proctor.sql.catalog import (
    DYNAMIC_SQL_FUNCTIONS,
    FUNCTION_OPTION_STATEMENTS,
    FUNCTION_OPTIONS,
    GRANT_RELATION_OBJECTS,
    RELATION_CHILD_OBJECTS,
    RELATION_OBJECTS,
    STATEMENT_OPERATIONS,
)
from proctor.sql.constant import always_true, never_true

MAX_TEXT_CHARS = 1_000_000  # longer text is not parsed: complete=False
MAX_DEPTH = 20_000  # parse tree depth the walker follows (libpg_query's own limit is lower)
MAX_BODY_NESTING = 8  # SQL function bodies inside SQL function bodies

Op = Operation
_EMPTY: dict[str, str] = {}
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
_FEATURE_OF_SETTING = {
    "role": Feature.SET_ROLE.value,
    "session_authorization": Feature.SET_SESSION_AUTHORIZATION.value,
    "search_path": Feature.SET_SEARCH_PATH.value,
}
_TRUE_WORDS = frozenset({"true", "on", "yes", "1", "t", "y"})
_FALSE_WORDS = frozenset({"false", "off", "no", "0", "f", "n"})


class _Ctx(NamedTuple):
    scope: frozenset[str]  # CTE names visible here
    effective: bool  # False under plain EXPLAIN: nothing executes
    schema: str | None  # CREATE SCHEMA: where unqualified new objects go
    prefix: str  # "" for session SETs; "function:", "role:", "database:" otherwise


_ROOT = _Ctx(frozenset(), True, None, "")


class _Facts:
    """What a walk found; merged upwards for PREPARE and EXECUTE."""

    __slots__ = (
        "complete",
        "effects",
        "features",
        "functions",
        "notes",
        "relations",
        "settings",
        "unfiltered",
    )

    def __init__(self) -> None:
        self.effects: set[Operation] = set()
        self.relations: dict[tuple[str | None, str, Access], None] = {}
        self.functions: set[str] = set()
        self.unfiltered: set[Operation] = set()
        self.settings: set[str] = set()
        self.features: set[str] = set()
        self.notes: list[str] = []
        self.complete = True

    def incomplete(self, note: str) -> None:
        self.complete = False
        if note not in self.notes:
            self.notes.append(note)

    def note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def merge(self, other: _Facts, *, effective: bool = True) -> None:
        if effective:
            self.effects |= other.effects - {Op.PREPARE}
            self.unfiltered |= other.unfiltered
            self.settings |= other.settings
            self.features |= other.features
            for key in other.relations:
                self.relations.setdefault(key, None)
        else:  # under plain EXPLAIN: what the statement touches, read-only
            for schema, name, _access in other.relations:
                self.relations.setdefault((schema, name, Access.READ), None)
        self.functions |= other.functions
        for note in other.notes:
            self.note(note)
        if not other.complete:
            self.complete = False

    @classmethod
    def of(cls, statement: Statement) -> _Facts:
        facts = cls()
        facts.effects = set(statement.effects)
        facts.relations = {(r.schema, r.name, r.access): None for r in statement.relations}
        facts.functions = set(statement.functions)
        facts.unfiltered = set(statement.unfiltered)
        facts.settings = set(statement.settings)
        facts.features = set(statement.features)
        facts.notes = list(statement.notes)
        facts.complete = statement.complete and statement.operation is not Op.UNKNOWN
        return facts


class _Batch:
    """State shared by every walker of one analysis: SQL-level prepared statements."""

    __slots__ = ("all_deallocated", "deallocated", "defined", "depends", "prepared")

    def __init__(self, prepared: Mapping[str, Statement] | None) -> None:
        self.prepared = prepared
        self.defined: dict[str, _Facts] = {}  # PREPAREd earlier in this text
        self.deallocated: set[str] = set()
        self.all_deallocated = False
        self.depends = False  # the result used ``prepared``: do not cache it


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


class _Walker:
    __slots__ = ("batch", "facts", "nesting", "secrets", "stack")

    def __init__(self, batch: _Batch, nesting: int = 0) -> None:
        self.batch = batch
        self.facts = _Facts()
        self.nesting = nesting
        self.secrets: list[int] = []
        self.stack: list[tuple[str, Node, _Ctx, int]] = []

    # -- driving ------------------------------------------------------------------------

    def statement(self, raw: Node) -> Operation:
        """Walk one top-level statement; return its operation."""
        wrapped = unwrap(raw.get("stmt"))
        if wrapped is None:
            self.facts.incomplete("unexpected parse tree shape at the statement root")
            self.facts.effects.add(Op.UNKNOWN)
            return Op.UNKNOWN
        kind, body = wrapped
        operation = _operation(kind, body)
        self.facts.effects.add(operation)
        self.walk(kind, body, _ROOT)
        return operation

    def walk(self, kind: str, body: Node, ctx: _Ctx, depth: int = 0) -> None:
        stack = self.stack
        base = len(stack)
        stack.append((kind, body, ctx, depth))
        facts = self.facts
        handlers = _HANDLERS
        leaves = _LEAVES
        secret_types = _redact.SECRET_NODE_TYPES
        while len(stack) > base:
            kind, body, ctx, depth = stack.pop()
            if kind in leaves:
                continue
            if depth > MAX_DEPTH:
                facts.incomplete(f"parse tree deeper than {MAX_DEPTH} levels")
                continue
            if kind in secret_types:
                self.secrets.extend(_redact.secret_locations(kind, body))
            handler = handlers.get(kind)
            if handler is not None:
                handler(self, body, ctx, depth)
            elif kind in STATEMENT_OPERATIONS:
                self.effect(STATEMENT_OPERATIONS[kind], ctx)
                self.children(kind, body, ctx, depth)
            elif (kind.endswith("Stmt") and kind not in _STATEMENT_PARTS) or (
                kind not in NODE_TYPES
            ):
                facts.incomplete(f"statement type {kind} is not classified")
                facts.effects.add(Op.UNKNOWN)
                self.children(kind, body, ctx, depth)
            else:
                self.children(kind, body, ctx, depth)

    def children(
        self, kind: str, body: Node, ctx: _Ctx, depth: int, skip: tuple[str, ...] = ()
    ) -> None:
        """Queue every node below ``body`` (last field first: the stack pops it last, so the
        text's order is kept)."""
        embedded = EMBEDDED.get(kind, _EMPTY)
        push = self.stack.append
        below = depth + 1
        for key, value in reversed(body.items()):
            kind_of = type(value)
            if kind_of is dict:
                if not value or key in skip:
                    continue  # an empty dict is a NULL node
                inner = embedded.get(key)
                if inner is not None:
                    push((inner, value, ctx, below))
                elif len(value) == 1:
                    ((inner, node),) = value.items()
                    if type(node) is dict:
                        push((inner, node, ctx, below))
                    else:
                        self.facts.incomplete(f"unexpected parse tree shape in {kind}.{key}")
                else:
                    self.facts.incomplete(f"unexpected parse tree shape in {kind}.{key}")
            elif kind_of is list:
                if key in skip:
                    continue
                for item in reversed(value):
                    if type(item) is dict and len(item) == 1:
                        ((inner, node),) = item.items()
                        if type(node) is dict:
                            push((inner, node, ctx, below))
                            continue
                    if item != {}:  # {} is a NULL list cell (SELECT DISTINCT, aggregate(*))
                        self.facts.incomplete(f"unexpected parse tree shape in {kind}.{key}")

    def push(self, value: Any, ctx: _Ctx, depth: int, kind: str | None = None) -> None:
        """Queue a wrapped node, a list of them, or (with ``kind``) an embedded one."""
        if value is None:
            return
        if kind is not None:
            if isinstance(value, dict):
                self.stack.append((kind, value, ctx, depth + 1))
            return
        items = value if isinstance(value, list) else [value]
        for item in reversed(items):
            wrapped = unwrap(item)
            if wrapped is None:
                self.facts.incomplete("unexpected parse tree shape")
                continue
            self.stack.append((wrapped[0], wrapped[1], ctx, depth + 1))

    # -- recording ----------------------------------------------------------------------

    def effect(self, operation: Operation, ctx: _Ctx) -> None:
        if ctx.effective:
            self.facts.effects.add(operation)

    def relation(self, schema: str | None, name: str, access: Access) -> None:
        self.facts.relations.setdefault((schema, name, access), None)

    def target(
        self, range_var: Any, ctx: _Ctx, *, also_read: bool = False, in_schema: bool = True
    ) -> None:
        """A write target (a read instead under plain EXPLAIN)."""
        if not isinstance(range_var, dict) or "relname" not in range_var:
            if range_var is not None:
                self.facts.incomplete("unexpected parse tree shape at a target relation")
            return
        name = str(range_var["relname"])
        schema = range_var.get("schemaname")
        if schema is None and in_schema:
            schema = ctx.schema
        self.write(schema, name, ctx, also_read=also_read)

    def write(self, schema: str | None, name: str, ctx: _Ctx, *, also_read: bool = False) -> None:
        if ctx.effective:
            self.relation(schema, name, Access.WRITE)
            if also_read:
                self.relation(schema, name, Access.READ)
        else:
            self.relation(schema, name, Access.READ)

    def wrapped_targets(self, items: Any, ctx: _Ctx, *, in_schema: bool = True) -> None:
        for item in items or []:
            wrapped = unwrap(item)
            if wrapped is None or wrapped[0] != "RangeVar":
                self.facts.incomplete("unexpected parse tree shape in a relation list")
                continue
            self.target(wrapped[1], ctx, in_schema=in_schema)

    def named_target(self, names: list[str] | None, ctx: _Ctx) -> None:
        qualified = _qualified(names)
        if qualified is None:
            self.facts.incomplete("relation name with an unexpected number of parts")
            return
        self.write(qualified[0], qualified[1], ctx)

    def object_target(self, objtype: Any, obj: Any, ctx: _Ctx) -> None:
        """The relation named by a COMMENT / DROP / SECURITY LABEL object, if any."""
        if objtype not in RELATION_OBJECTS and objtype not in RELATION_CHILD_OBJECTS:
            return
        wrapped = unwrap(obj)
        names = string_values(wrapped[1].get("items")) if wrapped and wrapped[0] == "List" else None
        if names is None:
            self.facts.incomplete(f"unexpected object name shape for {objtype}")
            return
        self.named_target(names if objtype in RELATION_OBJECTS else names[:-1], ctx)

    def with_clause(self, body: Node, ctx: _Ctx, depth: int) -> _Ctx:
        """Queue the CTEs of ``body`` with their scopes; return the scope of the body."""
        clause = body.get("withClause")
        if not clause:
            return ctx
        ctes: list[tuple[str, Node]] = []
        for item in clause.get("ctes", []):
            wrapped = unwrap(item)
            if wrapped is None or wrapped[0] != "CommonTableExpr":
                self.facts.incomplete("unexpected parse tree shape in WITH")
                continue
            ctes.append((str(wrapped[1].get("ctename", "")), wrapped[1]))
        names = [name for name, _ in ctes]
        everything = ctx._replace(scope=ctx.scope | frozenset(names))
        for index in range(len(ctes) - 1, -1, -1):
            cte = ctes[index][1]
            if clause.get("recursive"):
                scope = everything
            else:  # a non-recursive CTE sees only the CTEs before it
                scope = ctx._replace(scope=ctx.scope | frozenset(names[:index]))
            self.stack.append(("CommonTableExpr", cte, scope, depth + 1))
        return everything

    # -- bodies -------------------------------------------------------------------------

    def sql_body(self, text: str, ctx: _Ctx) -> bool:
        """Analyze the text of a LANGUAGE sql function body in place; True if it held a
        secret (the caller redacts the whole body literal)."""
        if self.nesting >= MAX_BODY_NESTING:
            self.facts.incomplete(f"SQL function bodies nested deeper than {MAX_BODY_NESTING}")
            return False
        try:
            statements = parse(text)
        except ParseFailure as exc:
            self.facts.incomplete(f"function body does not parse: {_safe_message(exc)}")
            return _redact.opaque_body_has_secret(text)
        inner = _Walker(self.batch, self.nesting + 1)
        for raw in statements:
            wrapped = unwrap(raw.get("stmt"))
            if wrapped is None:
                inner.facts.incomplete("unexpected parse tree shape in a function body")
                continue
            inner.walk(wrapped[0], wrapped[1], ctx)
        self.facts.merge(inner.facts)
        return bool(inner.secrets)


def _operation(kind: str, body: Node) -> Operation:
    if kind == "SelectStmt":
        return Op.CREATE if body.get("intoClause") else Op.SELECT
    if kind in ("GrantStmt", "GrantRoleStmt"):
        return Op.GRANT if body.get("is_grant") else Op.REVOKE
    if kind == "AlterDefaultPrivilegesStmt":
        return Op.GRANT if (body.get("action") or {}).get("is_grant") else Op.REVOKE
    return STATEMENT_OPERATIONS.get(kind, Op.UNKNOWN)


def _safe_message(exc: ParseFailure) -> str:
    """The parser's message, without a quoted fragment that might be part of a secret."""
    message = exc.message
    marker = ' at or near "'
    at = message.find(marker)
    if at >= 0:
        fragment = message[at + len(marker) :]
        if any(quote in fragment for quote in ("'", "$")):
            message = message[:at] + ' at or near "***"'
    if exc.position is not None:
        message = f"{message} (at character {exc.position + 1})"
    return message


# -- handlers: one per node type that needs more than "record the effect, walk below" -------

Handler = Any


def _range_var(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    name = body.get("relname")
    if not isinstance(name, str):
        w.facts.incomplete("unexpected parse tree shape in a relation reference")
        return
    schema = body.get("schemaname")
    if schema is None and name in ctx.scope:
        return  # a CTE
    w.relation(schema, name, Access.READ)


def _func_call(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    names = string_values(body.get("funcname"))
    if not names:
        w.facts.incomplete("unexpected parse tree shape in a function call")
    else:
        name = ".".join(names)
        w.facts.functions.add(name)
        bare = names[-1].lower()
        args = body.get("args") or []
        # ts_rewrite(query, target, substitute) is pure; ts_rewrite(query, 'SELECT ...') runs SQL
        if bare in DYNAMIC_SQL_FUNCTIONS and not (bare == "ts_rewrite" and len(args) == 3):
            w.facts.incomplete(f"{name}() runs SQL or reads tables the analyzer cannot see")
        elif bare == "set_config":
            setting = _redact._argument_text(args[0]) if args else None
            if setting is None:
                w.facts.incomplete("set_config() with a setting name that is not a constant")
            elif ctx.effective:
                setting = setting.strip().lower()
                w.facts.settings.add(ctx.prefix + setting)
                if not ctx.prefix and setting in _FEATURE_OF_SETTING:
                    w.facts.features.add(_FEATURE_OF_SETTING[setting])
    w.children("FuncCall", body, ctx, depth, skip=("funcname",))


def _select(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    into = body.get("intoClause")
    if into:
        w.effect(Op.CREATE, ctx)
        w.target(into.get("rel"), ctx)
    if "valuesLists" not in body:
        w.effect(Op.SELECT, ctx)
    inner = w.with_clause(body, ctx, depth)
    w.children("SelectStmt", body, inner, depth, skip=("intoClause", "withClause"))


def _insert(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.INSERT, ctx)
    conflict = body.get("onConflictClause")
    if conflict and conflict.get("action") == "ONCONFLICT_UPDATE":
        w.effect(Op.UPDATE, ctx)
    observes = bool(body.get("returningClause")) or bool(conflict)
    w.target(body.get("relation"), ctx, also_read=observes)
    inner = w.with_clause(body, ctx, depth)
    w.children("InsertStmt", body, inner, depth, skip=("relation", "withClause"))


def _filtered_dml(operation: Operation, kind: str) -> Handler:
    def handler(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
        w.effect(operation, ctx)
        w.target(body.get("relation"), ctx, also_read=True)
        where = body.get("whereClause")
        if ctx.effective and (where is None or always_true(where)):
            w.facts.unfiltered.add(operation)
        inner = w.with_clause(body, ctx, depth)
        w.children(kind, body, inner, depth, skip=("relation", "withClause"))

    return handler


_MERGE_COMMANDS = {"CMD_UPDATE": Op.UPDATE, "CMD_INSERT": Op.INSERT, "CMD_DELETE": Op.DELETE}


def _merge(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.MERGE, ctx)
    # MERGE ... ON true WHEN MATCHED THEN DELETE touches every row, as DELETE without WHERE;
    # so does ON false WHEN NOT MATCHED BY SOURCE THEN DELETE.
    join = body.get("joinCondition")
    join_always, join_never = always_true(join), never_true(join)
    for clause in body.get("mergeWhenClauses", []):
        wrapped = unwrap(clause)
        if wrapped is None:
            w.facts.incomplete("unexpected parse tree shape in MERGE")
            continue
        when = wrapped[1]
        command = _MERGE_COMMANDS.get(str(when.get("commandType")))
        if command is None:
            continue
        w.effect(command, ctx)
        every_row = (
            join_always
            if when.get("matchKind") == "MERGE_WHEN_MATCHED"
            else join_never and when.get("matchKind") == "MERGE_WHEN_NOT_MATCHED_BY_SOURCE"
        )
        if (
            ctx.effective
            and command is not Op.INSERT
            and every_row
            and ("condition" not in when or always_true(when["condition"]))
        ):
            w.facts.unfiltered.add(command)
    w.target(body.get("relation"), ctx, also_read=True)
    inner = w.with_clause(body, ctx, depth)
    w.children("MergeStmt", body, inner, depth, skip=("relation", "withClause"))


def _copy(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.COPY, ctx)
    relation = body.get("relation")
    if relation is not None:
        if body.get("is_from"):
            w.target(relation, ctx)
        else:
            _range_var(w, relation, ctx, depth)
    if "filename" in body:
        if body.get("is_program"):
            w.facts.features.add(Feature.COPY_PROGRAM.value)
            w.facts.note("COPY ... PROGRAM runs a shell command on the database server")
        else:
            w.facts.features.add(Feature.COPY_SERVER_FILE.value)
            w.facts.note("COPY with a file name reads or writes a file on the database server")
    w.children("CopyStmt", body, ctx, depth, skip=("relation",))


def _explain(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.EXPLAIN, ctx)
    analyze = False
    for option in body.get("options", []):
        wrapped = unwrap(option)
        if wrapped and wrapped[0] == "DefElem" and wrapped[1].get("defname") == "analyze":
            analyze = _def_bool(wrapped[1].get("arg"))
    inner = ctx if analyze else ctx._replace(effective=False)
    w.push(body.get("query"), inner, depth)


def _prepare(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.PREPARE, ctx)
    inner = _Walker(w.batch, w.nesting)
    query = unwrap(body.get("query"))
    if query is None:
        w.facts.incomplete("unexpected parse tree shape in PREPARE")
        return
    inner.walk(query[0], query[1], ctx)
    w.secrets.extend(inner.secrets)
    w.facts.merge(inner.facts, effective=ctx.effective)
    name = str(body.get("name", ""))
    w.batch.defined[name] = inner.facts
    w.batch.deallocated.discard(name)


def _execute(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.EXECUTE, ctx)
    name = str(body.get("name", ""))
    batch = w.batch
    facts: _Facts | None = batch.defined.get(name)
    if facts is None and not batch.all_deallocated and name not in batch.deallocated:
        batch.depends = True
        known = batch.prepared.get(name) if batch.prepared is not None else None
        facts = _Facts.of(known) if known is not None else None
    if facts is None:
        w.facts.incomplete(f"EXECUTE of prepared statement {name!r} whose definition was not seen")
    else:
        w.facts.merge(facts, effective=ctx.effective)
    w.push(body.get("params"), ctx, depth)


def _deallocate(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.UTILITY, ctx)
    if body.get("isall"):
        w.batch.defined.clear()
        w.batch.all_deallocated = True
    else:
        name = str(body.get("name", ""))
        w.batch.defined.pop(name, None)
        w.batch.deallocated.add(name)


def _function_language(options: list[Any]) -> tuple[str | None, list[str] | None, int]:
    language: str | None = None
    body: list[str] | None = None
    location = -1
    for option in options:
        wrapped = unwrap(option)
        if wrapped is None or wrapped[0] != "DefElem":
            continue
        elem = wrapped[1]
        if elem.get("defname") == "language":
            arg = unwrap(elem.get("arg"))
            if arg and arg[0] == "String":
                language = str(arg[1].get("sval", "")).lower()
        elif elem.get("defname") == "as":
            arg = unwrap(elem.get("arg"))
            if arg and arg[0] == "List":
                body = string_values(arg[1].get("items"))
            elif arg and arg[0] == "String":
                body = [str(arg[1].get("sval", ""))]
            location = int(elem.get("arg_location", -1))
    return language, body, location


def _create_function(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.CREATE, ctx)
    options = body.get("options", [])
    language, text, location = _function_language(options)
    if body.get("sql_body") is not None:
        w.push(body["sql_body"], ctx, depth)
    elif language == "sql" and text is not None and len(text) == 1:
        if w.sql_body(text[0], ctx) and location >= 0:
            w.secrets.append(location)
    else:
        shown = language or "unspecified"
        w.facts.incomplete(f"the body of a LANGUAGE {shown} function is not analyzed")
        if text and location >= 0 and any(_redact.opaque_body_has_secret(t) for t in text):
            w.secrets.append(location)
    w.push(body.get("parameters"), ctx, depth)
    w.push(options, ctx._replace(prefix="function:"), depth)


def _alter_function(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.ALTER, ctx)
    w.push(body.get("actions"), ctx._replace(prefix="function:"), depth)


def _do(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.DO, ctx)
    w.facts.incomplete("a DO block runs procedural code the analyzer does not see into")
    for option in body.get("args", []):
        wrapped = unwrap(option)
        if wrapped and wrapped[0] == "DefElem" and wrapped[1].get("defname") == "as":
            arg = unwrap(wrapped[1].get("arg"))
            location = wrapped[1].get("arg_location", -1)
            if (
                arg
                and arg[0] == "String"
                and isinstance(location, int)
                and location >= 0
                and _redact.opaque_body_has_secret(str(arg[1].get("sval", "")))
            ):
                w.secrets.append(location)


def _create_trigger(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.CREATE, ctx)
    w.target(body.get("relation"), ctx)
    names = string_values(body.get("funcname"))
    if names:
        w.facts.functions.add(".".join(names))
    w.children("CreateTrigStmt", body, ctx, depth, skip=("relation", "funcname"))


def _create_event_trigger(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.CREATE, ctx)
    names = string_values(body.get("funcname"))
    if names:
        w.facts.functions.add(".".join(names))
    w.children("CreateEventTrigStmt", body, ctx, depth, skip=("funcname",))


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


def _setting_names(body: Node) -> list[str]:
    kind = body.get("kind")
    if kind == "VAR_RESET_ALL":
        return ["all"]
    name = str(body.get("name", "")).lower()
    if kind == "VAR_SET_MULTI":
        names = []
        for arg in body.get("args", []):
            wrapped = unwrap(arg)
            if wrapped and wrapped[0] == "DefElem":
                names.append(str(wrapped[1].get("defname", "")).lower())
        return names or [name.replace(" ", "_")]
    return [name]


def _variable_set(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    if not ctx.effective:
        return
    if not ctx.prefix:
        w.effect(Op.SET, ctx)
    for name in _setting_names(body):
        w.facts.settings.add(ctx.prefix + name)
        if not ctx.prefix and name in _FEATURE_OF_SETTING:
            w.facts.features.add(_FEATURE_OF_SETTING[name])


def _alter_system(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.SET, ctx)
    w.effect(Op.ALTER, ctx)
    w.facts.features.add(Feature.ALTER_SYSTEM.value)
    w.push(body.get("setstmt"), ctx._replace(prefix="system:"), depth, kind="VariableSetStmt")


def _alter_setting_of(prefix: str) -> Handler:
    def handler(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
        w.effect(Op.ALTER, ctx)
        w.push(body.get("setstmt"), ctx._replace(prefix=prefix), depth, kind="VariableSetStmt")

    return handler


def _constraints_set(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.SET, ctx)
    if ctx.effective:
        w.facts.settings.add("constraints")


def _load(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.UTILITY, ctx)
    w.facts.features.add(Feature.LOAD_LIBRARY.value)
    w.facts.note("LOAD runs a shared library's initialisation code in the server")


def _leaf(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    return


def _function_names(value: Any) -> list[str] | None:
    """A function named by a TypeName, a List of String, a list of String or ObjectWithArgs."""
    if isinstance(value, list):
        return string_values(value)
    wrapped = unwrap(value)
    if wrapped is None:
        return string_values(value.get("objname")) if isinstance(value, dict) else None
    kind, body = wrapped
    if kind == "TypeName":
        return string_values(body.get("names"))
    if kind == "List":
        return string_values(body.get("items"))
    if kind == "ObjectWithArgs":
        return string_values(body.get("objname"))
    return None


def _add_function(w: _Walker, value: Any) -> None:
    names = _function_names(value)
    if names:
        w.facts.functions.add(".".join(names))


def _function_options(kind: str) -> Handler:
    """CREATE OPERATOR / AGGREGATE / TYPE ...: the functions the new object will call."""

    def handler(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
        w.effect(STATEMENT_OPERATIONS[kind], ctx)
        for field in ("definition", "options", "func_options"):
            for item in body.get(field) or []:
                option = unwrap(item)
                if (
                    option
                    and option[0] == "DefElem"
                    and str(option[1].get("defname", "")).lower() in FUNCTION_OPTIONS
                ):
                    _add_function(w, option[1].get("arg"))
        w.children(kind, body, ctx, depth)

    return handler


def _named_functions(kind: str, *fields: str) -> Handler:
    """Statements whose ``fields`` each name a function the new object will call."""

    def handler(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
        if kind in STATEMENT_OPERATIONS:
            w.effect(STATEMENT_OPERATIONS[kind], ctx)
        for field in fields:
            if field in body:
                _add_function(w, body[field])
        w.children(kind, body, ctx, depth)

    return handler


def _op_class_item(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    if body.get("itemtype") == 2:  # OPCLASS_ITEM_FUNCTION
        _add_function(w, body.get("name"))
    w.children("CreateOpClassItem", body, ctx, depth)


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


# -- entry points ------------------------------------------------------------------------


def analyze(
    text: str,
    prepared: Mapping[str, Statement] | None = None,
    *,
    standard_conforming_strings: bool = True,
) -> tuple[Statement, bool]:
    """The analysis of ``text`` and whether it depended on ``prepared`` (then it must not be
    cached by text alone). Never raises."""
    try:
        return _analyze(text, prepared, standard_conforming_strings)
    except Exception as exc:  # fail closed on anything unforeseen, never crash the session
        statement = _unknown(text, f"internal analyzer error ({type(exc).__name__})")
        return statement, False


def _unknown(text: str, note: str, *, redacted: str | None = None) -> Statement:
    if redacted is None:
        if len(text) <= MAX_TEXT_CHARS:
            redacted = _redact.redact_unparsed(text)
        else:  # bounded work: the first MAX_TEXT_CHARS characters, literals hidden
            rest = len(text) - MAX_TEXT_CHARS
            redacted = _redact.redact_unparsed(text[:MAX_TEXT_CHARS])
            redacted += f" [... {rest} more characters not recorded]"
    return Statement(
        text=text,
        operation=Op.UNKNOWN,
        effects=frozenset({Op.UNKNOWN}),
        complete=False,
        notes=(note,),
        redacted_text=redacted,
    )


def _analyze(
    text: str, prepared: Mapping[str, Statement] | None, standard_conforming_strings: bool
) -> tuple[Statement, bool]:
    if len(text) > MAX_TEXT_CHARS:
        return _unknown(text, f"statement text longer than {MAX_TEXT_CHARS} characters"), False
    if "\x00" in text:
        # The parser reads a C string: it would stop at the NUL and miss the rest.
        return _unknown(text, "statement text contains a NUL character"), False
    try:
        statements = parse(text)
    except ParseFailure as exc:
        return _unknown(text, _safe_message(exc)), False
    except (ValueError, UnicodeError) as exc:
        return _unknown(text, f"text the parser cannot read ({type(exc).__name__})"), False

    batch = _Batch(prepared)
    walker = _Walker(batch)
    operations = [walker.statement(raw) for raw in statements]
    facts = walker.facts
    operation = operations[0] if operations else Op.UTILITY  # empty query: does nothing
    if not standard_conforming_strings and "\\" in text and _backslash_in_plain_literal(text):
        # libpg_query parses with standard_conforming_strings on; with it off the server reads
        # 'a\' || $$' ; DELETE ... $$ differently (the DELETE escapes the dollar quote).
        facts.incomplete(
            "a backslash in a string literal reads differently with standard_conforming_strings off"
        )
    redacted = _redact.redact(text, walker.secrets) if walker.secrets else text
    statement = Statement(
        text=text,
        operation=operation,
        effects=frozenset(facts.effects),
        relations=tuple(
            RelationRef(name=name, schema=schema, access=access)
            for schema, name, access in facts.relations
        ),
        functions=frozenset(facts.functions),
        unfiltered=frozenset(facts.unfiltered),
        statement_count=len(statements),
        complete=facts.complete,
        dialect="postgres",
        notes=tuple(facts.notes),
        redacted_text=redacted,
        settings=frozenset(facts.settings),
        features=frozenset(facts.features),
    )
    return statement, batch.depends


def _backslash_in_plain_literal(text: str) -> bool:
    """Whether a '...' (or N'...') literal holds a backslash: the one place where lexing with
    standard_conforming_strings off differs from lexing with it on."""
    try:
        tokens = pg_parser.scan(text)
    except Exception:
        return True
    return any(
        token.name == "SCONST"
        and text[token.start] not in "Ee$"
        and "\\" in text[token.start : token.end + 1]
        for token in tokens
    )


def prepared_statements(text: str) -> dict[str, Statement]:
    """The statements ``text`` PREPAREs, by name, each analyzed as EXECUTE will run it.

    A gateway that lets ``PREPARE name AS ...`` through keeps these and passes them as
    ``prepared`` when it later analyzes ``EXECUTE name``.
    """
    try:
        statements = parse(text)
    except Exception:
        return {}
    redacted = analyze(text)[0].redacted_text
    found: dict[str, Statement] = {}
    for raw in statements:
        wrapped = unwrap(raw.get("stmt"))
        if wrapped is None or wrapped[0] != "PrepareStmt":
            continue
        query = unwrap(wrapped[1].get("query"))
        if query is None:
            continue
        walker = _Walker(_Batch(None))
        try:
            operation = _operation(*query)
            walker.facts.effects.add(operation)
            walker.walk(query[0], query[1], _ROOT)
        except Exception as exc:
            walker.facts.incomplete(f"internal analyzer error ({type(exc).__name__})")
            operation = Op.UNKNOWN
        facts = walker.facts
        found[str(wrapped[1].get("name", ""))] = Statement(
            text=text,
            operation=operation,
            effects=frozenset(facts.effects),
            relations=tuple(RelationRef(n, s, a) for s, n, a in facts.relations),
            functions=frozenset(facts.functions),
            unfiltered=frozenset(facts.unfiltered),
            complete=facts.complete,
            notes=tuple(facts.notes),
            redacted_text=redacted,
            settings=frozenset(facts.settings),
            features=frozenset(facts.features),
        )
    return found
