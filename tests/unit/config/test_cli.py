"""``proctor config check`` through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from proctor.cli.config_cmd import config_group

from .conftest import MINIMAL, WriteConfig

VALID = MINIMAL.replace("version: 1\n", "version: 1\nlisteners: {postgres: {}}\n")
INVALID = "version: 1\ngateway:\n  workers: 0\n  log_levl: info\n"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(config_group, ["check", *args], env=env)


def test_valid_file(write_config: WriteConfig) -> None:
    path = write_config(VALID)
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: OK (1 connection: shop)\n"
    assert result.stderr == ""


def test_connection_names_are_listed(write_config: WriteConfig) -> None:
    second = VALID.split("connections:\n")[1].replace("name: shop", "name: crm")
    path = write_config(VALID + second)
    assert run(str(path)).stdout == f"{path}: OK (2 connections: shop, crm)\n"


def test_warnings_go_to_stderr_and_do_not_fail(write_config: WriteConfig) -> None:
    path = write_config(VALID + "      password: hunter2\n")
    result = run(str(path))
    assert result.exit_code == 0
    assert result.stdout == f"{path}: OK (1 connection: shop)\n"
    assert result.stderr == (
        f"warning: {path}: connections[0].credential.password: the password is written in "
        "the file; use a reference such as ${env:NAME} or ${file:PATH} instead\n"
    )
    assert "hunter2" not in result.output


def test_invalid_file_lists_every_problem_and_exits_1(write_config: WriteConfig) -> None:
    path = write_config(INVALID)
    result = run(str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:3:12: gateway.workers: expected a value greater than or equal to 1, found 0",
        f"{path}:4:3: gateway.log_levl: unknown key 'log_levl'; did you mean 'log_level'?",
        f"{path}: invalid (2 problems)",
    ]


def test_missing_file(tmp_path: Path) -> None:
    result = run(str(tmp_path / "none.yaml"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'none.yaml'}: file not found",
        f"{tmp_path / 'none.yaml'}: invalid (1 problem)",
    ]


def test_config_option(write_config: WriteConfig) -> None:
    path = write_config(VALID)
    result = run("--config", str(path))
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{path}: OK")


def test_default_is_proctor_config_env_var(write_config: WriteConfig) -> None:
    path = write_config(VALID)
    result = run(env={"PROCTOR_CONFIG": str(path)})
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{path}: OK")


def test_default_is_proctor_yaml_in_the_cwd(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(VALID)
    monkeypatch.chdir(tmp_path)
    result = run(env={"PROCTOR_CONFIG": ""})
    assert result.exit_code == 0
    assert result.stdout == "proctor.yaml: OK (1 connection: shop)\n"


def test_argument_and_a_different_config_option_conflict(write_config: WriteConfig) -> None:
    path = write_config(VALID)
    result = run(str(path), "--config", str(path.with_name("other.yaml")))
    assert result.exit_code == 2
    assert "either as an argument or with --config" in result.stderr


def test_json_success(write_config: WriteConfig) -> None:
    path = write_config(VALID + "      password: hunter2\n")
    result = run("--json", str(path))
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["file"] == str(path)
    assert report["connections"] == ["shop"]
    assert report["problems"] == []
    assert [w["path"] for w in report["warnings"]] == ["connections[0].credential.password"]
    assert "hunter2" not in result.output


def test_json_failure(write_config: WriteConfig) -> None:
    path = write_config(INVALID)
    result = run("--json", str(path))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["warnings"] == []
    assert report["problems"][0] == {
        "file": str(path),
        "path": "gateway.workers",
        "line": 3,
        "column": 12,
        "message": "expected a value greater than or equal to 1, found 0",
    }
    assert len(report["problems"]) == 2


def test_secret_values_never_reach_the_output(write_config: WriteConfig) -> None:
    path = write_config(
        VALID.replace("port: 5432", "port: ${env:SECRET_PORT}") + "      password: ${env:PW}\n"
    )
    env = {"SECRET_PORT": "not-a-port-S3CRET", "PW": "pw-S3CRET"}
    for args in ((str(path),), ("--json", str(path))):
        result = run(*args, env=env)
        assert result.exit_code == 1
        assert "S3CRET" not in result.output
        assert "${env:SECRET_PORT}" in result.output


def test_check_also_validates_the_policy_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from proctor.cli.config_cmd import config_group

    (tmp_path / "policy.yaml").write_text("version: 1\ndefault: alow\n")
    (tmp_path / "proctor.yaml").write_text(
        "version: 1\nconnections: []\npolicy: {file: policy.yaml}\n"
    )
    result = CliRunner().invoke(config_group, ["check", str(tmp_path / "proctor.yaml")])
    assert result.exit_code == 1
    assert "policy.yaml" in result.output and "default" in result.output
