"""``proctor token``: create, list and revoke Proctor access tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from proctor.cli.options import config_option, json_option
from proctor.cli.store_open import (
    format_time,
    iso_time,
    open_store_from_config,
    print_table,
    printable,
)
from proctor.config.units import parse_duration
from proctor.model import TokenRecord


class Duration(click.ParamType[timedelta]):
    """A positive duration such as 30s, 5m, 8h, 2d or 1h30m."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail("must be longer than zero", param, ctx)
        try:
            return timedelta(seconds=seconds)
        except OverflowError:
            self.fail(f"{value!r} is too long", param, ctx)


def token_status(token: TokenRecord, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.is_valid_at(now) else "expired"


def _names(values: frozenset[str], empty: str) -> str:
    return ", ".join(sorted(values)) or empty


@click.group("token")
def token_group() -> None:
    """Create, list and revoke Proctor access tokens."""


@token_group.command("create")
@click.option("--subject", required=True, help="Who the token identifies: alice, ci:deploy ...")
@click.option("--group", "groups", multiple=True, help="A group of the subject (repeatable).")
@click.option(
    "--ttl",
    type=Duration(),
    default="8h",
    show_default=True,
    help="How long the token is valid: 30s, 5m, 8h, 2d.",
)
@click.option(
    "--connection",
    "connections",
    multiple=True,
    help="Limit the token to this connection (repeatable; default: any it is allowed).",
)
@click.option("--description", help="A note shown by `token list`, e.g. where it is used.")
@config_option
@json_option
def create_command(
    subject: str,
    groups: tuple[str, ...],
    ttl: timedelta,
    connections: tuple[str, ...],
    description: str | None,
    config_path: Path,
    as_json: bool,
) -> None:
    """Mint a token and print it: the only time it is ever shown."""
    with open_store_from_config(config_path) as store:
        try:
            issued = store.create_token(
                subject, frozenset(groups), ttl, frozenset(connections), description
            )
        except ValueError as exc:  # an empty subject, a ttl past the year 9999
            raise click.UsageError(str(exc)) from exc
    record = issued.record
    if as_json:
        out = {
            "id": record.id,
            "token": issued.secret,
            "subject": record.subject,
            "groups": sorted(record.groups),
            "expires_at": iso_time(record.expires_at),
            "connections": sorted(record.connections),
        }
        click.echo(json.dumps(out, indent=2))
        return
    # The explanation goes to stderr and only the token to stdout, so that
    # TOKEN=$(proctor token create ...) captures exactly the token.
    click.echo(
        f"Created {record.id} for {printable(record.subject)}"
        f" (groups: {printable(_names(record.groups, 'none'))};"
        f" connections: {printable(_names(record.connections, 'any'))}),"
        f" valid until {format_time(record.expires_at)}.\n"
        "Copy the token now: it is not stored and will not be shown again.",
        err=True,
    )
    click.echo(issued.secret)


@token_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired and revoked tokens.")
@config_option
@json_option
def list_command(show_all: bool, config_path: Path, as_json: bool) -> None:
    """List tokens (never their secrets): active ones unless --all."""
    with open_store_from_config(config_path) as store:
        tokens = store.list_tokens(include_inactive=show_all)
    now = datetime.now(UTC)
    if as_json:
        click.echo(json.dumps([_token_json(t, now) for t in tokens], indent=2))
        return
    if not tokens:
        click.echo("No tokens." if show_all else "No active tokens (--all shows every token).")
        return
    print_table(
        ["ID", "SUBJECT", "GROUPS", "CREATED", "EXPIRES", "STATUS"],
        [
            [
                t.id,
                t.subject,
                _names(t.groups, "-"),
                format_time(t.created_at),
                format_time(t.expires_at),
                token_status(t, now),
            ]
            for t in tokens
        ],
    )


def _token_json(token: TokenRecord, now: datetime) -> dict[str, Any]:
    return {
        "id": token.id,
        "subject": token.subject,
        "groups": sorted(token.groups),
        "connections": sorted(token.connections),
        "description": token.description,
        "created_at": iso_time(token.created_at),
        "expires_at": iso_time(token.expires_at),
        "revoked_at": iso_time(token.revoked_at),
        "status": token_status(token, now),
    }


@token_group.command("revoke")
@click.argument("token_id")
@config_option
def revoke_command(token_id: str, config_path: Path) -> None:
    """Revoke a token by its id (tok_...): it stops working at once."""
    with open_store_from_config(config_path) as store:
        if store.revoke_token(token_id):
            click.echo(f"Revoked {token_id}.")
            return
        existing = store.get_token(token_id)
    if existing is None:
        raise click.ClickException(f"no token with id {printable(token_id)!r}")
    raise click.ClickException(
        f"{token_id} was already revoked at {format_time(existing.revoked_at)}"
    )
