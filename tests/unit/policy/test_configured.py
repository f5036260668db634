"""The ``policy:`` section of proctor.yaml and ``load_configured_policy``."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.config import ConfigError, load_config
from proctor.policy import Policy, PolicyError, load_configured_policy

from .helpers import write_policy

CONFIG = "version: 1\n"
POLICY = "version: 1\ndefault: deny\n"


def test_absent_section_is_the_builtin_policy(tmp_path: Path) -> None:
    config = load_config(write_policy(tmp_path, CONFIG, "proctor.yaml"))
    assert config.policy is None
    assert load_configured_policy(config).fingerprint() == Policy.builtin().fingerprint()


def test_file_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    write_policy(tmp_path / "policies", POLICY, "prod.yaml")
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    path = write_policy(config_dir, CONFIG + "policy: {file: ../policies/prod.yaml}\n", "p.yaml")
    config = load_config(path)
    assert config.policy is not None
    assert config.policy.file == config_dir / "../policies/prod.yaml"
    policy = load_configured_policy(config)
    assert policy.document.default.value == "deny"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = write_policy(tmp_path, CONFIG + "policy:\n  file: nope.yaml\n", "proctor.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("policy.file", 3)
    assert problem.message == f"no such file: {tmp_path / 'nope.yaml'}"


def test_unknown_key_in_the_section(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    path = write_policy(tmp_path, CONFIG + "policy: {fil: policy.yaml}\n", "proctor.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    messages = [str(problem) for problem in caught.value.problems]
    assert f"{path}:2:10: policy.fil: unknown key 'fil'; did you mean 'file'?" in messages


def test_invalid_policy_file_is_reported_by_the_policy_loader(tmp_path: Path) -> None:
    write_policy(tmp_path, "version: 1\n")
    config = load_config(write_policy(tmp_path, CONFIG + "policy: {file: policy.yaml}\n", "c.yaml"))
    with pytest.raises(PolicyError, match="default: required key is missing"):
        load_configured_policy(config)
