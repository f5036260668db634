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

from proctor.sql.mysql.analysis import analyze
from proctor.sql.mysql.constant import MAX_FOLD_DEPTH
from proctor.sql.mysql.tokens import MASK

__all__ = ["MASK", "MAX_FOLD_DEPTH", "analyze"]
