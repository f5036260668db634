"""Constant folding of a MySQL WHERE clause, as MySQL evaluates it (strings compared
case-insensitively, read as numbers by their numeric prefix, NULL and unknown kept apart):
whether an UPDATE or DELETE filters nothing."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

MAX_FOLD_DEPTH = 64


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
