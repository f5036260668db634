"""Walker handlers for server settings: SET / RESET, ALTER SYSTEM, ALTER ROLE / DATABASE ...
SET and SET CONSTRAINTS, and the settings that are features of their own (SET ROLE ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proctor.model import Feature, Operation
from proctor.sql._tree import Node, unwrap
from proctor.sql.postgres.facts import _Ctx

if TYPE_CHECKING:  # the walker imports the handler table: its types are for annotations only
    from proctor.sql.postgres.walker import Handler, _Walker

Op = Operation

_FEATURE_OF_SETTING = {
    "role": Feature.SET_ROLE.value,
    "session_authorization": Feature.SET_SESSION_AUTHORIZATION.value,
    "search_path": Feature.SET_SEARCH_PATH.value,
}


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
