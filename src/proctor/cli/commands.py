"""Every top-level subcommand, in help order."""

from __future__ import annotations

import click

ALL: list[click.Command] = []
