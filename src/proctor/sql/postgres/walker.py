"""The PostgreSQL parse tree walker: one explicit stack over every node of a statement,
dispatching to the handlers of ``handlers._HANDLERS`` and recording what it finds in
``_Facts`` (see the package docstring for the theory of operation)."""

from __future__ import annotations

from typing import Any

from proctor.model import Access, Operation
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
    RELATION_CHILD_OBJECTS,
    RELATION_OBJECTS,
    STATEMENT_OPERATIONS,
)
from proctor.sql.postgres.facts import _ROOT, _Batch, _Ctx, _Facts
from proctor.sql.postgres.handlers import _HANDLERS
from proctor.sql.postgres.nodes import _LEAVES, _STATEMENT_PARTS, _operation, _qualified

MAX_DEPTH = 20_000  # parse tree depth the walker follows (libpg_query's own limit is lower)
MAX_BODY_NESTING = 8  # SQL function bodies inside SQL function bodies

Op = Operation
_EMPTY: dict[str, str] = {}

# A handler: (walker, node body, context, depth) -> None, for one node type.
Handler = Any


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

    def fresh(self) -> _Walker:
        """A walker with facts of its own, in this batch at this nesting: PREPARE keeps its
        query's facts apart, for EXECUTE. (A method: the handlers cannot import the walker.)"""
        return _Walker(self.batch, self.nesting)

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
