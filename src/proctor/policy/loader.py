"""Reading a policy file: from a path (or a dict) to a validated ``PolicyDocument``.

Theory of operation. As for ``proctor.yaml`` (see ``proctor.config.loader``), every stage adds
to one list of problems so that one run of ``proctor policy check`` shows them all:

1. read the file and parse it with the configuration's YAML loader (safe, size-capped,
   duplicate keys reported, every key's line and column recorded);
2. check what the schema cannot see item by item: rule names are unique, and a test's
   ``expect.rule`` names a rule that exists (done on the raw data, so these problems are
   reported even when other parts of the file are invalid);
3. validate with pydantic and translate each error to a located problem.

``PolicyError`` is a ``ConfigError``: code that reports configuration problems reports policy
problems the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from proctor.config.errors import ConfigError, ConfigProblem
from proctor.config.validation import describe
from proctor.config.yaml_source import YamlDocument, parse_yaml, read_config_text
from proctor.policy.fields import RESERVED_RULE_NAMES, closest
from proctor.policy.problems import validation_problems
from proctor.policy.schema import POLICY_VERSION, PolicyDocument

_TOP_LEVEL_HINT = f"expected a mapping of keys starting with 'version: {POLICY_VERSION}'"


class PolicyError(ConfigError):
    """The policy cannot be used; ``problems`` lists every reason found, in file order."""


def read_policy_file(path: Path | str) -> tuple[PolicyDocument, YamlDocument]:
    """Parse and validate the policy file at ``path``; raise ``PolicyError`` listing problems.

    Returns the YAML document too: it knows where each key is written (test case lines).
    """
    file = str(path)
    try:
        text = read_config_text(Path(os.path.abspath(path)), file)
        document = parse_yaml(text, file)
    except ConfigError as exc:
        raise PolicyError(exc.problems) from None
    return validate_policy(document), document


def policy_from_data(data: Mapping[str, object], source: str) -> PolicyDocument:
    """Validate already-parsed data; problems name ``source`` and have no line numbers."""
    return validate_policy(YamlDocument(file=source, data=_plain(data)))


def validate_policy(document: YamlDocument) -> PolicyDocument:
    problems = list(document.problems)
    data = document.data
    if data is None:
        problems.append(ConfigProblem(document.file, "", f"the file is empty; {_TOP_LEVEL_HINT}"))
        raise PolicyError(problems)
    if not isinstance(data, dict):
        problems.append(document.problem((), f"{_TOP_LEVEL_HINT}, found {describe(data)}"))
        raise PolicyError(problems)

    problems += _cross_reference_problems(data, document)
    policy: PolicyDocument | None = None
    try:
        policy = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems += validation_problems(errors, document, PolicyDocument)
    if problems or policy is None:
        raise PolicyError(_in_file_order(problems))
    return policy


def _cross_reference_problems(
    data: dict[object, object], document: YamlDocument
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    rules = data.get("rules")
    names: dict[str, int] = {}
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            name = rule.get("name") if isinstance(rule, dict) else None
            if not isinstance(name, str):
                continue
            if name in names:
                problems.append(
                    document.problem(
                        ("rules", index, "name"),
                        f"duplicate rule name {name!r}: rules[{names[name]}] has the same name",
                    )
                )
            else:
                names[name] = index
    tests = data.get("tests")
    if isinstance(tests, list):
        known = [*names, *sorted(RESERVED_RULE_NAMES)]
        for index, case in enumerate(tests):
            expect = case.get("expect") if isinstance(case, dict) else None
            if not isinstance(expect, dict):
                continue
            for key, wanted in _expected_rule_names(expect):
                if wanted in names or wanted in RESERVED_RULE_NAMES:
                    continue
                suggestion = closest(wanted, known)
                hint = f"; did you mean {suggestion!r}?" if suggestion else ""
                problems.append(
                    document.problem(
                        ("tests", index, "expect", *key),
                        f"no rule is named {wanted!r}{hint}",
                    )
                )
    return problems


def _expected_rule_names(expect: dict[object, object]) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    rule = expect.get("rule")
    if isinstance(rule, str):
        found.append((("rule",), rule))
    alerts = expect.get("alerts")
    if isinstance(alerts, str):
        found.append((("alerts",), alerts))
    elif isinstance(alerts, list):
        found += [(("alerts", i), name) for i, name in enumerate(alerts) if isinstance(name, str)]
    return found


def _plain(data: Mapping[str, object]) -> object:
    # Tuples and other mappings become lists and dicts, as YAML would have produced them.
    def convert(value: object) -> object:
        if isinstance(value, Mapping):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [convert(item) for item in value]
        return value

    return convert(data)


def _in_file_order(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return sorted(
        problems,
        key=lambda problem: (
            problem.line is None,
            problem.line or 0,
            problem.column or 0,
            problem.path,
        ),
    )
