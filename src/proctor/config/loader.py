"""``load_config``: from a file name to a validated ``ProctorConfig`` or a list of problems.

Theory of operation. Loading runs in stages, and every stage adds to one list of problems
instead of stopping at the first, so a single run of ``proctor config check`` shows all:

1. read the file (missing, unreadable, not UTF-8 -> stop: there is nothing to look at);
2. parse YAML with a safe loader that records where each key and value is written and
   reports duplicate keys (syntax errors stop here, with line and column);
3. resolve ``${env:...}`` / ``${file:...}`` references in string values, remembering which
   paths used one, so no later message, repr or fingerprint shows a resolved secret;
4. validate with pydantic, translating each error to a located, expected-vs-found problem
   (errors at a path whose reference already failed are dropped: one cause, one message);
5. tell the models which fields came from references.

ConfigError is raised outside ``except`` blocks so that it carries no chained pydantic error:
those embed input values, and a traceback would print them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from proctor.config.base import record_references
from proctor.config.errors import ConfigError, ConfigProblem
from proctor.config.references import resolve_references
from proctor.config.schema import ProctorConfig
from proctor.config.validation import describe, validation_problems
from proctor.config.yaml_source import parse_yaml, read_config_text

_TOP_LEVEL_HINT = "expected a mapping of keys starting with 'version: 1'"


def load_config(path: Path | str, *, environ: Mapping[str, str] | None = None) -> ProctorConfig:
    """Load, resolve and validate ``proctor.yaml``; raise ``ConfigError`` listing every problem.

    ``environ`` replaces ``os.environ`` for ``${env:...}`` references (tests, embedding).
    """
    file = str(path)
    config_path = Path(os.path.abspath(path))
    document = parse_yaml(read_config_text(config_path, file), file)
    problems = list(document.problems)

    data = document.data
    if data is None:
        problems.append(ConfigProblem(file, "", f"the file is empty; {_TOP_LEVEL_HINT}"))
        raise ConfigError(problems)
    if not isinstance(data, dict):
        problems.append(document.problem((), f"{_TOP_LEVEL_HINT}, found {describe(data)}"))
        raise ConfigError(problems)

    resolved = resolve_references(data, config_path.parent, environ)
    problems += [document.problem(path, message) for path, message in resolved.failures]

    config, errors = _validate(resolved.data, config_path)
    failed_paths = {path for path, _ in resolved.failures}
    problems += validation_problems(
        errors, document, ProctorConfig, resolved.references, failed_paths
    )
    if problems or config is None:
        raise ConfigError(_in_file_order(problems))
    record_references(config, resolved.references)
    return config


def _validate(data: object, config_path: Path) -> tuple[ProctorConfig | None, list[ErrorDetails]]:
    try:
        config = ProctorConfig.model_validate(data, context={"config_path": config_path})
    except ValidationError as exc:
        return None, exc.errors(include_url=False)
    return config, []


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
