"""Policy test cases: statements with an identity and a connection, and the expected verdict.

Test cases live in the policy file under ``tests:`` (see docs/policy.md), so rules and the
behaviour they promise are read, reviewed and changed together, as OPA's policy tests are.
Running them needs a statement analyzer per protocol; the caller supplies it (the policy
package does not depend on the SQL analyzer), so unit tests can pass a fake one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from proctor.model import Action, Identity, Statement, Verdict
from proctor.policy.context import DecisionContext
from proctor.policy.engine import Policy, make_connection
from proctor.policy.schema import TestCase

Analyzer = Callable[[str], Statement]

DEFAULT_RULE = "default"  # expect.rule meaning "no rule decided: the default applied"


@dataclass(frozen=True, slots=True)
class CaseResult:
    index: int
    case: TestCase
    passed: bool
    verdict: Verdict | None  # None when the case could not run
    # Why the case failed: what differed, or why it could not run.
    failure: str | None = None
    statement: Statement | None = None

    @property
    def errored(self) -> bool:
        return self.verdict is None


def describe_verdict(verdict: Verdict) -> str:
    """``deny by rule no-drop``, ``allow by default``."""
    by = f"rule {verdict.rule}" if verdict.rule is not None else "default"
    return f"{verdict.action.value} by {by}"


def all_alerts(verdict: Verdict) -> tuple[str, ...]:
    """Every alert rule that matched, the deciding one first when the action is alert."""
    if verdict.action is Action.ALERT and verdict.rule is not None:
        return (verdict.rule, *verdict.alerts)
    return verdict.alerts


def run_case(
    policy: Policy, case: TestCase, index: int, analyzers: Mapping[str, Analyzer]
) -> CaseResult:
    analyze = analyzers.get(case.protocol)
    if analyze is None:
        return CaseResult(
            index, case, False, None, f"no statement analyzer for protocol {case.protocol}"
        )
    try:
        statement = analyze(case.statement)
    except Exception as exc:  # one broken case must not stop the others
        return CaseResult(index, case, False, None, f"the analyzer failed: {exc}")
    identity = Identity(
        subject=case.identity.subject,
        groups=frozenset(case.identity.groups),
        claims=MappingProxyType(dict(case.identity.claims)),
    )
    connection = make_connection(case.connection.name, case.connection.tags, case.protocol)
    context = DecisionContext(
        client_addr=case.client_addr,
        now=case.time or datetime.now(UTC),
        protocol=case.protocol,
    )
    verdict = policy.decide(statement, identity, connection, context)
    failure = _difference(case, verdict)
    return CaseResult(index, case, failure is None, verdict, failure, statement)


def run_policy_tests(policy: Policy, analyzers: Mapping[str, Analyzer]) -> list[CaseResult]:
    """Run every test case of ``policy``; one result per case, in file order."""
    return [
        run_case(policy, case, index, analyzers) for index, case in enumerate(policy.document.tests)
    ]


def _difference(case: TestCase, verdict: Verdict) -> str | None:
    expect = case.expect
    wanted = expect.action.value
    if expect.rule is not None:
        wanted += f" by {'default' if expect.rule == DEFAULT_RULE else 'rule ' + expect.rule}"
    got_rule = verdict.rule if verdict.rule is not None else DEFAULT_RULE
    if verdict.action is not expect.action or (expect.rule is not None and expect.rule != got_rule):
        return f"expected {wanted}, got {describe_verdict(verdict)}"
    if expect.alerts is not None and set(expect.alerts) != set(all_alerts(verdict)):
        expected = ", ".join(sorted(set(expect.alerts))) or "none"
        got = ", ".join(sorted(set(all_alerts(verdict)))) or "none"
        return f"expected alerts {expected}, got {got}"
    return None


def summary(results: Sequence[CaseResult]) -> tuple[int, int]:
    """(passed, total)."""
    return sum(result.passed for result in results), len(results)
