"""``proctor demo``: the gateway in front of a throwaway PostgreSQL with fake shop data."""

from __future__ import annotations

import sys
from pathlib import Path

import click

IDENTITY_CHOICES = click.Choice(["alice", "bob", "admin"])


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".proctor-demo"),
    show_default=True,
    help="Where the demo keeps its database, config, tokens and recordings.",
)
@click.option("--detach", is_flag=True, help="Start in the background and return.")
@click.option("--stop", "stop_", is_flag=True, help="Stop a detached demo (gateway and database).")
@click.option("--env", "env", is_flag=True, help="Print export lines for psql and the CLI.")
@click.option(
    "--as",
    "identity",
    type=IDENTITY_CHOICES,
    default="alice",
    show_default=True,
    help="With --env: whose token to export.",
)
@click.option(
    "--direct",
    is_flag=True,
    help="With --env: export the demo database itself, bypassing Proctor (for comparisons).",
)
@click.option(
    "--workers", type=click.IntRange(1, 126), default=1, show_default=True, help="Gateway workers."
)
@click.option("--fresh", is_flag=True, help="Throw away an existing demo and start anew.")
@click.option(
    "--purge", is_flag=True, help="With --stop: also delete the demo's database and directory."
)
def demo_command(
    directory: Path,
    detach: bool,
    stop_: bool,
    env: bool,
    identity: str,
    direct: bool,
    workers: int,
    fresh: bool,
    purge: bool,
) -> None:
    """Run Proctor in front of a throwaway PostgreSQL seeded with fake customer data.

    \b
    proctor demo                     run in the foreground (Ctrl-C stops everything)
    proctor demo --detach --dir D    run in the background
    eval "$(proctor demo --env --dir D --as alice)"; psql
    proctor demo --stop --dir D      stop the gateway and its database
    proctor demo --stop --purge --dir D   ... and delete everything it made

    Demo identities: alice (group analyst), bob (approver), admin (admin).
    """
    from proctor.demo import runner
    from proctor.demo.pgcluster import PgClusterError

    def log(text: str) -> None:
        click.echo(text, err=True)

    try:
        if env:
            for line in runner.env_lines(directory, identity, direct):
                click.echo(line)
            return
        if stop_:
            runner.stop(directory, log=log)
            if purge:
                runner.purge(directory, log=log)
            return
        if detach and runner.gateway_pid(directory) is not None:
            log(f"The demo in {directory} is already running.")
            return
        state = runner.prepare(directory, workers=workers, fresh=fresh, log=log)
        if detach:
            pid = runner.start_detached(directory, state)
            log(f"Gateway started in the background (pid {pid}); log: {directory}/gateway.log")
            click.echo(runner.connect_help(directory.resolve(), state))
            return
        sys.exit(runner.run_foreground(directory, state))
    except (runner.DemoError, PgClusterError) as exc:
        raise click.ClickException(str(exc)) from exc
