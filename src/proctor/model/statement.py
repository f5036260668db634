"""A command as the policy sees it: protocol-neutral, produced by an analyzer (SQL parser,
shell parser, MCP tool-call reader), never by string matching."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Operation(enum.StrEnum):
    SELECT = "select"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    MERGE = "merge"
    COPY = "copy"
    CREATE = "create"  # DDL
    ALTER = "alter"
    DROP = "drop"
    TRUNCATE = "truncate"
    GRANT = "grant"
    REVOKE = "revoke"
    SET = "set"  # SET / RESET / SET ROLE / SET SESSION AUTHORIZATION ...
    TRANSACTION = "transaction"  # BEGIN, COMMIT, ROLLBACK, SAVEPOINT ...
    CALL = "call"
    DO = "do"
    PREPARE = "prepare"
    EXECUTE = "execute"
    EXPLAIN = "explain"
    UTILITY = "utility"  # known and harmless: SHOW, LISTEN, NOTIFY, DISCARD, FETCH ...
    UNKNOWN = "unknown"


WRITE_OPERATIONS = frozenset(
    {
        Operation.INSERT,
        Operation.UPDATE,
        Operation.DELETE,
        Operation.MERGE,
        Operation.TRUNCATE,
        Operation.CREATE,
        Operation.ALTER,
        Operation.DROP,
    }
)


class Feature(enum.StrEnum):
    """Notable things a command does that its operation alone does not say.

    The analyzer adds them to ``Statement.features``; policies match them by name
    (``match: {features: [copy_program]}``), so these values are a contract: add, never rename.
    """

    SET_ROLE = "set_role"  # SET [LOCAL] ROLE, RESET ROLE, set_config('role', ...)
    SET_SESSION_AUTHORIZATION = "set_session_authorization"
    SET_SEARCH_PATH = "set_search_path"  # changes how unqualified names resolve
    ALTER_SYSTEM = "alter_system"  # writes postgresql.auto.conf
    COPY_PROGRAM = "copy_program"  # COPY ... TO/FROM PROGRAM: a shell command on the server
    COPY_SERVER_FILE = "copy_server_file"  # COPY ... TO/FROM 'file' on the server
    LOAD_LIBRARY = "load_library"  # LOAD 'library'


class Access(enum.StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class RelationRef:
    """A table, view or sequence a statement touches, and how."""

    name: str
    schema: str | None
    access: Access

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True, slots=True)
class Statement:
    """What one client command (possibly several statements) does.

    ``operation`` is the top-level kind of the first statement; ``effects`` is every
    operation performed anywhere in the command (a CTE with a DELETE adds ``delete``, so
    does ``EXPLAIN ANALYZE DELETE``, so does a later statement of a batch).
    ``unfiltered`` names UPDATE/DELETE effects without a WHERE clause. ``complete`` is False
    when the analyzer could not see everything the command may do (a DO block, dynamic SQL,
    an unparseable statement): policy treats such commands as unknown and fails closed.
    """

    text: str
    operation: Operation
    effects: frozenset[Operation]
    relations: tuple[RelationRef, ...] = ()
    functions: frozenset[str] = frozenset()
    unfiltered: frozenset[Operation] = frozenset()
    statement_count: int = 1
    complete: bool = True
    dialect: str = "postgres"
    # Why the analysis is incomplete, or the parse error, for messages and explanations.
    notes: tuple[str, ...] = ()
    # Statement text with secrets (passwords, keys) replaced, for recordings.
    redacted_text: str = field(default="", repr=False)
    # Server settings (GUCs) the command changes: ``role``, ``session_authorization``,
    # ``search_path``, ``all`` (RESET ALL), ``system:<name>`` for ALTER SYSTEM,
    # ``role:<name>`` / ``database:<name>`` / ``function:<name>`` for stored per-object values.
    settings: frozenset[str] = frozenset()
    # Feature values (see ``Feature``) the command uses, e.g. {"copy_program"}.
    features: frozenset[str] = frozenset()
    # The analysis this one shares with other texts (the template analyzer's, for texts that
    # differ only in constants), or None. Consumers that remember per analysis (the policy)
    # key on it; it says nothing about the text itself.
    shape: object = field(default=None, compare=False, repr=False)

    @property
    def writes(self) -> tuple[RelationRef, ...]:
        return tuple(r for r in self.relations if r.access is Access.WRITE)

    @property
    def reads(self) -> tuple[RelationRef, ...]:
        return tuple(r for r in self.relations if r.access is Access.READ)


class Action(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    REVIEW = "review"
    ALERT = "alert"  # allowed, with an event raised


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's decision for one command."""

    action: Action
    rule: str | None = None  # the rule that decided (None: the default action)
    message: str | None = None  # shown to the user on deny/review
    alerts: tuple[str, ...] = ()  # alert rules that matched besides the deciding one
    matched: tuple[str, ...] = ()  # every rule that matched, in order (for explain)

    @property
    def allowed(self) -> bool:
        return self.action in (Action.ALLOW, Action.ALERT)
