"""The ``recordings`` command group: signing keys, legal holds and retention purge.
Operations guide: docs/recordings.md.
"""

from __future__ import annotations

import getpass
import json
import socket
import sys
from pathlib import Path
from typing import Any

import click

from proctor.cli.options import config_option, json_option
from proctor.cli.recordings_cmd import _session_id
from proctor.cli.recordings_purge import PurgeRefused, purge
from proctor.cli.recordings_support import (
    load,
    now_utc,
    open_recordings,
    read_remembered_head,
)
from proctor.cli.store_open import (
    format_time,
    iso_time,
    open_store_from_config,
    print_table,
    printable,
)
from proctor.recording.keys import PublicKeys, RecordingKeyError
from proctor.recording.keystore import KEK_FILE, KeyStoreError, keks, load_keys, rotate
from proctor.recording.storage.base import StorageError
from proctor.store.holds import LegalHold, LegalHoldStore


@click.group("recordings")
def recordings_group() -> None:
    """Recording keys, legal holds and retention."""


def _keys_dir(config_path: Path) -> Path:
    return Path(load(config_path).recordings.keys_dir)


@recordings_group.command("keys")
@config_option
@json_option
def keys_command(config_path: Path, as_json: bool) -> None:
    """Where the recording keys are, and their ids (give auditors the public directory)."""
    keys_dir = _keys_dir(config_path)
    public_dir = keys_dir / "public"
    current_file = keys_dir / "current"
    current = current_file.read_text().strip() if current_file.exists() else None
    keys: list[dict[str, Any]] = []
    for pem in sorted(public_dir.glob("*.pem")) if public_dir.is_dir() else []:
        try:
            kid = next(iter(PublicKeys.from_pems([pem.read_bytes()]))).hex()
        except (ValueError, RecordingKeyError) as exc:
            raise click.ClickException(f"{pem}: not an Ed25519 public key: {exc}") from exc
        keys.append({"kid": kid, "file": str(pem), "current": kid == current})
    try:
        kek_id = next((k.id for k in keks(keys_dir)), None)
    except (RecordingKeyError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        out = {
            "keys_dir": str(keys_dir),
            "public_dir": str(public_dir),
            "current": current,
            "public_keys": keys,
            "kek": {"id": kek_id, "file": str(keys_dir / KEK_FILE)} if kek_id else None,
        }
        click.echo(json.dumps(out, indent=2))
        return
    if not keys:
        raise click.ClickException(
            f"no recording keys in {keys_dir} yet (the gateway creates them at its first start)"
        )
    click.echo(f"keys directory:     {keys_dir}  (private: signing keys and the KEK)")
    click.echo(f"public keys:        {public_dir}  (all a verifier needs: verify --keys DIR)")
    for k in keys:
        click.echo(f"  {k['kid']}{'  (current)' if k['current'] else '  (retired)'}")
    kek = f"{kek_id}  ({keys_dir / KEK_FILE})" if kek_id else "none (recordings not encrypted)"
    click.echo(f"key-encryption key: {kek}")


@recordings_group.command("rotate-key")
@config_option
def rotate_key_command(config_path: Path) -> None:
    """Start signing with a new key; old public keys stay, so old recordings still verify."""
    keys_dir = _keys_dir(config_path)
    try:
        kid = rotate(keys_dir)
    except (KeyStoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(kid)
    click.echo(
        f"new signing key {kid}; public key in {keys_dir / 'public'}. The gateway signs "
        "with it once restarted; give auditors the updated public directory.",
        err=True,
    )


def operator_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _hold_target(session_id: str | None, connection: str | None) -> tuple[str | None, str | None]:
    if (session_id is None) == (connection is None):
        raise click.UsageError("give exactly one of SESSION_ID or --connection NAME")
    return (_session_id(session_id) if session_id is not None else None), connection


def _hold_json(h: LegalHold) -> dict[str, Any]:
    return {
        "id": h.id,
        "session": h.session_id,
        "connection": h.connection,
        "reason": h.reason,
        "created_by": h.created_by,
        "created_at": iso_time(h.created_at),
        "released_at": iso_time(h.released_at),
        "released_by": h.released_by,
    }


@recordings_group.command("hold")
@click.argument("session_id", required=False)
@click.option("--connection", help="Hold every session of this connection (also future ones).")
@click.option("--reason", required=True, help="Why (a case or ticket number).")
@click.option("--by", "by", help="Who places the hold (default: user@host).")
@config_option
@json_option
def hold_command(
    session_id: str | None,
    connection: str | None,
    reason: str,
    by: str | None,
    config_path: Path,
    as_json: bool,
) -> None:
    """Place a legal hold: purge keeps the session (or connection) until released."""
    sid, conn = _hold_target(session_id, connection)
    if not reason.strip():
        raise click.UsageError("--reason must not be empty")
    with open_store_from_config(config_path) as store:
        hold = LegalHoldStore(store).hold(
            reason=reason, created_by=by or operator_name(), session_id=sid, connection=conn
        )
    if as_json:
        click.echo(json.dumps(_hold_json(hold), indent=2))
    else:
        click.echo(f"{hold.id}: legal hold on {printable(hold.target)}")


@recordings_group.command("release")
@click.argument("session_id", required=False)
@click.option("--connection", help="Release the holds on this connection.")
@click.option("--hold", "hold_id", help="Release this one hold (hld_…).")
@click.option("--by", "by", help="Who releases (default: user@host).")
@config_option
@json_option
def release_command(
    session_id: str | None,
    connection: str | None,
    hold_id: str | None,
    by: str | None,
    config_path: Path,
    as_json: bool,
) -> None:
    """Release legal holds (kept in history); exit status 1 if none was active."""
    if sum(x is not None for x in (session_id, connection, hold_id)) != 1:
        raise click.UsageError("give exactly one of SESSION_ID, --connection or --hold")
    sid = _session_id(session_id) if session_id is not None else None
    with open_store_from_config(config_path) as store:
        released = LegalHoldStore(store).release(
            released_by=by or operator_name(),
            hold_id=hold_id,
            session_id=sid,
            connection=connection,
        )
    if as_json:
        click.echo(json.dumps([_hold_json(h) for h in released], indent=2))
    for h in released if not as_json else []:
        click.echo(f"{h.id}: released the legal hold on {printable(h.target)}")
    if not released:
        raise click.ClickException("no active legal hold matches")


@recordings_group.command("holds")
@click.option("--all", "include_released", is_flag=True, help="Released holds too.")
@config_option
@json_option
def holds_command(include_released: bool, config_path: Path, as_json: bool) -> None:
    """List legal holds (active ones unless --all)."""
    with open_store_from_config(config_path) as store:
        holds = LegalHoldStore(store).list(include_released=include_released)
    if as_json:
        click.echo(json.dumps([_hold_json(h) for h in holds], indent=2))
        return
    if not holds:
        click.echo("No legal holds.")
        return
    print_table(
        ["ID", "ON", "SINCE", "BY", "RELEASED", "REASON"],
        [
            [
                h.id,
                h.target,
                format_time(h.created_at),
                h.created_by,
                "-" if h.released_at is None else format_time(h.released_at),
                h.reason,
            ]
            for h in holds
        ],
    )


@recordings_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@config_option
@json_option
def purge_command(dry_run: bool, config_path: Path, as_json: bool) -> None:
    """Delete recordings past retention and not on legal hold, each with a signed tombstone
    in the ledger. Exit status 1 if a session had to be skipped (unreadable, fails
    verification, deletion failed)."""
    opened = open_recordings(config_path, writable=not dry_run)
    cfg = opened.config
    assert cfg is not None
    public = opened.public_keys()
    signer = None
    if not dry_run:
        try:
            signer = load_keys(opened.keys_dir, encrypt=False).signer
        except KeyStoreError as exc:
            raise click.ClickException(f"purging signs tombstones: {exc}") from exc
    tags = {c.name: dict(c.tags) for c in cfg.connections}
    remembered = read_remembered_head(opened.head_file)
    with open_store_from_config(config_path) as store:
        holds = LegalHoldStore(store)
        try:
            result = purge(
                opened.storage,
                public=public,
                keks=opened.keks(),
                retention=cfg.recordings.retention,
                connection_tags=tags,
                holds_on=holds.holds_on,
                now=now_utc(),
                dry_run=dry_run,
                signer=signer,
                trusted=[remembered] if remembered is not None else [],
                operator=operator_name(),
            )
        except PurgeRefused as exc:
            raise click.ClickException(str(exc)) from exc
        except StorageError as exc:
            raise click.ClickException(f"recordings storage: {exc}") from exc
    if as_json:
        out = {
            "ok": result.ok,
            "dry_run": dry_run,
            "now": iso_time(result.now),
            "counts": dict(result.counts),
            "sessions": [i.as_json() for i in result.items],
        }
        click.echo(json.dumps(out, indent=2))
    else:
        for item in result.items:
            if item.action.value != "kept":
                click.echo(f"{printable(item.session_id)}: {item.action}: {printable(item.detail)}")
        counts = ", ".join(f"{n} {a}" for a, n in sorted(result.counts.items())) or "no sessions"
        click.echo(("dry run: " if dry_run else "purge: ") + counts)
    sys.exit(0 if result.ok else 1)


COMMANDS: list[click.Command] = [recordings_group]
