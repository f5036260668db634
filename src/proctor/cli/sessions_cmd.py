"""``proctor sessions``: the recorded sessions and their statements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from proctor.cli.options import config_option, json_option
from proctor.cli.store_open import (
    format_duration,
    format_time,
    iso_time,
    open_store_from_config,
    print_table,
    printable,
)
from proctor.model import StatementRecord
from proctor.store import SessionRow


@click.group("sessions")
def sessions_group() -> None:
    """Inspect recorded sessions."""


@sessions_group.command("list")
@click.option("--subject", help="Only sessions of this subject.")
@click.option("--connection", help="Only sessions on this connection.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most N."
)
@config_option
@json_option
def list_command(
    subject: str | None, connection: str | None, limit: int, config_path: Path, as_json: bool
) -> None:
    """List sessions, newest first."""
    with open_store_from_config(config_path) as store:
        rows = store.list_sessions(limit=limit, subject=subject, connection=connection)
    if as_json:
        click.echo(json.dumps([session_json(r) for r in rows], indent=2))
        return
    if not rows:
        click.echo("No sessions.")
        return
    print_table(
        ["ID", "STARTED", "DURATION", "SUBJECT", "CONNECTION", "DATABASE", "STMTS", "END"],
        [
            [
                r.start.id,
                format_time(r.start.started_at),
                "-" if r.end is None else format_duration(r.end.ended_at - r.start.started_at),
                r.start.subject,
                r.start.connection,
                r.start.database or "-",
                "-" if r.end is None else str(r.end.statements),
                "open" if r.end is None else r.end.reason,
            ]
            for r in rows
        ],
    )


@sessions_group.command("show")
@click.argument("session_id")
@config_option
@json_option
def show_command(session_id: str, config_path: Path, as_json: bool) -> None:
    """Show one session and its statements, in order."""
    with open_store_from_config(config_path) as store:
        row = store.get_session(session_id)
        statements = store.get_statements(session_id) if row is not None else []
    if row is None:
        raise click.ClickException(f"no session with id {printable(session_id)!r}")
    if as_json:
        out = {"session": session_json(row), "statements": [statement_json(s) for s in statements]}
        click.echo(json.dumps(out, indent=2))
        return
    _print_session(row)
    click.echo(f"\nStatements ({len(statements)}):")
    for s in statements:
        _print_statement(s)


def _print_session(row: SessionRow) -> None:
    s, e = row.start, row.end
    groups = ", ".join(sorted(s.groups)) or "none"
    fields = [
        ("Session", s.id),
        ("Subject", f"{s.subject} (groups: {groups})"),
        ("Connection", f"{s.connection} (database: {s.database or '-'}, protocol: {s.protocol})"),
        ("Client", s.client_addr),
        ("Token", s.token_id or "-"),
        ("Gateway", s.gateway_version or "-"),
        ("Started", format_time(s.started_at)),
    ]
    if e is None:
        fields.append(("Ended", "- (open)"))
    else:
        took = format_duration(e.ended_at - s.started_at)
        fields += [
            ("Ended", f"{format_time(e.ended_at)} after {took} ({e.reason})"),
            ("Traffic", f"{e.bytes_from_client} B from client, {e.bytes_to_client} B to client"),
        ]
    for label, value in fields:
        click.echo(f"{label + ':':<12}{printable(value)}")


def _print_statement(s: StatementRecord) -> None:
    head = f"{s.seq:>5}  {format_time(s.at)}  {s.verdict:<6}  {s.kind:<8}  "
    lines = printable(s.text).splitlines() or [""]
    click.echo(head + lines[0])
    for line in lines[1:]:
        click.echo(" " * len(head) + line)
    if s.rule:
        click.echo(" " * len(head) + f"rule: {printable(s.rule)}")
    if s.error:
        click.echo(" " * len(head) + f"error: {printable(s.error)}")


def session_json(row: SessionRow) -> dict[str, Any]:
    s, e = row.start, row.end
    return {
        "id": s.id,
        "subject": s.subject,
        "groups": sorted(s.groups),
        "connection": s.connection,
        "database": s.database,
        "protocol": s.protocol,
        "client_addr": s.client_addr,
        "token_id": s.token_id,
        "gateway_version": s.gateway_version,
        "started_at": iso_time(s.started_at),
        "ended_at": iso_time(e.ended_at) if e else None,
        "end_reason": e.reason if e else None,
        "statements": e.statements if e else None,
        "bytes_from_client": e.bytes_from_client if e else None,
        "bytes_to_client": e.bytes_to_client if e else None,
    }


def statement_json(s: StatementRecord) -> dict[str, Any]:
    return {
        "seq": s.seq,
        "at": iso_time(s.at),
        "kind": s.kind,
        "verdict": s.verdict,
        "rule": s.rule,
        "text": s.text,
        "error": s.error,
    }
