"""The SQL analyzer against every statement of PostgreSQL's regression suite.

For each statement, either the analyzer's write set equals the one computed here by an
independent reference walker, or the analyzer says it is incomplete. A confident wrong
answer fails the test.

The reference is deliberately simple and deliberately different from the analyzer: it walks
pglast's Python node objects (``pglast.parse_sql``), where the analyzer walks libpg_query's
JSON, and it is a table of "which field of which node is a write target" plus a handful of
special cases, written from the definitions in docs/sql-analysis.md rather than from the
analyzer's code. Statements are cut with ``pglast.split`` after dropping psql meta-command
lines; SQL-level PREPAREs of a file are remembered for its EXECUTEs, as the gateway does.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pglast import ast, enums, parse_sql, split

from proctor.model import Statement
from proctor.sql import analyze_postgres, prepared_statements
from tests.pg import need

pytestmark = pytest.mark.compat

Name = tuple[str | None, str]

# node type → fields holding one write-target RangeVar, or a sequence of them
TARGET_FIELDS: dict[type, tuple[str, ...]] = {
    ast.InsertStmt: ("relation",),
    ast.UpdateStmt: ("relation",),
    ast.DeleteStmt: ("relation",),
    ast.MergeStmt: ("relation",),
    ast.IntoClause: ("rel",),
    ast.CreateStmt: ("relation", "inhRelations"),
    ast.ViewStmt: ("view",),
    ast.CreateSeqStmt: ("sequence",),
    ast.AlterSeqStmt: ("sequence",),
    ast.IndexStmt: ("relation",),
    ast.CreateTrigStmt: ("relation",),
    ast.RuleStmt: ("relation",),
    ast.CreatePolicyStmt: ("table",),
    ast.AlterPolicyStmt: ("table",),
    ast.AlterTableStmt: ("relation",),
    ast.PartitionCmd: ("name",),
    ast.ClusterStmt: ("relation",),
    ast.ReindexStmt: ("relation",),
    ast.RefreshMatViewStmt: ("relation",),
    ast.VacuumRelation: ("relation",),
    ast.TruncateStmt: ("relations",),
    ast.LockStmt: ("relations",),
    ast.CreateStatsStmt: ("relations",),
    ast.AlterOwnerStmt: ("relation",),
    ast.AlterObjectDependsStmt: ("relation",),
    ast.RenameStmt: ("relation",),
    ast.AlterObjectSchemaStmt: ("relation",),
}
OT = enums.ObjectType
RELATION_KINDS = {
    OT.OBJECT_TABLE,
    OT.OBJECT_VIEW,
    OT.OBJECT_MATVIEW,
    OT.OBJECT_SEQUENCE,
    OT.OBJECT_INDEX,
    OT.OBJECT_FOREIGN_TABLE,
}
CHILD_KINDS = {
    OT.OBJECT_TRIGGER,
    OT.OBJECT_RULE,
    OT.OBJECT_POLICY,
    OT.OBJECT_TABCONSTRAINT,
    OT.OBJECT_COLUMN,
}
GRANT_KINDS = {
    OT.OBJECT_TABLE,
    OT.OBJECT_SEQUENCE,
    OT.OBJECT_VIEW,
    OT.OBJECT_MATVIEW,
    OT.OBJECT_FOREIGN_TABLE,
}


def rv_name(rv: Any, schema: str | None) -> Name:
    return (rv.schemaname or schema, rv.relname)


def dotted(items: Any) -> Name:
    names = [item.sval for item in items]
    return (names[-2] if len(names) > 1 else None, names[-1])


def analyze_requested(explain: Any) -> bool:
    for option in explain.options or ():
        if option.defname != "analyze":
            continue
        arg = option.arg
        if arg is None:
            return True
        value = getattr(arg, "sval", getattr(arg, "ival", getattr(arg, "boolval", True)))
        return str(value).lower() not in ("off", "false", "0", "no", "f", "n")
    return False


class Reference:
    """Write targets straight from pglast's node objects."""

    def __init__(self) -> None:
        self.prepared: dict[str, set[Name]] = {}

    def writes(self, text: str) -> set[Name]:
        found: set[Name] = set()
        for raw in parse_sql(text):
            self.visit(raw.stmt, None, found)
        return found

    def visit(self, node: Any, schema: str | None, found: set[Name]) -> None:
        if isinstance(node, tuple | list):
            for item in node:
                self.visit(item, schema, found)
            return
        if not isinstance(node, ast.Node):
            return
        if isinstance(node, ast.ExplainStmt) and not analyze_requested(node):
            return  # plain EXPLAIN runs nothing
        if isinstance(node, ast.PrepareStmt):
            inner: set[Name] = set()
            self.visit(node.query, schema, inner)
            self.prepared[node.name] = inner
            found |= inner
            return
        if isinstance(node, ast.ExecuteStmt):
            found |= self.prepared.get(node.name, set())
        if isinstance(node, ast.CreateSchemaStmt):
            name = node.schemaname or (node.authrole.rolename if node.authrole else None)
            self.visit(node.schemaElts, name, found)
            return
        for field in TARGET_FIELDS.get(type(node), ()):
            value = getattr(node, field)
            for rv in value if isinstance(value, tuple) else (value,):
                if isinstance(rv, ast.RangeVar):
                    found.add(rv_name(rv, schema))
        if isinstance(node, ast.CopyStmt) and node.is_from and node.relation:
            found.add(rv_name(node.relation, schema))
        if isinstance(node, ast.AlterTableCmd) and node.subtype in (
            enums.AlterTableType.AT_AddInherit,
            enums.AlterTableType.AT_DropInherit,
        ):
            found.add(rv_name(node.def_, schema))
        if isinstance(node, ast.RenameStmt) and node.relation and node.renameType in RELATION_KINDS:
            found.add((node.relation.schemaname, node.newname))
        if isinstance(node, ast.AlterObjectSchemaStmt) and node.relation:
            found.add((node.newschema, node.relation.relname))
        if isinstance(node, ast.GrantStmt) and (
            node.targtype == enums.GrantTargetType.ACL_TARGET_OBJECT and node.objtype in GRANT_KINDS
        ):
            found.update(rv_name(rv, None) for rv in node.objects)
        if isinstance(node, ast.DropStmt):
            for obj in node.objects or ():
                if node.removeType in RELATION_KINDS:
                    found.add(dotted(obj))
                elif node.removeType in CHILD_KINDS:
                    found.add(dotted(obj[:-1]))
        if isinstance(node, ast.CommentStmt | ast.SecLabelStmt | ast.AlterExtensionContentsStmt):
            if node.objtype in RELATION_KINDS:
                found.add(dotted(node.object))
            elif node.objtype in CHILD_KINDS:
                found.add(dotted(node.object[:-1]))
        if (
            isinstance(node, ast.ImportForeignSchemaStmt)
            and node.list_type == enums.ImportForeignSchemaType.FDW_IMPORT_SCHEMA_LIMIT_TO
        ):
            found.update((node.local_schema, rv.relname) for rv in node.table_list)
        if isinstance(node, ast.CreateFunctionStmt) and node.sql_body is None:
            options = {o.defname: o.arg for o in node.options or ()}
            language = getattr(options.get("language"), "sval", None)
            body = options.get("as")
            if language == "sql" and isinstance(body, tuple) and len(body) == 1:
                for raw in parse_sql(body[0].sval):
                    self.visit(raw.stmt, schema, found)
        # walk every field below, except names that are not relations
        for field in node:
            if isinstance(node, ast.ImportForeignSchemaStmt) and field == "table_list":
                continue
            value = getattr(node, field)
            if isinstance(value, ast.Node | tuple | list):
                self.visit(value, schema, found)


def analyzer_writes(statement: Statement) -> set[Name]:
    return {(r.schema, r.name) for r in statement.writes}


def regress_dir() -> Path | None:
    explicit = os.environ.get("PROCTOR_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = (
        Path(explicit) if explicit else (Path(xdg) if xdg else Path.home() / ".cache") / "proctor"
    )
    complete = sorted(p.parent for p in (root / "pg-regress").glob("*/.complete"))
    return complete[-1] / "sql" if complete else None


def statements_of(path: Path) -> Iterator[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("\\")]
    try:
        yield from split("\n".join(lines), with_parser=False)
    except Exception:  # the scanner cannot cut it (psql variables in odd places)
        return


def test_write_sets_match_the_parse_tree_or_are_incomplete(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sql_dir = regress_dir()
    need(
        sql_dir is not None and sql_dir.is_dir(),
        "PostgreSQL regression suite not cached: run scripts/fetch-pg-regress.sh",
    )
    assert sql_dir is not None
    files = sorted(sql_dir.glob("*.sql"))
    assert len(files) > 100, f"only {len(files)} files in {sql_dir}"

    counts: Counter[str] = Counter()
    mismatches: list[str] = []
    started = time.perf_counter()
    for path in files:
        reference = Reference()
        prepared: dict[str, Statement] = {}
        for text in statements_of(path):
            counts["statements"] += 1
            statement = analyze_postgres(text, prepared)
            prepared.update(prepared_statements(text))
            try:
                expected = reference.writes(text)
            except Exception:
                expected = None
            if not statement.complete:
                counts["incomplete"] += 1
                continue
            counts["complete"] += 1
            if expected is None:
                mismatches.append(f"{path.name}: analyzer complete, reference failed: {text!r}")
            elif analyzer_writes(statement) != expected:
                mismatches.append(
                    f"{path.name}: {text[:300]!r}\n"
                    f"   analyzer {sorted(analyzer_writes(statement), key=str)}\n"
                    f"  reference {sorted(expected, key=str)}"
                )
            if statement.writes:
                counts["complete with writes"] += 1
    counts["mismatches"] = len(mismatches)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\nSQL conformance over {len(files)} regression files in {elapsed:.1f}s: "
            + ", ".join(f"{k}={v}" for k, v in counts.items())
        )
    assert counts["complete"] > 30_000, counts
    assert counts["complete with writes"] > 10_000, counts
    assert not mismatches, "\n".join(mismatches[:25])
