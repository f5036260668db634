"""The MySQL tree walk: the operation of each sqlglot statement, the tables it reads and
writes (with aliases, joins and CTEs resolved), functions, settings, features and key
literals, recorded in ``_Facts``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlglot import exp
from sqlglot.tokenizer_core import TokenType

from proctor.model import Access, Feature, Operation
from proctor.sql.mysql.constant import _always_true
from proctor.sql.mysql.facts import _Facts
from proctor.sql.mysql.tokens import _token_hints, _tokenize

Op = Operation

_STORED_PROGRAMS = frozenset({"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"})
_RELATION_KINDS = frozenset({"TABLE", "VIEW", "INDEX", "TEMPORARY TABLE"})
_SYSTEM_SCOPES = frozenset({"GLOBAL", "PERSIST", "PERSIST_ONLY"})
# keyword of an unparsed exp.Command → operation
_COMMAND_OPERATIONS = {
    "CREATE": Op.CREATE,
    "ALTER": Op.ALTER,
    "DROP": Op.DROP,
    "RENAME": Op.ALTER,
    "TRUNCATE": Op.TRUNCATE,
    "GRANT": Op.GRANT,
    "REVOKE": Op.REVOKE,
    "SET": Op.SET,
    "PREPARE": Op.PREPARE,
    "EXECUTE": Op.EXECUTE,
    "DEALLOCATE": Op.PREPARE,
    "CALL": Op.CALL,
    "REPLACE": Op.INSERT,
    "INSERT": Op.INSERT,
    "UPDATE": Op.UPDATE,
    "DELETE": Op.DELETE,
    "LOAD": Op.COPY,
    "SHOW": Op.UTILITY,
    "USE": Op.UTILITY,
    "DESCRIBE": Op.UTILITY,
    "DESC": Op.UTILITY,
    "EXPLAIN": Op.EXPLAIN,
    "COMMIT": Op.TRANSACTION,
    "ROLLBACK": Op.TRANSACTION,
    "SAVEPOINT": Op.TRANSACTION,
    "RELEASE": Op.TRANSACTION,
    "START": Op.TRANSACTION,
    "BEGIN": Op.TRANSACTION,
    "LOCK": Op.UTILITY,
    "UNLOCK": Op.UTILITY,
    "FLUSH": Op.UTILITY,
    "KILL": Op.UTILITY,
    "HANDLER": Op.UTILITY,
    "DO": Op.DO,
}
# functions whose literal arguments at these positions are keys
_KEY_ARGUMENTS = {"aes_encrypt": 1, "aes_decrypt": 1, "des_encrypt": 1, "des_decrypt": 1}


def _name(node: Any) -> str | None:
    if isinstance(node, exp.Identifier):
        return str(node.this).lower()
    return None


def _table_name(table: exp.Table) -> tuple[str | None, str] | None:
    name = _name(table.args.get("this"))
    if name is None or table.args.get("catalog") is not None:
        return None
    db = table.args.get("db")
    schema = _name(db) if db is not None else None
    if db is not None and schema is None:
        return None
    return schema, name


def _base_table(node: Any) -> exp.Table | None:
    if isinstance(node, exp.Schema):
        node = node.this
    return node if isinstance(node, exp.Table) else None


def _join_tables(node: Any) -> list[exp.Table]:
    """The tables of a FROM-like item and its joins (not those inside subqueries)."""
    found: list[exp.Table] = []
    items = node if isinstance(node, list) else [node]
    for item in items:
        table = _base_table(item)
        if table is None:
            continue
        found.append(table)
        for join in table.args.get("joins") or []:
            found.extend(_join_tables(join.this))
    return found


def _cte_names(node: exp.Expression) -> set[str]:
    names: set[str] = set()
    parent = node.parent
    while parent is not None:
        with_ = parent.args.get("with_") or parent.args.get("with")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                alias = cte.args.get("alias")
                if isinstance(alias, exp.TableAlias) and _name(alias.this):
                    names.add(str(_name(alias.this)))
        parent = parent.parent
    return names


class _Walker:
    def __init__(self, facts: _Facts) -> None:
        self.facts = facts
        self.writes: dict[int, bool] = {}  # id(Table) -> also_read
        self.skip: set[int] = set()  # Table nodes that are not relations (databases, routines)

    def statement(self, tree: exp.Expression) -> Operation:
        inner = tree.this if isinstance(tree, exp.Describe) else None
        if isinstance(inner, exp.Table):  # DESCRIBE t: the table's columns
            self.facts.effects.add(Op.UTILITY)
            self.walk(tree, effective=False)
            return Op.UTILITY
        if isinstance(inner, exp.Expression) and str(tree.args.get("style") or "").upper() == (
            "ANALYZE"
        ):
            self.facts.effects.add(self.operation(inner))  # EXPLAIN ANALYZE runs it
        operation = self.operation(tree)
        self.facts.effects.add(operation)
        if (
            isinstance(tree, exp.Describe)
            and str(tree.args.get("style") or "").upper() != "ANALYZE"
        ):
            self.walk(tree, effective=False)  # plain EXPLAIN runs nothing
        else:
            self.walk(tree, effective=True)
        return operation

    def operation(self, tree: exp.Expression) -> Operation:
        if isinstance(tree, exp.Command):
            return self.command(tree)
        if isinstance(tree, exp.Query | exp.Values):
            return Op.SELECT
        simple: list[tuple[type[exp.Expression], Operation]] = [
            (exp.Insert, Op.INSERT),
            (exp.Update, Op.UPDATE),
            (exp.Delete, Op.DELETE),
            (exp.Create, Op.CREATE),
            (exp.Alter, Op.ALTER),
            (exp.Drop, Op.DROP),
            (exp.TruncateTable, Op.TRUNCATE),
            (exp.Grant, Op.GRANT),
            (exp.Revoke, Op.REVOKE),
            (exp.Transaction, Op.TRANSACTION),
            (exp.Commit, Op.TRANSACTION),
            (exp.Rollback, Op.TRANSACTION),
            (exp.Set, Op.SET),
            (exp.Show, Op.UTILITY),
            (exp.Use, Op.UTILITY),
            (exp.Describe, Op.EXPLAIN),
        ]
        for kind, operation in simple:
            if isinstance(tree, kind):
                return operation
        self.facts.incomplete(f"unclassified statement ({type(tree).__name__})")
        return Op.UNKNOWN

    def command(self, tree: exp.Command) -> Operation:
        keyword = str(tree.this or "").upper()
        rest = tree.args.get("expression")
        rest_text = str(rest.this) if isinstance(rest, exp.Literal) else str(rest or "")
        self.facts.incomplete(f"statement not parsed by sqlglot ({keyword or 'command'})")
        try:
            words = _tokenize(rest_text)
        except Exception:
            words = []
        upper = [w.text.upper() if w.token_type != TokenType.STRING else "" for w in words]
        operation = _COMMAND_OPERATIONS.get(keyword, Op.UNKNOWN)
        if keyword == "SET":
            if upper[:1] == ["ROLE"] or upper[:2] == ["DEFAULT", "ROLE"]:
                self.facts.features.add(Feature.SET_ROLE.value)
                self.facts.settings.add("role")
            elif upper[:1] == ["PASSWORD"]:
                self.facts.settings.add("password")
            elif upper[:1] and upper[0] in _SYSTEM_SCOPES:
                self.facts.features.add(Feature.ALTER_SYSTEM.value)
                self.facts.effects.add(Op.ALTER)
        elif keyword == "PREPARE":
            self.facts.incomplete("dynamic SQL: PREPARE (the statement text is not analyzed)")
        elif keyword == "EXECUTE":
            self.facts.incomplete("dynamic SQL: EXECUTE of a prepared statement")
        elif keyword == "REPLACE":
            self.facts.effects.add(Op.DELETE)  # REPLACE deletes the conflicting rows
        elif keyword == "CREATE" and any(w in _STORED_PROGRAMS for w in upper[:4]):
            self.facts.incomplete("stored program body not analyzed")
        elif keyword == "CALL" and words:
            name = [w.text.lower() for w in words[:3] if w.token_type != TokenType.L_PAREN]
            if len(name) >= 3 and name[1] == ".":
                self.facts.functions.add(f"{name[0]}.{name[2]}")
            else:
                self.facts.functions.add(name[0])
        _token_hints(words, self.facts)
        return operation

    # -- generic walk --

    def walk(self, tree: exp.Expression, *, effective: bool) -> None:
        # first pass: statement shapes decide which tables are written
        for node in tree.walk():
            if isinstance(node, exp.Insert | exp.Update | exp.Delete):
                self.dml(node, effective)
            elif isinstance(node, exp.Create):
                self.create(node, effective)
            elif isinstance(node, exp.Alter):
                self.targets([node.this], effective)
                for action in node.args.get("actions") or []:
                    if isinstance(action, exp.AlterRename):
                        self.targets([action.this], effective)
            elif isinstance(node, exp.Drop):
                kind = str(node.args.get("kind") or "").upper()
                tables = node.args.get("tables") or []
                if kind in _RELATION_KINDS:
                    self.targets(tables, effective)
                else:
                    self.skip.update(id(t) for t in tables)
            elif isinstance(node, exp.TruncateTable):
                self.targets(node.expressions, effective)
            elif isinstance(node, exp.Grant | exp.Revoke):
                self.targets([node.args.get("securable")], effective)
            elif isinstance(node, exp.Use):
                self.skip.add(id(node.this))
            elif isinstance(node, exp.Set):
                self.set(node)
            elif isinstance(node, exp.Into):
                target = node.this
                if isinstance(target, exp.Table) and _table_name(target):
                    if effective:
                        self.facts.effects.add(Op.CREATE)
                    self.targets([target], effective)
            elif isinstance(node, exp.Command) and node is not tree:
                self.facts.incomplete("a nested statement not parsed by sqlglot")
        # second pass: relations and functions
        for node in tree.walk():
            if isinstance(node, exp.Table):
                self.table(node)
            elif isinstance(node, exp.Func):
                self.function(node)

    def targets(self, nodes: Iterable[Any], effective: bool, *, also_read: bool = False) -> None:
        for node in nodes:
            table = _base_table(node)
            if table is None:
                continue
            if effective:
                self.writes[id(table)] = also_read or self.writes.get(id(table), False)
            # under plain EXPLAIN the target stays a read

    def dml(self, node: exp.Expression, effective: bool) -> None:
        if isinstance(node, exp.Insert):
            operation = Op.INSERT
            conflict = node.args.get("conflict")
            returning = node.args.get("returning") is not None
            if isinstance(conflict, exp.OnConflict) and effective:
                self.facts.effects.add(Op.UPDATE)
            self.targets([node.this], effective, also_read=returning or conflict is not None)
        elif isinstance(node, exp.Update):
            operation = Op.UPDATE
            # decision: every table of a multi-table UPDATE counts as written
            self.targets(_join_tables(node.this), effective, also_read=True)
        else:
            operation = Op.DELETE
            named = node.args.get("tables")
            if named:
                sources = _join_tables(node.this) + _join_tables(node.args.get("using") or [])
                self.targets(self.resolve(named, sources), effective, also_read=True)
                self.skip.update(id(t) for t in named)
            else:
                self.targets([node.this], effective, also_read=True)
        if not effective:
            return
        self.facts.effects.add(operation)
        if operation in (Op.UPDATE, Op.DELETE):
            where = node.args.get("where")
            if not isinstance(where, exp.Where) or _always_true(where.this):
                self.facts.unfiltered.add(operation)

    @staticmethod
    def resolve(named: list[Any], sources: list[exp.Table]) -> list[exp.Table]:
        """``DELETE a, t2 FROM t1 AS a JOIN t2``: the tables the names stand for."""
        found: list[exp.Table] = []
        for item in named:
            target = _base_table(item)
            if target is None:
                continue
            key = _table_name(target)
            match = None
            for source in sources:
                alias = source.args.get("alias")
                alias_name = _name(alias.this) if isinstance(alias, exp.TableAlias) else None
                if key is not None and key[0] is None and alias_name == key[1]:
                    match = source
                    break
            if match is None:
                for source in sources:
                    if key is not None and _table_name(source) == key:
                        match = source
                        break
            # an unknown name stays a written table of its own
            found.append(match if match is not None else target)
        return found

    def create(self, node: exp.Create, effective: bool) -> None:
        kind = str(node.args.get("kind") or "").upper()
        target = node.this
        if kind in _STORED_PROGRAMS:
            self.facts.incomplete(f"stored program body not analyzed (CREATE {kind})")
        if isinstance(target, exp.Index):
            self.targets([target.args.get("table")], effective)
        elif kind in _RELATION_KINDS:
            self.targets([target], effective)
        else:
            for table in target.find_all(exp.Table) if isinstance(target, exp.Expression) else []:
                self.skip.add(id(table))
        body = node.args.get("expression")
        if effective and isinstance(body, exp.Query):
            self.facts.effects.add(Op.SELECT)

    def set(self, node: exp.Set) -> None:
        for item in node.expressions:
            if not isinstance(item, exp.SetItem):
                self.facts.incomplete("SET item of an unexpected shape")
                continue
            scope = str(item.args.get("kind") or "").upper()
            target = item.this.this if isinstance(item.this, exp.EQ) else item.this
            if isinstance(target, exp.SessionParameter):
                scope = scope or str(target.args.get("kind") or "").upper()
                name = str(target.name).lower()
            elif isinstance(target, exp.Column):
                name = str(target.name).lower()
            elif isinstance(target, exp.Parameter):
                continue  # a user variable (@x)
            elif scope in ("NAMES", "CHARACTER SET"):
                name = "names"
            else:
                name = type(target).__name__.lower()
            if scope in _SYSTEM_SCOPES:
                self.facts.features.add(Feature.ALTER_SYSTEM.value)
                self.facts.effects.add(Op.ALTER)
                self.facts.settings.add(f"system:{name}")
            else:
                self.facts.settings.add(name)
            if name == "role":
                self.facts.features.add(Feature.SET_ROLE.value)

    def table(self, node: exp.Table) -> None:
        if id(node) in self.skip:
            return
        key = _table_name(node)
        if key is None:
            return
        schema, name = key
        if id(node) in self.writes:
            self.facts.relation(schema, name, Access.WRITE)
            if self.writes[id(node)]:
                self.facts.relation(schema, name, Access.READ)
            return
        if schema is None and name in _cte_names(node):
            return
        self.facts.relation(schema, name, Access.READ)

    def function(self, node: exp.Func) -> None:
        if isinstance(node, exp.Cast | exp.Case):
            return
        if isinstance(node, exp.Anonymous):
            name = str(node.this).lower()
            if isinstance(node.parent, exp.Dot) and node.parent.expression is node:
                qualifier = _name(node.parent.this)
                if qualifier:
                    name = f"{qualifier}.{name}"
        else:
            name = node.sql_name().lower()
        self.facts.functions.add(name)
        position = _KEY_ARGUMENTS.get(name)
        args = node.expressions if isinstance(node, exp.Anonymous) else []
        if position is not None and position < len(args):
            _literal_secret(args[position], self.facts)


def _literal_secret(node: Any, facts: _Facts) -> None:
    if isinstance(node, exp.Literal) and node.is_string:
        start, end = node.meta.get("start"), node.meta.get("end")
        if isinstance(start, int) and isinstance(end, int):
            facts.secrets.append((start, end))
