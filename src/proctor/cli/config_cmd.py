"""``proctor config check``: validate a configuration file without starting anything."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.core import ParameterSource

from proctor.cli.options import config_option, json_option
from proctor.config import ConfigError, ConfigProblem, ProctorConfig, config_warnings, load_config


@click.group("config")
def config_group() -> None:
    """Inspect and validate the configuration file."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@config_option
@json_option
@click.pass_context
def check(ctx: click.Context, file: Path | None, config_path: Path, as_json: bool) -> None:
    """Validate FILE (default: the --config file) and report every problem at once.

    Exits 0 when the file is valid, printing any warnings; exits 1 and prints each problem as
    FILE:LINE:COLUMN: KEY.PATH: MESSAGE when it is not.
    """
    path = _chosen_file(ctx, file, config_path)
    config: ProctorConfig | None = None
    problems: list[ConfigProblem] = []
    try:
        config = load_config(path)
    except ConfigError as exc:
        problems = exc.problems
    if config is not None and config.policy is not None:
        # The configuration is only usable if the policy it names is: check that too.
        from proctor.policy import PolicyError, load_configured_policy

        try:
            load_configured_policy(config)
        except PolicyError as exc:
            problems = list(exc.problems)
            config = None
    if config is not None:
        # Masking profiles are validated with the policy that chooses them.
        from proctor.pipeline.masking import MaskingSetupError, load_profiles
        from proctor.policy import load_configured_policy

        try:
            policy = load_configured_policy(config)
            load_profiles(config, policy)
        except MaskingSetupError as exc:
            problems = [ConfigProblem(exc.file, exc.path, exc.message)]
            config = None
        else:
            from proctor.approvals.service import unknown_workflows

            missing = unknown_workflows(config.approvals, policy.workflows())
            if missing:
                problems = [
                    ConfigProblem(
                        str(config.config_path),
                        "approvals.workflows",
                        f"the policy's review rules name workflow(s) {', '.join(missing)} "
                        "that are not declared here",
                    )
                ]
                config = None
    warnings = config_warnings(config, file=str(path)) if config is not None else []

    if as_json:
        click.echo(json.dumps(_report(path, config, problems, warnings), indent=2))
    elif config is not None:
        click.echo(f"{path}: OK ({_connections_summary(config)})")
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
    else:
        for problem in problems:
            click.echo(str(problem), err=True)
        count = len(problems)
        click.echo(f"{path}: invalid ({count} problem{'s' if count != 1 else ''})", err=True)
    if config is None:
        ctx.exit(1)


def _chosen_file(ctx: click.Context, file: Path | None, config_path: Path) -> Path:
    if file is None:
        return config_path
    config_given = ctx.get_parameter_source("config_path") is ParameterSource.COMMANDLINE
    if config_given and config_path != file:
        raise click.UsageError("give the file either as an argument or with --config, not both")
    return file


def _connections_summary(config: ProctorConfig) -> str:
    names = [connection.name for connection in config.connections]
    noun = "connection" if len(names) == 1 else "connections"
    return f"{len(names)} {noun}: {', '.join(names)}" if names else f"0 {noun}"


def _report(
    path: Path,
    config: ProctorConfig | None,
    problems: list[ConfigProblem],
    warnings: list[ConfigProblem],
) -> dict[str, object]:
    return {
        "ok": config is not None,
        "file": str(path),
        "connections": [c.name for c in config.connections] if config is not None else [],
        "problems": [problem.as_dict() for problem in problems],
        "warnings": [warning.as_dict() for warning in warnings],
    }
