"""PostgreSQL statement analysis: text → ``Statement``, by walking PostgreSQL's own parse tree.

Theory of operation
-------------------
libpg_query (through pglast) parses the text exactly as the server would and returns the raw
parse tree (``_tree.parse``). A single walker visits every node of every statement with an
explicit stack (no recursion, so no nesting can exhaust Python's stack) and records facts:

- *effects*: each statement node adds its operation (``catalog.STATEMENT_OPERATIONS``), wherever
  it sits — a DELETE inside a CTE, a rule action, a PREPARE, a SQL function body or under
  EXPLAIN ANALYZE adds ``delete`` just as a top-level DELETE does;
- *relations*: a ``RangeVar`` is a read unless the node that owns it makes it a write target
  (INSERT/UPDATE/DELETE/MERGE targets, DDL targets, TRUNCATE, COPY FROM, SELECT INTO, LOCK,
  GRANT ...). Unqualified names that refer to a CTE in scope are not relations;
- *functions*: every ``FuncCall``, as written (``schema.name`` or ``name``);
- *unfiltered*: UPDATE/DELETE with no WHERE clause or one that is constantly true
  (``constant.always_true``);
- *settings* and *features* (SET ROLE, ALTER SYSTEM, COPY PROGRAM, ...);
- *secrets*: byte offsets of literals ``redact`` must hide.

Context travels with each node on the stack: the CTE names in scope, whether the subtree is
*effective* (plain EXPLAIN executes nothing: its DML targets count as reads and add no
effects), the schema CREATE SCHEMA puts new objects in, and where SET clauses apply.

Fail closed: whatever the walker cannot account for makes ``complete`` False with a note — an
unknown statement type, a parse tree of unexpected shape, a DO block, a function body in a
language other than SQL, EXECUTE of a prepared statement whose definition was not seen,
functions that run SQL text (dblink, query_to_xml ...), set_config with a computed name,
text over ``MAX_TEXT_CHARS`` or a NUL character, and parse errors. No input raises.
"""

from __future__ import annotations

from proctor.sql.postgres.analysis import MAX_TEXT_CHARS, analyze, prepared_statements
from proctor.sql.postgres.walker import MAX_BODY_NESTING, MAX_DEPTH

__all__ = ["MAX_BODY_NESTING", "MAX_DEPTH", "MAX_TEXT_CHARS", "analyze", "prepared_statements"]
