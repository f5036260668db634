"""Walker handlers for code the server will run: CREATE / ALTER FUNCTION (SQL bodies are
analyzed in place), DO, triggers, LOAD, and objects (casts, operators, aggregates, languages
...) that name the functions they call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proctor.model import Feature, Operation
from proctor.sql import redact as _redact
from proctor.sql._tree import Node, string_values, unwrap
from proctor.sql.catalog import FUNCTION_OPTIONS, STATEMENT_OPERATIONS
from proctor.sql.postgres.facts import _Ctx

if TYPE_CHECKING:  # the walker imports the handler table: its types are for annotations only
    from proctor.sql.postgres.walker import Handler, _Walker

Op = Operation


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


def _load(w: _Walker, body: Node, ctx: _Ctx, depth: int) -> None:
    w.effect(Op.UTILITY, ctx)
    w.facts.features.add(Feature.LOAD_LIBRARY.value)
    w.facts.note("LOAD runs a shared library's initialisation code in the server")


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
