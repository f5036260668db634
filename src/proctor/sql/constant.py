"""Does a WHERE clause filter anything? Constant folding over the raw parse tree.

``UPDATE t SET x = 1 WHERE true`` changes every row, as does ``WHERE 1 = 1``, ``WHERE NOT
false``, ``WHERE 't'::boolean`` or ``WHERE id = id``. ``always_true`` says whether a WHERE
clause is such a tautology; the analyzer then reports the UPDATE/DELETE as unfiltered.

What is folded (anything else is "unknown", i.e. treated as a real filter):
- constants: booleans, integers, decimals, strings, NULL; casts of them to boolean/integer;
- AND / OR / NOT with SQL's three-valued logic;
- comparisons (=, <>, !=, <, <=, >, >=) between two constants;
- ``x = x``, ``x <= x``, ``x >= x`` and ``x IS NOT DISTINCT FROM x`` for the same column
  reference (true for every row where x is not NULL: a filter in name only);
- ``c IS [NOT] NULL`` for a constant c, ``b IS [NOT] TRUE/FALSE/UNKNOWN`` for a folded b.

The walk is recursive and bounded: beyond ``MAX_DEPTH`` levels the answer is "unknown".
"""

from __future__ import annotations

from typing import Any

from proctor.sql._tree import Node, string_values, unwrap

MAX_DEPTH = 64


class _Unknown:
    __slots__ = ()


UNKNOWN: Any = _Unknown()
NULL: Any = None  # SQL NULL folds to Python None

_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")
_BOOL_TYPES = frozenset({"bool", "boolean"})
_INT_TYPES = frozenset({"int2", "int4", "int8", "integer", "smallint", "bigint", "int"})


def always_true(where: Any) -> bool:
    """True when the (wrapped) WHERE expression is true for every row."""
    return _value(where, 0) is True


def never_true(expression: Any) -> bool:
    """True when the (wrapped) expression is false or NULL for every row (``ON false``)."""
    value = _value(expression, 0)
    return value is False or value is NULL


def _bool_from_text(text: str) -> Any:
    # PostgreSQL's boolin: a unique prefix of true/false/yes/no, or on/off/1/0.
    word = text.strip().lower()
    if not word:
        return UNKNOWN
    if word in ("on", "1"):
        return True
    if word in ("off", "0"):
        return False
    if word == "o":
        return UNKNOWN  # ambiguous between on and off
    for candidate in _TRUE_WORDS[:2]:
        if candidate.startswith(word):
            return True
    for candidate in _FALSE_WORDS[:2]:
        if candidate.startswith(word):
            return False
    return UNKNOWN


def _const(body: Node) -> Any:
    if body.get("isnull"):
        return NULL
    if "boolval" in body:
        return bool(body["boolval"].get("boolval", False))
    if "ival" in body:
        return int(body["ival"].get("ival", 0))
    if "fval" in body:
        try:
            return float(body["fval"].get("fval", "0"))
        except ValueError:
            return UNKNOWN
    if "sval" in body:
        return str(body["sval"].get("sval", ""))
    return UNKNOWN


def _cast(body: Node, depth: int) -> Any:
    value = _value(body.get("arg"), depth + 1)
    names = string_values((body.get("typeName") or {}).get("names"))
    if value is UNKNOWN or not names:
        return UNKNOWN
    target = names[-1]
    if value is NULL:
        return NULL
    if target in _BOOL_TYPES:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str):
            return _bool_from_text(value)
        return UNKNOWN
    if target in _INT_TYPES:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return UNKNOWN
    return UNKNOWN


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, str):
            left = _bool_from_text(left)
        if isinstance(right, str):
            right = _bool_from_text(right)
        if isinstance(left, bool) and isinstance(right, bool):
            return left, right
        return None
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, str):
        try:
            right = float(right)
        except ValueError:
            return None
    elif isinstance(right, numbers) and isinstance(left, str):
        try:
            left = float(left)
        except ValueError:
            return None
    if isinstance(left, numbers) and isinstance(right, numbers):
        return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    return None


def _compare(op: str, left: Any, right: Any) -> Any:
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    if left is NULL or right is NULL:
        return NULL
    pair = _comparable(left, right)
    if pair is None:
        return UNKNOWN
    a, b = pair
    if op == "=":
        return a == b
    if op in ("<>", "!="):
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    return UNKNOWN


def _same_column(left: Any, right: Any) -> bool:
    a, b = unwrap(left), unwrap(right)
    if a is None or b is None or a[0] != "ColumnRef" or b[0] != "ColumnRef":
        return False
    fields_a, fields_b = string_values(a[1].get("fields")), string_values(b[1].get("fields"))
    return fields_a is not None and fields_a == fields_b


def _a_expr(body: Node, depth: int) -> Any:
    kind = body.get("kind")
    names = string_values(body.get("name")) or []
    op = names[-1] if names else ""
    left, right = body.get("lexpr"), body.get("rexpr")
    if kind == "AEXPR_OP":
        if op in ("=", "<=", ">=") and _same_column(left, right):
            return True
        return _compare(op, _value(left, depth + 1), _value(right, depth + 1))
    if kind == "AEXPR_NOT_DISTINCT" and _same_column(left, right):
        return True
    return UNKNOWN


def _bool_expr(body: Node, depth: int) -> Any:
    op = body.get("boolop")
    args = [_value(arg, depth + 1) for arg in body.get("args", [])]
    if op == "NOT_EXPR":
        if len(args) != 1:
            return UNKNOWN
        value = args[0]
        return (not value) if isinstance(value, bool) else value
    if op == "AND_EXPR":
        if any(a is False for a in args):
            return False
        if all(a is True for a in args):
            return True
        return UNKNOWN if any(a is UNKNOWN for a in args) else NULL
    if op == "OR_EXPR":
        if any(a is True for a in args):
            return True
        if all(a is False for a in args):
            return False
        return UNKNOWN if any(a is UNKNOWN for a in args) else NULL
    return UNKNOWN


def _null_test(body: Node, depth: int) -> Any:
    value = _value(body.get("arg"), depth + 1)
    if value is UNKNOWN:
        return UNKNOWN
    is_null = value is NULL
    return is_null if body.get("nulltesttype") == "IS_NULL" else not is_null


def _boolean_test(body: Node, depth: int) -> Any:
    value = _value(body.get("arg"), depth + 1)
    if value is UNKNOWN or not (value is NULL or isinstance(value, bool)):
        return UNKNOWN
    test = body.get("booltesttype")
    if test == "IS_TRUE":
        return value is True
    if test == "IS_NOT_TRUE":
        return value is not True
    if test == "IS_FALSE":
        return value is False
    if test == "IS_NOT_FALSE":
        return value is not False
    if test == "IS_UNKNOWN":
        return value is NULL
    if test == "IS_NOT_UNKNOWN":
        return value is not NULL
    return UNKNOWN


def _value(node: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return UNKNOWN
    wrapped = unwrap(node)
    if wrapped is None:
        return UNKNOWN
    kind, body = wrapped
    if kind == "A_Const":
        return _const(body)
    if kind == "TypeCast":
        return _cast(body, depth)
    if kind == "BoolExpr":
        return _bool_expr(body, depth)
    if kind == "A_Expr":
        return _a_expr(body, depth)
    if kind == "NullTest":
        return _null_test(body, depth)
    if kind == "BooleanTest":
        return _boolean_test(body, depth)
    return UNKNOWN
