"""The raw parse tree, as libpg_query's JSON, decoded into plain dicts and lists.

Why JSON and not ``pglast.parse_sql``: building pglast's Python node objects costs ~400 µs
for a short SELECT, while libpg_query's JSON output plus ``json.loads`` costs ~40 µs for the
same tree (measured by ``bench/sql_analysis.py``). The tree is the same one PostgreSQL's
parser builds; only its encoding differs.

Shape of the JSON (libpg_query's ``outfuncs``): a field declared as a generic ``Node *`` or an
item of a ``List *`` is *wrapped*, ``{"SelectStmt": {...}}``; a field declared with a specific
struct type (``RangeVar *relation``) is *embedded*, its fields directly, with no type key.
False booleans, zero numbers and empty lists are left out. ``EMBEDDED`` gives, for each node
type, the type of each embedded field; it is derived from pglast's own per-field C type table,
so it always matches the parser pglast was built with.

Locations in the JSON are byte offsets into the UTF-8 encoding of the text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pglast import ast as pg_ast
from pglast import parser as pg_parser

Node = dict[str, Any]

# Field types that are written wrapped (type key present) even though they are pointers.
_WRAPPED_C_TYPES = frozenset({"Node", "List", "Expr", "Bitmapset"})


def _embedded_fields() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    node_types = {
        name
        for name in dir(pg_ast)
        if isinstance(getattr(pg_ast, name), type)
        and issubclass(getattr(pg_ast, name), pg_ast.Node)
    }
    for name in sorted(node_types):
        slots = getattr(getattr(pg_ast, name), "__slots__", None)
        if not isinstance(slots, dict):
            continue
        fields: dict[str, str] = {}
        for field_name, info in slots.items():
            c_type = str(getattr(info, "c_type", info)).rstrip("*")
            if c_type in node_types and c_type not in _WRAPPED_C_TYPES:
                fields[field_name] = c_type
        if fields:
            table[name] = fields
    return table


EMBEDDED: dict[str, dict[str, str]] = _embedded_fields()
NODE_TYPES: frozenset[str] = frozenset({"List"}) | frozenset(
    name
    for name in dir(pg_ast)
    if isinstance(getattr(pg_ast, name), type) and issubclass(getattr(pg_ast, name), pg_ast.Node)
)


MAX_ITERATIVE_JSON = 2_000_000  # characters of parser output the slow decoder accepts


class ParseFailure(Exception):
    """The parser refused the text; ``message`` is its own words, ``position`` a char index."""

    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def parse(text: str) -> list[Node]:
    """The raw statements of ``text``: ``[{"stmt": {...}, "stmt_location": .., ...}, ...]``.

    Raises ParseFailure for text PostgreSQL's parser rejects (including its own nesting
    limit, "stack depth limit exceeded").
    """
    try:
        encoded = pg_parser.parse_sql_json(text)
    except pg_parser.ParseError as exc:
        args = exc.args
        message = str(args[0]) if args else str(exc)
        position = args[1] if len(args) > 1 and isinstance(args[1], int) else None
        raise ParseFailure(message, position) from None
    try:
        document = json.loads(encoded)
    except RecursionError:
        # Deeply nested expressions (a chain of 500 `+`) exceed the C decoder's recursion
        # limit; the iterative decoder below has none, but it is slower: bound its work.
        if len(encoded) > MAX_ITERATIVE_JSON:
            raise ParseFailure(
                "expressions nested too deeply in a statement this long to analyze", None
            ) from None
        document = loads_iterative(encoded)
    stmts = document.get("stmts", []) if isinstance(document, dict) else []
    return stmts if isinstance(stmts, list) else []


_TOKEN = re.compile(r'[{}\[\]]|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null')
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_NO_KEY = object()


def loads_iterative(document: str) -> Any:
    """A JSON decoder with an explicit stack, for trees too deep for ``json.loads``.

    Only for libpg_query's output (well-formed by construction: ``,`` and ``:`` carry no
    information there and are skipped); raises ValueError on unbalanced or truncated input.
    """
    containers: list[Any] = []  # open objects and arrays, innermost last
    keys: list[Any] = []  # for an open object: its pending key, or _NO_KEY
    result: Any = _NO_KEY
    decode = json.loads
    for match in _TOKEN.finditer(document):
        token = match.group()
        first = token[0]
        if first == "{" or first == "[":
            containers.append({} if first == "{" else [])
            keys.append(_NO_KEY)
            continue
        if first == "}" or first == "]":
            if not containers:
                raise ValueError("unbalanced JSON")
            value = containers.pop()
            keys.pop()
        elif first == '"':
            value = decode(token) if "\\" in token else token[1:-1]
        elif first == "t" or first == "f" or first == "n":
            value = _LITERALS[token]
        else:
            value = float(token) if "." in token or "e" in token or "E" in token else int(token)
        if not containers:
            if result is not _NO_KEY:
                raise ValueError("extra data after JSON value")
            result = value
            continue
        container = containers[-1]
        if type(container) is list:
            container.append(value)
        elif keys[-1] is _NO_KEY:
            keys[-1] = value
        else:
            container[keys[-1]] = value
            keys[-1] = _NO_KEY
    if containers or result is _NO_KEY:
        raise ValueError("truncated JSON")
    return result


def unwrap(value: Any) -> tuple[str, Node] | None:
    """``{"Type": {...}}`` → ``("Type", {...})``; None for anything else."""
    if type(value) is dict and len(value) == 1:
        ((kind, body),) = value.items()
        if type(body) is dict:
            return kind, body
    return None


def string_values(items: Any) -> list[str] | None:
    """A list of wrapped ``String`` nodes (a qualified name) → their values."""
    if not isinstance(items, list):
        return None
    names: list[str] = []
    for item in items:
        wrapped = unwrap(item)
        if wrapped is None or wrapped[0] != "String":
            return None
        names.append(str(wrapped[1].get("sval", "")))
    return names


def char_index(encoded: bytes, byte_offset: int) -> int:
    """A byte offset into the UTF-8 text → the character index Python uses."""
    return len(encoded[:byte_offset].decode("utf-8", errors="ignore"))
