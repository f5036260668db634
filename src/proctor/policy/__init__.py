"""Guardrails: the policy language and the engine that decides each command.

``Policy.load(path)`` reads and validates a policy file (``PolicyError``, a ``ConfigError``,
lists every problem with file, line, key path and expected-vs-found), compiles it, and
``policy.decide(statement, identity, connection, context)`` returns a ``Verdict``.
``policy.explain(...)`` shows the working; ``run_policy_tests`` runs a policy's own test
cases. The language and its semantics are documented in docs/policy.md.

Imports only ``proctor.model``, ``proctor.config`` (YAML loading and error types), pydantic,
PyYAML and the standard library: no I/O beyond reading the policy file.
"""

from proctor.policy.configured import load_configured_policy
from proctor.policy.context import DecisionContext
from proctor.policy.engine import (
    BUILTIN_POLICY,
    FAIL_CLOSED,
    FAIL_CLOSED_MESSAGE,
    Explanation,
    Policy,
    PolicyRule,
    RuleTrace,
    make_connection,
)
from proctor.policy.loader import PolicyError
from proctor.policy.schema import POLICY_VERSION, PolicyDocument, TestCase
from proctor.policy.testing import (
    Analyzer,
    CaseResult,
    all_alerts,
    describe_verdict,
    run_policy_tests,
)

__all__ = [
    "BUILTIN_POLICY",
    "FAIL_CLOSED",
    "FAIL_CLOSED_MESSAGE",
    "POLICY_VERSION",
    "Analyzer",
    "CaseResult",
    "DecisionContext",
    "Explanation",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "PolicyRule",
    "RuleTrace",
    "TestCase",
    "all_alerts",
    "describe_verdict",
    "load_configured_policy",
    "make_connection",
    "run_policy_tests",
]
