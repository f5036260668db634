"""MySQL statement analysis: text → ``Statement``, from sqlglot's ``mysql`` parse tree.

The text is parsed with ``sqlglot.parse(text, read="mysql")`` (error level RAISE) and every
statement's expression tree is walked; nothing classifies SQL text with patterns. Where
sqlglot does not build a tree (an ``exp.Command`` passthrough, a parse error) the analysis is
incomplete; the sqlglot *tokens* of such text are still read for features, function calls
and secrets, which only ever add information (see docs/sql-analysis.md, "MySQL").

sqlglot's lexer drops comments, and MySQL executes some: ``/*!50000 DROP TABLE t */``
(versioned comments) and ``/*M! ... */`` (MariaDB). The gaps between tokens (what the lexer
skipped) are checked against MySQL's comment rules; anything MySQL could read differently
makes the analysis incomplete. No input raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import ErrorLevel
from sqlglot.tokenizer_core import Token, TokenType

from proctor.model import Access, Feature, Operation, RelationRef, Statement
from proctor.sql.postgres import MAX_TEXT_CHARS

Op = Operation
MASK = "'***'"
MAX_FOLD_DEPTH = 64

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


class _Facts:
    def __init__(self) -> None:
        self.effects: set[Operation] = set()
        self.relations: dict[tuple[str | None, str, Access], None] = {}
        self.functions: set[str] = set()
        self.unfiltered: set[Operation] = set()
        self.settings: set[str] = set()
        self.features: set[str] = set()
        self.notes: list[str] = []
        self.complete = True
        self.secrets: list[tuple[int, int]] = []  # inclusive character spans to mask

    def incomplete(self, note: str) -> None:
        self.complete = False
        if note not in self.notes:
            self.notes.append(note)

    def relation(self, schema: str | None, name: str, access: Access) -> None:
        self.relations.setdefault((schema, name, access), None)


def analyze(text: str) -> Statement:
    """What the MySQL command ``text`` (one statement or a multi-statement string) does.
    Never raises."""
    try:
        return _analyze(text)
    except Exception as exc:  # fail closed on anything unforeseen
        return _unknown(text, f"internal analyzer error ({type(exc).__name__})")


def _unknown(text: str, note: str, facts: _Facts | None = None) -> Statement:
    facts = facts or _Facts()
    if len(text) > MAX_TEXT_CHARS:
        rest = len(text) - MAX_TEXT_CHARS
        redacted = _redact_unparsed(text[:MAX_TEXT_CHARS])
        redacted += f" [... {rest} more characters not recorded]"
    else:
        redacted = _redact_unparsed(text)
    return Statement(
        text=text,
        operation=Op.UNKNOWN,
        effects=frozenset({Op.UNKNOWN}),
        functions=frozenset(facts.functions),
        complete=False,
        dialect="mysql",
        notes=(note, *(n for n in facts.notes if n != note)),
        redacted_text=redacted,
        features=frozenset(facts.features),
    )


def _tokenize(text: str) -> list[Token]:
    return list(MySQL().tokenize(text))


def _analyze(text: str) -> Statement:
    if len(text) > MAX_TEXT_CHARS:
        return _unknown(text, f"statement text longer than {MAX_TEXT_CHARS} characters")
    if "\x00" in text:
        return _unknown(text, "statement text contains a NUL character")
    try:
        tokens = _tokenize(text)
    except Exception as exc:
        return _unknown(text, f"text the MySQL lexer cannot read ({type(exc).__name__})")
    try:
        trees = sqlglot.parse(text, read="mysql", error_level=ErrorLevel.RAISE)
    except Exception as exc:
        facts = _Facts()
        _token_hints(tokens, facts)
        return _unknown(text, f"MySQL parse error: {_safe_message(exc)}", facts)

    facts = _Facts()
    gap_problem = _check_gaps(text, tokens)
    if gap_problem:
        facts.incomplete(gap_problem)
    _token_secrets(tokens, facts)
    statements = [t for t in trees if isinstance(t, exp.Expression)]
    if any(t is not None and not isinstance(t, exp.Expression) for t in trees):
        facts.incomplete("a statement of an unexpected shape")
    walker = _Walker(facts)
    operations = [walker.statement(tree) for tree in statements]
    operation = operations[0] if operations else Op.UTILITY
    if not facts.complete and not operations:
        operation = Op.UNKNOWN
        facts.effects.add(Op.UNKNOWN)
    return Statement(
        text=text,
        operation=operation,
        effects=frozenset(facts.effects),
        relations=tuple(RelationRef(name=n, schema=s, access=a) for s, n, a in facts.relations),
        functions=frozenset(facts.functions),
        unfiltered=frozenset(facts.unfiltered),
        statement_count=len(statements),
        complete=facts.complete,
        dialect="mysql",
        notes=tuple(facts.notes),
        redacted_text=_mask(text, facts.secrets),
        settings=frozenset(facts.settings),
        features=frozenset(facts.features),
    )


def _safe_message(exc: Exception) -> str:
    """The parser's message without echoing the text (it may hold secrets)."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        description = first.get("description", "invalid syntax")
        return f"{description} (line {first.get('line')}, col {first.get('col')})"
    return type(exc).__name__


# -- what the lexer skipped ----------------------------------------------------------------


def _check_gaps(text: str, tokens: list[Token]) -> str | None:
    """A note if text between tokens is anything but whitespace and comments as MySQL reads
    them (a versioned comment, ``--`` without a following space, an unterminated comment)."""
    cursor = 0
    for token in [*tokens, None]:
        start = token.start if token is not None else len(text)
        problem = _check_gap(text, cursor, start)
        if problem:
            return problem
        if token is not None:
            cursor = max(cursor, token.end + 1)
    return None


def _check_gap(text: str, start: int, end: int) -> str | None:
    i = start
    while i < end:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "#" or (
            text.startswith("--", i) and (i + 2 >= len(text) or text[i + 2] in " \t\r\n\f\v")
        ):
            newline = text.find("\n", i, end)
            i = end if newline < 0 else newline + 1
        elif text.startswith("/*", i):
            if text.startswith("/*!", i) or text.startswith("/*M!", i):
                return "MySQL executes the content of a versioned comment (/*! ... */)"
            close = text.find("*/", i + 2, end)
            if close < 0:
                return "a comment MySQL may read differently (unterminated)"
            i = close + 2
        else:
            return "text the lexer skipped that MySQL may read differently"
    return None


# -- the tree walk -------------------------------------------------------------------------


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


# -- tokens of text without a tree ---------------------------------------------------------


def _token_hints(tokens: list[Token], facts: _Facts) -> None:
    """Features and function calls visible in the tokens of an unparsed statement."""
    words = [t.text.upper() if t.token_type != TokenType.STRING else "" for t in tokens]
    for i, word in enumerate(words):
        if word == "INFILE" and "DATA" in words[max(0, i - 4) : i]:
            facts.features.add(Feature.COPY_SERVER_FILE.value)
            facts.notes.append("LOAD DATA reads a file")
        elif word in ("OUTFILE", "DUMPFILE") and i > 0 and words[i - 1] == "INTO":
            facts.features.add(Feature.COPY_SERVER_FILE.value)
            facts.notes.append(f"INTO {word} writes a file on the server")
        elif (
            i + 1 < len(tokens)
            and tokens[i + 1].token_type == TokenType.L_PAREN
            and tokens[i].token_type == TokenType.VAR
        ):
            facts.functions.add(tokens[i].text.lower())


def _token_secrets(tokens: list[Token], facts: _Facts) -> None:
    """``IDENTIFIED [WITH plugin] BY [PASSWORD] '...'`` / ``AS '...'``, ``PASSWORD = '...'``
    and ``MASTER_PASSWORD`` / ``SOURCE_PASSWORD = '...'``: sqlglot keeps CREATE/ALTER USER
    and SET PASSWORD as unparsed commands, so the literal is located by its token."""
    for i, token in enumerate(tokens):
        word = token.text.upper() if token.token_type != TokenType.STRING else ""
        if word == "IDENTIFIED":
            for following in tokens[i + 1 : i + 6]:
                if following.token_type == TokenType.STRING:
                    facts.secrets.append((following.start, following.end))
                    break
                if following.token_type in (TokenType.SEMICOLON, TokenType.COMMA):
                    break
        elif word in ("PASSWORD", "MASTER_PASSWORD", "SOURCE_PASSWORD"):
            for following in tokens[i + 1 : i + 6]:
                if following.token_type == TokenType.STRING:
                    facts.secrets.append((following.start, following.end))
                    break
                if following.token_type == TokenType.SEMICOLON:
                    break


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end in sorted(set(spans)):
        if start < cursor or end >= len(text):
            continue
        pieces.append(text[cursor:start])
        pieces.append(MASK)
        cursor = end + 1
    pieces.append(text[cursor:])
    return "".join(pieces)


def _redact_unparsed(text: str) -> str:
    """Every string literal replaced; everything if the lexer cannot split the text."""
    try:
        tokens = _tokenize(text.replace("\x00", " "))
    except Exception:
        return MASK
    return _mask(text, [(t.start, t.end) for t in tokens if t.token_type == TokenType.STRING])


# -- constant folding for WHERE ------------------------------------------------------------


class _Unknown:
    __slots__ = ()


_UNKNOWN: Any = _Unknown()


def _always_true(node: Any) -> bool:
    return _truth(_fold(node, 0)) is True


def _number(value: Any) -> Any:
    """MySQL's numeric reading of a value: strings by their numeric prefix."""
    if value is None or isinstance(value, _Unknown):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | Decimal):
        return value
    text = str(value).strip()
    end = 0
    for end in range(len(text), -1, -1):
        try:
            return Decimal(text[:end]) if end else 0
        except InvalidOperation:
            continue
    return 0


def _truth(value: Any) -> Any:
    if value is None or isinstance(value, _Unknown):
        return value
    return _number(value) != 0


def _compare(op: type[exp.Expression], left: Any, right: Any) -> Any:
    if isinstance(left, _Unknown) or isinstance(right, _Unknown):
        return _UNKNOWN
    if left is None or right is None:
        return None
    if isinstance(left, str) and isinstance(right, str):
        a: Any = left.lower().rstrip(" ")
        b: Any = right.lower().rstrip(" ")
    else:
        a, b = _number(left), _number(right)
    if op is exp.EQ:
        return a == b
    if op is exp.NEQ:
        return a != b
    if op is exp.GT:
        return a > b
    if op is exp.GTE:
        return a >= b
    if op is exp.LT:
        return a < b
    return a <= b


def _fold(node: Any, depth: int) -> Any:
    if depth > MAX_FOLD_DEPTH:
        return _UNKNOWN
    depth += 1
    if isinstance(node, exp.Paren):
        return _fold(node.this, depth)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return str(node.this)
        try:
            return Decimal(str(node.this))
        except InvalidOperation:
            return _UNKNOWN
    if isinstance(node, exp.Neg):
        value = _number(_fold(node.this, depth))
        return -value if isinstance(value, int | Decimal) and not isinstance(value, bool) else value
    if isinstance(node, exp.Not):
        value = _truth(_fold(node.this, depth))
        return value if value is None or isinstance(value, _Unknown) else not value
    if isinstance(node, exp.And | exp.Or):
        left = _truth(_fold(node.this, depth))
        right = _truth(_fold(node.expression, depth))
        decisive = isinstance(node, exp.Or)
        if left is decisive or right is decisive:
            return decisive
        if isinstance(left, _Unknown) or isinstance(right, _Unknown):
            return _UNKNOWN
        if left is None or right is None:
            return None
        return not decisive
    if isinstance(node, exp.NullSafeEQ):
        if _same_column(node.this, node.expression):
            return True
        left, right = _fold(node.this, depth), _fold(node.expression, depth)
        if isinstance(left, _Unknown) or isinstance(right, _Unknown):
            return _UNKNOWN
        if left is None or right is None:
            return left is None and right is None
        return _compare(exp.EQ, left, right)
    if isinstance(node, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE):
        if _same_column(node.this, node.expression):
            return isinstance(node, exp.EQ | exp.GTE | exp.LTE) or _UNKNOWN
        return _compare(type(node), _fold(node.this, depth), _fold(node.expression, depth))
    if isinstance(node, exp.Is):
        value = _fold(node.this, depth)
        target = node.expression
        if isinstance(value, _Unknown):
            return _UNKNOWN
        if isinstance(target, exp.Null):
            return value is None
        if isinstance(target, exp.Boolean):
            return _truth(value) is bool(target.this)
    return _UNKNOWN


def _same_column(left: Any, right: Any) -> bool:
    return isinstance(left, exp.Column) and isinstance(right, exp.Column) and left == right
