"""The ``proctor`` command: assembles config, store and gateway; admin commands."""

from __future__ import annotations

import click

from proctor import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="proctor")
def cli() -> None:
    """Proctor: an identity-aware access gateway for databases, servers and APIs.

    Every command that needs the configuration takes --config FILE, defaulting to
    $PROCTOR_CONFIG, then ./proctor.yaml.
    """


def _register() -> None:
    # Subcommand modules register themselves on import; each owns one command group.
    from proctor.cli import commands

    for command in commands.ALL:
        cli.add_command(command)


def main() -> None:
    _register()
    cli()
