"""Walker handlers for queries and data changes: relation references, function calls,
SELECT / INSERT / UPDATE / DELETE / MERGE, COPY, EXPLAIN, and PREPARE / EXECUTE / DEALLOCATE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proctor.model import Access, Feature, Operation
from proctor.sql import redact as _redact
from proctor.sql._tree import Node, string_values, unwrap
from proctor.sql.catalog import DYNAMIC_SQL_FUNCTIONS
from proctor.sql.constant import always_true, never_true
from proctor.sql.postgres.facts import _Ctx, _Facts
from proctor.sql.postgres.nodes import _def_bool
from proctor.sql.postgres.settings import _FEATURE_OF_SETTING

if TYPE_CHECKING:  # the walker imports the handler table: its types are for annotations only
    from proctor.sql.postgres.walker import Handler, _Walker

Op = Operation


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
    inner = w.fresh()
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
