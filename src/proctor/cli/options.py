"""Options shared by subcommands."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def default_config_path() -> Path:
    """--config default: $PROCTOR_CONFIG, then ./proctor.yaml."""
    env = os.environ.get("PROCTOR_CONFIG")
    return Path(env) if env else Path("proctor.yaml")


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=default_config_path,
        show_default="$PROCTOR_CONFIG, then ./proctor.yaml",
        help="Proctor configuration file.",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)
