"""``proctor policy check|test|explain``: validate, test and explain guardrail policies."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import click
from click.core import ParameterSource

from proctor.cli.options import config_option, json_option
from proctor.config import ConfigError, ConfigProblem, ProctorConfig, load_config
from proctor.model import Connection, Identity, Statement, Verdict
from proctor.policy import (
    Analyzer,
    CaseResult,
    DecisionContext,
    Explanation,
    Policy,
    PolicyError,
    all_alerts,
    describe_verdict,
    load_configured_policy,
    make_connection,
    run_policy_tests,
)

# protocol -> (module, function) of its statement analyzer, imported on first use.
_ANALYZERS = {"postgres": ("proctor.sql", "analyze_postgres")}


def analyzers() -> dict[str, Analyzer]:
    """The statement analyzers this build has, by protocol."""
    found: dict[str, Analyzer] = {}
    for protocol, (module_name, function) in _ANALYZERS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        analyze = getattr(module, function, None)
        if callable(analyze):
            found[protocol] = analyze
    return found


@click.group("policy")
def policy_group() -> None:
    """Check, test and explain guardrail policies (see docs/policy.md)."""


# --- check ---------------------------------------------------------------------------------------


@policy_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def check(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Validate the policy FILE and report every problem at once.

    Exits 0 when the policy is valid, 1 when it is not, printing each problem as
    FILE:LINE:COLUMN: KEY.PATH: MESSAGE.
    """
    policy, problems = _load(file)
    if as_json:
        report: dict[str, object] = {
            "ok": policy is not None,
            "file": str(file),
            "fingerprint": policy.fingerprint() if policy else None,
            "rules": [rule.name for rule in policy.rules] if policy else [],
            "tests": len(policy.document.tests) if policy else 0,
            "problems": [problem.as_dict() for problem in problems],
        }
        click.echo(json.dumps(report, indent=2))
    elif policy is not None:
        rules, tests = len(policy.rules), len(policy.document.tests)
        click.echo(
            f"{file}: OK ({_count(rules, 'rule')}, {_count(tests, 'test')}; "
            f"fingerprint {policy.fingerprint()[:12]})"
        )
    else:
        _print_problems(file, problems)
    if policy is None:
        ctx.exit(1)


# --- test ----------------------------------------------------------------------------------------


@policy_group.command("test")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def test(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Run the test cases written in the policy FILE (its `tests:` list).

    Prints PASS or FAIL for every case, then a summary; exits 1 when any case fails, cannot
    run, or when the file has no test cases.
    """
    policy, problems = _load(file)
    if policy is None:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "ok": False,
                        "file": str(file),
                        "problems": [problem.as_dict() for problem in problems],
                    },
                    indent=2,
                )
            )
        else:
            _print_problems(file, problems)
        ctx.exit(1)
        return
    results = run_policy_tests(policy, analyzers())
    passed = sum(result.passed for result in results)
    ok = bool(results) and passed == len(results)
    if as_json:
        click.echo(json.dumps(_test_report(file, policy, results, ok), indent=2))
    else:
        _print_results(file, policy, results)
    if not ok:
        ctx.exit(1)


def _print_results(file: Path, policy: Policy, results: Sequence[CaseResult]) -> None:
    if not results:
        click.echo(f"{file}: no test cases (add a 'tests:' list; see docs/policy.md)", err=True)
        return
    for result in results:
        status = "PASS" if result.passed else ("ERROR" if result.errored else "FAIL")
        where = _case_location(file, policy, result.index)
        line = f"{status:<5} {where}: {result.case.title}"
        if result.passed and result.verdict is not None:
            line += f" ({describe_verdict(result.verdict)})"
        click.echo(line)
        if result.failure:
            click.echo(f"      {result.failure}")
    passed = sum(result.passed for result in results)
    click.echo("-" * 80)
    if passed == len(results):
        click.echo(f"PASS: {passed}/{len(results)}")
    else:
        click.echo(f"FAIL: {len(results) - passed}/{len(results)}")


def _case_location(file: Path, policy: Policy, index: int) -> str:
    line = policy.test_lines[index] if index < len(policy.test_lines) else None
    return f"{file}:{line}" if line is not None else f"tests[{index}]"


def _test_report(
    file: Path, policy: Policy, results: Sequence[CaseResult], ok: bool
) -> dict[str, object]:
    passed = sum(result.passed for result in results)
    return {
        "ok": ok,
        "file": str(file),
        "fingerprint": policy.fingerprint(),
        "passed": passed,
        "failed": len(results) - passed,
        "cases": [
            {
                "index": result.index,
                "line": policy.test_lines[result.index],
                "name": result.case.title,
                "statement": result.case.statement,
                "status": "pass" if result.passed else ("error" if result.errored else "fail"),
                "expected": result.case.expect.model_dump(mode="json", exclude_none=True),
                "verdict": _verdict_json(result.verdict) if result.verdict else None,
                "failure": result.failure,
            }
            for result in results
        ],
    }


# --- explain -------------------------------------------------------------------------------------


@policy_group.command("explain")
@click.argument("statement")
@click.option("--as", "subject", required=True, help="The identity's subject, e.g. alice.")
@click.option("--group", "groups", multiple=True, help="A group of the identity (repeatable).")
@click.option("--claim", "claims", multiple=True, metavar="KEY=VALUE", help="A claim (repeatable).")
@click.option("--connection", "connection_name", required=True, help="Connection name.")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    help="A connection tag (repeatable); adds to or overrides the configured tags.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy file (default: the configuration's policy).",
)
@config_option
@click.option("--protocol", default=None, help="Client protocol (default: the connection's).")
@click.option("--client-addr", default=None, help="The client's IP address.")
@click.option(
    "--time",
    "at",
    default=None,
    metavar="ISO-8601",
    help="When the statement arrives, with a UTC offset (default: now).",
)
@json_option
@click.pass_context
def explain(
    ctx: click.Context,
    statement: str,
    subject: str,
    groups: tuple[str, ...],
    claims: tuple[str, ...],
    connection_name: str,
    tags: tuple[str, ...],
    policy_path: Path | None,
    config_path: Path,
    protocol: str | None,
    client_addr: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Show how the policy decides STATEMENT for an identity on a connection.

    Prints the statement's analysis, every rule with whether it matched (and if not, the
    first condition that failed), which rule decided, and the action and message.

    With --config (or no --policy), the policy is the configuration's and the connection's
    tags and protocol come from its connection of that name; --tag adds or overrides tags.
    """
    config_given = ctx.get_parameter_source("config_path") is ParameterSource.COMMANDLINE
    config = _load_config(config_path) if config_given or policy_path is None else None
    policy = _policy_for(policy_path, config)
    connection = _connection(connection_name, config, _pairs(tags, "--tag"), protocol)
    identity = Identity(
        subject=subject,
        groups=frozenset(groups),
        claims=MappingProxyType(dict(_pairs(claims, "--claim"))),
    )
    context = DecisionContext(
        client_addr=client_addr, now=_moment(at), protocol=protocol or connection.protocol
    )
    analyze = analyzers().get(context.protocol)
    if analyze is None:
        raise click.ClickException(
            f"no statement analyzer for protocol {context.protocol} in this build"
        )
    analyzed = analyze(statement)
    explanation = policy.explain(analyzed, identity, connection, context)
    if as_json:
        click.echo(
            json.dumps(
                _explain_json(policy, analyzed, identity, connection, context, explanation),
                indent=2,
            )
        )
    else:
        _print_explanation(policy, analyzed, identity, connection, context, explanation)


def _load_config(path: Path) -> ProctorConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        _print_problems(path, exc.problems)
        raise click.exceptions.Exit(1) from None


def _policy_for(path: Path | None, config: ProctorConfig | None) -> Policy:
    try:
        if path is not None:
            return Policy.load(path)
        assert config is not None
        return load_configured_policy(config)
    except PolicyError as exc:
        if path is None and config is not None and config.policy is not None:
            path = config.policy.file
        _print_problems(path or Path("policy"), exc.problems)
        raise click.exceptions.Exit(1) from None


def _connection(
    name: str, config: ProctorConfig | None, tags: Mapping[str, str], protocol: str | None
) -> Connection:
    if config is None:
        return make_connection(name, tags, protocol or "postgres")
    connections = config.connection_models()
    if name not in connections:
        known = ", ".join(sorted(connections)) or "none"
        raise click.UsageError(
            f"no connection named {name!r} in {config.config_path} (connections: {known})"
        )
    configured = connections[name]
    merged = {**configured.tags, **tags}
    return make_connection(name, merged, configured.protocol)


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key:
            raise click.UsageError(f"{option} expects KEY=VALUE, got {value!r}")
        pairs[key] = text
    return pairs


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.UsageError(f"--time expects an ISO 8601 date and time, got {text!r}") from None
    if moment.tzinfo is None:
        raise click.UsageError("--time needs a UTC offset, e.g. 2025-01-06T09:30:00+01:00")
    return moment


def _print_explanation(
    policy: Policy,
    statement: Statement,
    identity: Identity,
    connection: Connection,
    context: DecisionContext,
    explanation: Explanation,
) -> None:
    echo = click.echo
    echo("Statement")
    for label, value in _analysis_rows(statement):
        echo(f"  {label:<11} {value}")
    groups = ", ".join(sorted(identity.groups)) or "-"
    echo(f"Identity      {identity.subject} (groups: {groups})")
    tags = ", ".join(f"{k}={v}" for k, v in sorted(connection.tags.items())) or "-"
    echo(f"Connection    {connection.name} (tags: {tags}; protocol {context.protocol})")
    if context.client_addr:
        echo(f"Client        {context.client_addr}")
    echo(f"Time          {context.now.isoformat()}")
    echo(f"Policy        {policy.source} (fingerprint {policy.fingerprint()[:12]})")
    echo("")
    echo("Rules")
    if not explanation.rules:
        echo("  (none)")
    width = max((len(trace.name) for trace in explanation.rules), default=0)
    for trace in explanation.rules:
        mark = "MATCH" if trace.matched else "-"
        if trace.matched and not trace.counted:
            mark = "IGNORED"
        echo(f"  {mark:<7} {trace.name:<{width}}  {trace.action.value:<6}  {trace.reason}")
    echo("")
    verdict = explanation.verdict
    echo(f"Decision      {verdict.action.value.upper()}")
    echo(f"  decided by  {explanation.decided_by}")
    if verdict.message:
        echo(f"  message     {verdict.message}")
    alerts = all_alerts(verdict)
    if alerts:
        echo(f"  alerts      {', '.join(alerts)}")
    deciding = policy.rule(verdict.rule) if verdict.rule else None
    if deciding is not None and deciding.workflow:
        echo(f"  workflow    {deciding.workflow}")


def _analysis_rows(statement: Statement) -> list[tuple[str, str]]:
    def listed(values: Sequence[str] | frozenset[str]) -> str:
        return ", ".join(sorted(values)) or "-"

    tables = ", ".join(f"{r.qualified} ({r.access.value})" for r in statement.relations) or "-"
    rows = [
        ("text", " ".join(statement.text.split())[:200]),
        ("operation", statement.operation.value),
        ("effects", listed([op.value for op in statement.effects])),
        ("tables", tables),
        ("functions", listed(statement.functions)),
        ("features", listed(statement.features)),
        ("settings", listed(statement.settings)),
        ("unfiltered", listed([op.value for op in statement.unfiltered])),
        ("complete", "yes" if statement.complete else "no"),
        ("statements", str(statement.statement_count)),
    ]
    rows += [("note", note) for note in statement.notes]
    return rows


def _explain_json(
    policy: Policy,
    statement: Statement,
    identity: Identity,
    connection: Connection,
    context: DecisionContext,
    explanation: Explanation,
) -> dict[str, Any]:
    return {
        "statement": {
            "text": statement.text,
            "operation": statement.operation.value,
            "effects": sorted(op.value for op in statement.effects),
            "tables": [
                {"schema": r.schema, "name": r.name, "access": r.access.value}
                for r in statement.relations
            ],
            "functions": sorted(statement.functions),
            "features": sorted(statement.features),
            "settings": sorted(statement.settings),
            "unfiltered": sorted(op.value for op in statement.unfiltered),
            "complete": statement.complete,
            "statement_count": statement.statement_count,
            "notes": list(statement.notes),
        },
        "identity": {
            "subject": identity.subject,
            "groups": sorted(identity.groups),
            "claims": dict(identity.claims),
        },
        "connection": {"name": connection.name, "tags": dict(connection.tags)},
        "context": {
            "protocol": context.protocol,
            "client_addr": context.client_addr,
            "time": context.now.isoformat(),
        },
        "policy": {"source": policy.source, "fingerprint": policy.fingerprint()},
        "rules": [
            {
                "name": trace.name,
                "action": trace.action.value,
                "matched": trace.matched,
                "counted": trace.counted,
                "reason": trace.reason,
            }
            for trace in explanation.rules
        ],
        "incomplete": explanation.incomplete,
        "decision": {**_verdict_json(explanation.verdict), "decided_by": explanation.decided_by},
    }


# --- shared ---------------------------------------------------------------------------------------


def _load(file: Path) -> tuple[Policy | None, list[ConfigProblem]]:
    try:
        return Policy.load(file), []
    except PolicyError as exc:
        return None, exc.problems


def _print_problems(file: Path, problems: Sequence[ConfigProblem]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    click.echo(f"{file}: invalid ({_count(len(problems), 'problem')})", err=True)


def _verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "action": verdict.action.value,
        "rule": verdict.rule,
        "message": verdict.message,
        "alerts": list(all_alerts(verdict)),
        "matched": list(verdict.matched),
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
