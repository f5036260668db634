"""Helpers for configuration tests: write a YAML file, load it, collect its problems."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from proctor.config import ConfigError, ConfigProblem, load_config

WriteConfig = Callable[..., Path]

MINIMAL = """\
version: 1
connections:
  - name: shop
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential:
      username: app
"""


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """write_config(yaml_text, name="proctor.yaml") -> path; the text is dedented."""

    def write(text: str, name: str = "proctor.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {})
    return caught.value.problems


def problem_at(problems: list[ConfigProblem], path: str) -> ConfigProblem:
    """The single problem reported for ``path``; fails listing all problems otherwise."""
    matching = [problem for problem in problems if problem.path == path]
    assert len(matching) == 1, "\n".join(str(problem) for problem in problems)
    return matching[0]
