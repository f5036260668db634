"""Every top-level subcommand, in help order."""

from __future__ import annotations

import click

from proctor.cli.gateway_cmd import gateway_command

ALL: list[click.Command] = [gateway_command]


def _optional() -> None:
    # Groups owned by modules still being written register when present.
    import importlib

    for module, attr in (
        ("proctor.cli.config_cmd", "config_group"),
        ("proctor.cli.token_cmd", "token_group"),
        ("proctor.cli.sessions_cmd", "sessions_group"),
        ("proctor.cli.demo_cmd", "demo_command"),
    ):
        try:
            ALL.append(getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError):
            pass


_optional()
