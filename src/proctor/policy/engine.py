"""``Policy``: a validated, compiled policy that decides one command at a time.

Theory of operation
-------------------
Every rule is evaluated (there is no short-circuit on the first match), so ``Verdict.matched``
lists every matching rule in file order and the outcome does not depend on rule order except
for which rule is *named*. The outcome, from the matching rules:

1. any ``deny`` rule matched: **deny**, named by the first such rule;
2. the statement is incomplete (the analyzer could not see everything it may do) and no
   matching ``allow``/``review`` rule says ``complete: false`` explicitly: **deny**, named
   ``fail-closed`` (allow and review rules that do not mention ``complete`` do not count for
   an incomplete statement: a rule written for classified statements never grants an
   unclassified one);
3. any ``review`` rule matched: **review**, named by the first;
4. any ``allow`` rule matched: **allow**, named by the first;
5. otherwise the default: the first ``connection_defaults`` entry that matches the
   connection, else the top-level ``default`` (a default ``deny`` names no rule).

``alert`` rules never grant or refuse anything: they mark the outcome. When the outcome is
allow and alert rules matched, the action becomes ``alert`` (allowed, with an event), named
by the first alert rule; ``Verdict.alerts`` lists the other matching alert rules (all of
them when the deciding rule is not an alert).

``decide`` is the hot path. Rules are compiled at load (see ``conditions``). The conditions
about the statement alone are evaluated once per Statement object and remembered (the analyzer
caches analyses by text, so a repeated statement is the same object); per decision, only the
remaining rules' identity, connection, client and time conditions run, and the resulting
Verdict for a given set of matching rules is built once and reused (Verdicts are frozen).
``explain`` evaluates everything afresh, with a trace of every rule, and resolves the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from proctor.model import Action, Connection, Credential, Identity, Operation, Statement, Verdict
from proctor.policy import conditions as c
from proctor.policy.conditions import Condition, Text, is_incomplete
from proctor.policy.context import DecisionContext
from proctor.policy.loader import policy_from_data, read_policy_file
from proctor.policy.schema import (
    NO_MASKING,
    ConnectionDefault,
    MaskingChoice,
    MatchBlock,
    PolicyDocument,
    Rule,
)

FAIL_CLOSED = "fail-closed"  # Verdict.rule when an unclassifiable statement is refused
FAIL_CLOSED_MESSAGE = (
    "Proctor could not fully analyze this statement, and statements it cannot classify are "
    "refused unless a policy rule explicitly allows them"
)
BUILTIN_SOURCE = "<built-in policy>"
BUILTIN_POLICY: Mapping[str, object] = MappingProxyType({"version": 1, "default": "allow"})

DEFAULT_DENY_MESSAGE = (
    "no policy rule allows this statement, and the default for this connection is deny"
)
_MAX_OUTCOMES = 4096
_MAX_REMEMBERED = 2048  # statements whose statement-only rule matches are remembered
_MAX_REMEMBERED_TEXT = 4096  # characters; longer statements are evaluated afresh

# Enum members as module constants: attribute access on an Enum class costs ~0.2 us.
_DENY, _REVIEW, _ALERT = Action.DENY, Action.REVIEW, Action.ALERT
_ALLOW = Verdict(Action.ALLOW)
_DENY_BY_DEFAULT = Verdict(Action.DENY, None, DEFAULT_DENY_MESSAGE)


# Placeholders passed to conditions that do not look at them.
_NO_STATEMENT = Statement(text="", operation=Operation.UNKNOWN, effects=frozenset())
_NO_IDENTITY = Identity(subject="")
_NO_CONNECTION = Connection(
    name="", protocol="", host="", port=0, database=None, credential=Credential(username="")
)
_NO_CONTEXT = DecisionContext(client_addr=None, now=datetime(2000, 1, 1, tzinfo=UTC))


# Condition name in the language -> its compiler, given the value and what an unsure
# condition answers (only client_addresses and text can be unsure).
COMPILERS: dict[str, Callable[[Any, bool], Condition]] = {
    "subjects": lambda value, unsure: c.Subjects(value),
    "groups": lambda value, unsure: c.Groups(value),
    "claims": lambda value, unsure: c.Claims(value),
    "connections": lambda value, unsure: c.Connections(value),
    "tags": lambda value, unsure: c.Tags(value),
    "protocols": lambda value, unsure: c.Protocols(value),
    "operations": lambda value, unsure: c.Operations(value),
    "only_operations": lambda value, unsure: c.OnlyOperations(value),
    "tables": lambda value, unsure: c.Tables(value),
    "functions": lambda value, unsure: c.Functions(value),
    "features": lambda value, unsure: c.Features(value),
    "settings": lambda value, unsure: c.Settings(value),
    "unfiltered": lambda value, unsure: c.Unfiltered(value),
    "complete": lambda value, unsure: c.Complete(value),
    "client_addresses": lambda value, unsure: c.ClientAddresses(value, unsure=unsure),
    "time": lambda value, unsure: c.Time(value),
    "text": lambda value, unsure: c.Text(value, unsure=unsure),
}


def _block(block: MatchBlock, *, unsure: bool) -> tuple[Condition, ...]:
    """Compile one match (or unless) block, conditions in the schema's order."""
    return tuple(COMPILERS[key](value, unsure) for key, value in block.given().items())


# (statement, rules whose statement-only conditions hold, whether it is incomplete)
# (the statement, or the analysis it shares; the rules its statement conditions satisfy;
# whether it is incomplete). Holding the key keeps its id from being reused.
_StatementEntry = tuple[object, tuple["PolicyRule", ...], bool]


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule fared in ``explain``."""

    name: str
    action: Action
    matched: bool
    # Why the rule did not match (the first condition that failed, or the exempting
    # ``unless`` block); for a match, "all conditions hold" or why it did not count.
    reason: str
    counted: bool = True  # False: matched, but ignored by the fail-closed rule


@dataclass(frozen=True, slots=True)
class Explanation:
    verdict: Verdict
    rules: tuple[RuleTrace, ...]
    incomplete: bool
    decided_by: str  # in words: "rule no-drop (deny)", "default for connection shop: deny"


class PolicyRule:
    """One compiled rule: its public attributes and its matcher.

    Conditions about the statement alone (operations, tables, ...) are kept apart from the
    others (identity, connection, client, time), so ``Policy.decide`` can evaluate them once
    per cached statement; ``matches`` evaluates everything.
    """

    __slots__ = (
        "_conditions",
        "_context_tests",
        "_statement_tests",
        "_unless",
        "_unless_conditions",
        "accepts_incomplete",
        "action",
        "description",
        "message",
        "name",
        "workflow",
    )

    def __init__(self, rule: Rule) -> None:
        self.name = rule.name
        self.action = rule.action
        self.message = rule.message
        self.description = rule.description
        self.workflow = rule.review.workflow if rule.review is not None else None
        # Doubt makes a rule more restrictive: a deny/review/alert rule matches when unsure,
        # an allow rule does not; for `unless` blocks (exemptions) the other way round.
        restrictive = rule.action is not Action.ALLOW
        self._conditions = _block(rule.match, unsure=restrictive)
        self._unless_conditions = tuple(
            _block(block, unsure=not restrictive) for block in rule.unless
        )
        # Bound methods, looked up once: the hot path only calls them.
        self._statement_tests = tuple(c.test for c in self._conditions if c.about_statement)
        self._context_tests = tuple(c.test for c in self._conditions if not c.about_statement)
        self._unless = tuple(tuple(c.test for c in block) for block in self._unless_conditions)
        # Only an explicit "complete: false" lets an allow/review rule count for an
        # incomplete statement.
        self.accepts_incomplete = rule.match.complete is False

    @property
    def reads_text(self) -> bool:
        """Whether a statement condition of this rule looks at the statement's text."""
        return any(isinstance(c, Text) for c in self._conditions if c.about_statement)

    def statement_holds(self, statement: Statement) -> bool:
        """Whether the conditions about the statement alone hold."""
        for test in self._statement_tests:
            if not test(statement, _NO_IDENTITY, _NO_CONNECTION, _NO_CONTEXT):
                return False
        return True

    def context_holds(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        """The other conditions, then the ``unless`` exemptions."""
        for test in self._context_tests:
            if not test(statement, identity, connection, context):
                return False
        for block in self._unless:
            for test in block:
                if not test(statement, identity, connection, context):
                    break
            else:
                return False  # every condition of this exemption holds
        return True

    def matches(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return self.statement_holds(statement) and self.context_holds(
            statement, identity, connection, context
        )

    def trace(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> tuple[bool, str]:
        """(matched, reason) with the same outcome as ``matches``."""
        for condition in self._conditions:
            if not condition.test(statement, identity, connection, context):
                return False, f"{condition.key}: " + condition.why_not(
                    statement, identity, connection, context
                )
        for index, block in enumerate(self._unless_conditions):
            if all(cond.test(statement, identity, connection, context) for cond in block):
                held = "; ".join(cond.describe() for cond in block)
                return False, f"unless[{index}] holds ({held})"
        return True, "all conditions hold"

    def __repr__(self) -> str:
        return f"PolicyRule({self.name!r}, {self.action.value})"


class _ConnectionDefault:
    __slots__ = ("_conditions", "action", "index")

    def __init__(self, index: int, entry: ConnectionDefault) -> None:
        self.index = index
        self.action = entry.default
        conditions: list[Condition] = []
        if entry.connections is not None:
            conditions.append(c.Connections(entry.connections))
        if entry.tags is not None:
            conditions.append(c.Tags(entry.tags))
        self._conditions = tuple(conditions)

    def applies_to(self, connection: Connection, context: DecisionContext) -> bool:
        statement = _NO_STATEMENT
        return all(
            cond.test(statement, _NO_IDENTITY, connection, context) for cond in self._conditions
        )


class _MaskingChoice:
    __slots__ = ("_conditions", "_unless", "profile")

    def __init__(self, choice: MaskingChoice) -> None:
        self.profile = None if choice.profile == NO_MASKING else choice.profile
        # When a condition cannot tell (client address unknown), lean towards masking: an
        # entry that masks matches, an entry that turns masking off does not.
        masks = self.profile is not None
        self._conditions = _block(choice.match, unsure=masks)
        self._unless = tuple(_block(block, unsure=not masks) for block in choice.unless)

    def applies(self, identity: Identity, connection: Connection, context: DecisionContext) -> bool:
        statement = _NO_STATEMENT
        if not all(c.test(statement, identity, connection, context) for c in self._conditions):
            return False
        return not any(
            all(c.test(statement, identity, connection, context) for c in block)
            for block in self._unless
        )


class Policy:
    """A loaded policy. Build it with ``load``, ``from_dict`` or ``builtin``."""

    __slots__ = (
        "_by_statement",
        "_defaults",
        "_fingerprint",
        "_global_default",
        "_masking",
        "_outcomes",
        "_rules",
        "_rules_by_name",
        "_shapes",
        "document",
        "source",
        "test_lines",
    )

    def __init__(self, document: PolicyDocument, source: str) -> None:
        self.document = document
        self.source = source
        # Line of each test case in the file (None when built from a dict).
        self.test_lines: tuple[int | None, ...] = (None,) * len(document.tests)
        self._rules = tuple(PolicyRule(rule) for rule in document.rules)
        self._rules_by_name = {rule.name: rule for rule in self._rules}
        self._defaults = tuple(
            _ConnectionDefault(i, entry) for i, entry in enumerate(document.connection_defaults)
        )
        self._global_default = document.default
        self._masking = tuple(_MaskingChoice(choice) for choice in document.masking)
        self._outcomes: dict[tuple[tuple[PolicyRule, ...], bool], _Outcome] = {}
        self._by_statement: dict[int, _StatementEntry] = {}
        # Whether statements sharing an analysis may share a remembered entry: not when a
        # rule's statement conditions read the text (a `text` regex sees the constants).
        self._shapes = not any(rule.reads_text for rule in self._rules)
        canonical = json.dumps(
            document.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        self._fingerprint = hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @classmethod
    def load(cls, path: Path | str) -> Policy:
        """Read, validate and compile a policy file; ``PolicyError`` lists every problem."""
        document, source = read_policy_file(path)
        policy = cls(document, str(path))
        policy.test_lines = tuple(
            position.line if (position := source.position_of(("tests", index))) else None
            for index in range(len(document.tests))
        )
        return policy

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, source: str = "<policy>") -> Policy:
        """Validate and compile a policy given as data (as YAML would have parsed it)."""
        return cls(policy_from_data(data, source), source)

    @classmethod
    def builtin(cls) -> Policy:
        """The policy used when none is configured: allow what can be classified."""
        return cls.from_dict(BUILTIN_POLICY, source=BUILTIN_SOURCE)

    @property
    def rules(self) -> tuple[PolicyRule, ...]:
        return self._rules

    def rule(self, name: str) -> PolicyRule | None:
        return self._rules_by_name.get(name)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the canonical policy: the "policy version" recorded in sessions.

        Canonical means normalised (shorthands expanded, names lower-cased, times in
        minutes), serialised as sorted JSON; test cases are not part of it.
        """
        return self._fingerprint

    def decide(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> Verdict:
        # Which rules the statement alone satisfies is remembered per Statement object (the
        # analyzer caches analyses by text, so the same object comes back): per decision
        # only identity, connection, client and time conditions are left to check. The entry
        # holds the statement itself, so its id cannot be reused while the entry exists.
        # Texts that differ only in constants share one analysis (``shape``), and so one
        # entry — unless a rule looks at the text itself.
        key = statement.shape if statement.shape is not None and self._shapes else statement
        entry = self._by_statement.get(id(key))
        if entry is None or entry[0] is not key:
            entry = self._remember(statement, key)
        matched = tuple(
            [
                rule
                for rule in entry[1]
                if rule.context_holds(statement, identity, connection, context)
            ]
        )
        return self._verdict(matched, entry[2], connection, context)

    def _remember(self, statement: Statement, key: object) -> _StatementEntry:
        candidates = tuple(rule for rule in self._rules if rule.statement_holds(statement))
        entry = (key, candidates, is_incomplete(statement))
        if len(statement.text) <= _MAX_REMEMBERED_TEXT:
            if len(self._by_statement) >= _MAX_REMEMBERED:
                self._by_statement.clear()
            self._by_statement[id(key)] = entry
        return entry

    def explain(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> Explanation:
        """``decide`` with its working: every rule, whether it matched and why not."""
        incomplete = is_incomplete(statement)
        traces: list[RuleTrace] = []
        matched: list[PolicyRule] = []
        for rule in self._rules:
            hit, reason = rule.trace(statement, identity, connection, context)
            counted = True
            if hit:
                matched.append(rule)
                if incomplete and rule.action in _GRANTS and not rule.accepts_incomplete:
                    counted = False
                    reason = (
                        "matched, but does not count: the statement is incomplete and the "
                        "rule does not say 'complete: false'"
                    )
            traces.append(RuleTrace(rule.name, rule.action, hit, reason, counted))
        verdict = self._verdict(tuple(matched), incomplete, connection, context)
        decided_by = self._decided_by(verdict, connection, context)
        return Explanation(verdict, tuple(traces), incomplete, decided_by)

    def masking_profile(
        self, identity: Identity, connection: Connection, context: DecisionContext
    ) -> str | None:
        """The masking profile a session of ``identity`` on ``connection`` gets: the first
        matching ``masking`` entry's, None when no entry matches or it says ``none``."""
        for choice in self._masking:
            if choice.applies(identity, connection, context):
                return choice.profile
        return None

    def workflows(self) -> frozenset[str]:
        """Every approval workflow a review rule names."""
        return frozenset(r.workflow for r in self._rules if r.workflow is not None)

    def masking_profiles(self) -> frozenset[str]:
        """Every profile name the ``masking`` section uses (``none`` excluded)."""
        return frozenset(c.profile for c in self._masking if c.profile is not None)

    def default_for(self, connection: Connection, context: DecisionContext) -> tuple[Action, str]:
        """The default action for ``connection`` and where it comes from."""
        for entry in self._defaults:
            if entry.applies_to(connection, context):
                return entry.action, f"connection_defaults[{entry.index}]"
        return self.document.default, "default"

    def _verdict(
        self,
        matched: tuple[PolicyRule, ...],
        incomplete: bool,
        connection: Connection,
        context: DecisionContext,
    ) -> Verdict:
        if not matched and not incomplete:
            return (
                _DENY_BY_DEFAULT if self._default_action(connection, context) is _DENY else _ALLOW
            )
        # The verdict is a function of (matched rules, incomplete) and, when no rule decides,
        # the default action: remember it rather than build a new Verdict per command. The
        # key holds only this policy's rules, so sharing it across sessions shares nothing.
        key = (matched, incomplete)
        outcome = self._outcomes.get(key)
        if outcome is None:
            if len(self._outcomes) >= _MAX_OUTCOMES:
                self._outcomes.clear()
            outcome = self._outcomes[key] = _outcome(matched, incomplete)
        if outcome.decided is not None:
            return outcome.decided
        if self._default_action(connection, context) is _DENY:
            return outcome.if_default_deny
        return outcome.if_default_allow

    def _default_action(self, connection: Connection, context: DecisionContext) -> Action:
        for entry in self._defaults:
            if entry.applies_to(connection, context):
                return entry.action
        return self._global_default

    def _decided_by(
        self, verdict: Verdict, connection: Connection, context: DecisionContext
    ) -> str:
        if verdict.rule == FAIL_CLOSED:
            return "fail-closed: an incomplete statement that no rule explicitly allows"
        if verdict.rule is not None:
            rule = self._rules_by_name[verdict.rule]
            return f"rule {rule.name} ({rule.action.value})"
        action, source = self.default_for(connection, context)
        return f"{source} for connection {connection.name}: {action.value} (no rule decided)"


@dataclass(frozen=True, slots=True)
class _Outcome:
    decided: Verdict | None  # None: no rule decided, the default applies
    if_default_allow: Verdict
    if_default_deny: Verdict


def _outcome(matched: tuple[PolicyRule, ...], incomplete: bool) -> _Outcome:
    """The verdict for these matching rules; see the module docstring for the steps."""
    deny = review = allow = None
    alerts: list[PolicyRule] = []
    for rule in matched:
        action = rule.action
        if action is _DENY:
            deny = deny or rule
        elif action is _ALERT:
            alerts.append(rule)
        elif incomplete and not rule.accepts_incomplete:
            continue  # fail closed: step 2
        elif action is _REVIEW:
            review = review or rule
        else:
            allow = allow or rule
    names = tuple(rule.name for rule in matched)
    alert_names = tuple(rule.name for rule in alerts)
    denied = Verdict(_DENY, None, DEFAULT_DENY_MESSAGE, alert_names, names)
    if deny is not None:
        decided: Verdict | None = Verdict(_DENY, deny.name, deny.message, alert_names, names)
    elif incomplete and review is None and allow is None:
        decided = Verdict(_DENY, FAIL_CLOSED, FAIL_CLOSED_MESSAGE, alert_names, names)
    elif review is not None:
        decided = Verdict(_REVIEW, review.name, review.message, alert_names, names)
    elif allow is not None or alerts:
        decided = None if allow is None else Verdict(Action.ALLOW, allow.name, None, (), names)
        if alerts:
            first = alerts[0]
            alerted = Verdict(_ALERT, first.name, first.message, alert_names[1:], names)
            return _Outcome(alerted if allow is not None else None, alerted, denied)
    else:
        decided = None
    allowed = Verdict(Action.ALLOW, None, None, (), names)
    return _Outcome(decided, allowed, denied)


_GRANTS = frozenset({Action.ALLOW, Action.REVIEW})


def make_connection(
    name: str, tags: Mapping[str, str] | None = None, protocol: str = "postgres"
) -> Connection:
    """A ``Connection`` carrying only what policy looks at (for tests and ``explain``)."""
    return Connection(
        name=name,
        protocol=protocol,
        host="",
        port=0,
        database=None,
        credential=Credential(username=""),
        tags=MappingProxyType(dict(tags or {})),
    )
