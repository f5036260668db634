"""Recording commands: ``verify``, ``replay``, ``export`` and ``ledger status`` (the
``recordings`` group — keys, holds, purge — is in recordings_admin_cmd.py). Operations guide:
docs/recordings.md.

``verify`` exits 0 only if everything verifies: the ledger is consistent (also with the
remembered head) and every session is sealed, or deleted with a valid tombstone. An
*unsealed* session (no seal: the gateway crashed, or the session is still being recorded)
fails unless ``--allow-unsealed``, or ``--allow-live`` and its latest checkpoint is recent
(within ``--live-window``): a live session checkpoints every few seconds while it is busy, so
an old unsealed session is a crash, which an auditor should see.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from proctor.cli.options import config_option, json_option
from proctor.cli.recordings_support import (
    Opened,
    event_json,
    first_record_time,
    keys_option,
    last_record_time,
    now_utc,
    open_recordings,
    read_remembered_head,
    recordings_dir_option,
    remember_head,
    render_event,
    render_results,
    result_json,
    stored_session_ids,
)
from proctor.cli.store_open import (
    format_duration,
    format_time,
    iso_time,
    printable,
)
from proctor.cli.token_cmd import Duration
from proctor.recording.events import ResultEvent
from proctor.recording.format import FormatError, check_session_id
from proctor.recording.keys import PublicKeys, RecordingKeyError
from proctor.recording.keystore import KEK_FILE
from proctor.recording.leaves import Tombstone, TreeHead
from proctor.recording.pgstream import RAW_FORMAT, BackendStreamDecoder
from proctor.recording.reader import RecordingCorrupt, read_session
from proctor.recording.storage.base import StorageError
from proctor.recording.verify import (
    AuditReport,
    LedgerReport,
    SessionReport,
    Status,
    verify_ledger,
    verify_session,
)

# -- shared options ---------------------------------------------------------------------------


def trusted_head_option(func: Any) -> Any:
    return click.option(
        "--trusted-head",
        type=click.Path(dir_okay=False, path_type=Path),
        help="File keeping the latest ledger head seen (default: "
        "<gateway.state_dir>/ledger-head.json; none with --recordings unless given).",
    )(func)


def remember_option(func: Any) -> Any:
    return click.option(
        "--remember/--no-remember",
        default=True,
        show_default=True,
        help="Store the ledger's signed head as the trusted copy when the ledger verifies.",
    )(func)


class Since(click.ParamType[datetime]):
    """An ISO 8601 date or time (UTC unless it says otherwise), or a duration ago (``7d``)."""

    name = "date"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            try:
                ago = Duration().convert(text, param, ctx)
            except click.BadParameter:
                self.fail(f"expected a date such as 2025-03-01, or a duration such as 7d: {text!r}")
            return now_utc() - ago
        return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _session_id(value: str) -> str:
    try:
        return check_session_id(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="SESSION_ID") from exc


def _kid(kid: bytes) -> str:
    return kid.hex()[:16]


# -- verify -----------------------------------------------------------------------------------


class Outcome:
    """How one session's report counts for the exit status."""

    def __init__(
        self,
        report: SessionReport,
        last_checkpoint: datetime | None,
        *,
        now: datetime,
        allow_unsealed: bool,
        allow_live: bool,
        live_window: timedelta,
    ) -> None:
        self.report = report
        self.last_checkpoint = last_checkpoint
        unsealed = report.intact and report.status is Status.UNSEALED
        self.live = (
            unsealed and last_checkpoint is not None and now - last_checkpoint <= live_window
        )
        self.passed = report.ok or (unsealed and (allow_unsealed or (allow_live and self.live)))

    def text(self, now: datetime) -> str:
        r = self.report
        sid = printable(r.session_id)
        if r.status is Status.DELETED and r.tombstone is not None:
            t = r.tombstone
            return (
                f"{sid}: ok, deleted by {printable(t.by)} on {t.at:%Y-%m-%d} "
                f"({printable(t.reason)})"
            )
        if not r.intact:
            assert r.first_problem is not None
            return f"{sid}: FAILED, {r.first_problem}"
        keys = ", ".join(k[:16] for k in r.key_ids) or "-"
        body = (
            f"{r.records} records in {r.segments} segments, {r.checkpoints} signatures (key {keys})"
        )
        if r.status is Status.SEALED:
            return f"{sid}: ok, sealed, {body}"
        when = "-"
        if self.last_checkpoint is not None:
            when = (
                f"{format_time(self.last_checkpoint)}, "
                f"{format_duration(now - self.last_checkpoint)} ago"
            )
        kind = "live" if self.live else "live or crashed"
        verdict = "ok" if self.passed else "FAILED"
        return (
            f"{sid}: {verdict}, unsealed ({kind}): records 0..{r.verified_through} verified, "
            f"last checkpoint {when}; {body}"
        )

    def as_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "session": r.session_id,
            "ok": self.passed,
            "status": r.status.value,
            "live": self.live,
            "records": r.records,
            "verified_through": r.verified_through,
            "checkpoints": r.checkpoints,
            "segments": r.segments,
            "key_ids": r.key_ids,
            "last_checkpoint": iso_time(self.last_checkpoint),
            "tombstone": _tombstone_json(r.tombstone) if r.tombstone else None,
            "problems": [
                {
                    "reason": p.reason.value,
                    "message": p.message,
                    "event": p.event,
                    "segment": p.segment,
                    "text": str(p),
                }
                for p in r.problems
            ],
        }


def _tombstone_json(t: Tombstone) -> dict[str, Any]:
    return {"at": iso_time(t.at), "by": t.by, "reason": t.reason, "kid": t.key_id.hex()}


def _head_json(head: TreeHead | None) -> dict[str, Any] | None:
    if head is None:
        return None
    return {
        "size": head.size,
        "root": head.root.hex(),
        "at": iso_time(head.at),
        "kid": head.key_id.hex(),
    }


def _ledger_json(
    ledger: LedgerReport, remembered: TreeHead | None, remembered_now: bool
) -> dict[str, Any]:
    return {
        "ok": ledger.ok,
        "size": ledger.size,
        "root": ledger.root.hex(),
        "head": _head_json(ledger.head),
        "unsigned_leaves": ledger.unsigned_leaves,
        "tombstones": _tombstones(ledger),
        "sessions": len(ledger.entries),
        "remembered_head": _head_json(remembered),
        "remembered_updated": remembered_now,
        "problems": [
            {"reason": p.reason.value, "message": p.message, "text": str(p)}
            for p in ledger.problems
        ],
    }


def _tombstones(ledger: LedgerReport) -> int:
    return sum(isinstance(e, Tombstone) for es in ledger.entries.values() for e in es)


def _ledger_lines(
    ledger: LedgerReport, remembered: TreeHead | None, remembered_now: bool
) -> list[str]:
    state = "ok" if ledger.ok else "FAILED"
    head = "no signed head yet"
    if ledger.head is not None:
        h = ledger.head
        head = f"signed head of size {h.size} at {format_time(h.at)} by key {_kid(h.key_id)}"
    lines = [
        f"ledger: {state}, {ledger.size} leaves ({len(ledger.entries)} sessions, "
        f"{_tombstones(ledger)} tombstones), {head}"
    ]
    if ledger.unsigned_leaves:
        lines.append(
            f"  {ledger.unsigned_leaves} leaves after the latest signed head "
            "(a commit cut short; the next commit signs them)"
        )
    if remembered is not None:
        check = "FAILED" if not ledger.ok else "consistent"
        lines.append(
            f"  remembered head: size {remembered.size} from {format_time(remembered.at)}: {check}"
        )
    elif not remembered_now:
        lines.append("  no remembered head to check rollback against")
    if remembered_now and ledger.head is not None:
        lines.append(f"  remembered the head of size {ledger.head.size}")
    lines += [f"  {p}" for p in ledger.problems]
    return lines


def _verify_ledger(opened: Opened, public: PublicKeys) -> tuple[LedgerReport, TreeHead | None]:
    remembered = read_remembered_head(opened.head_file)
    trusted = [remembered] if remembered is not None else []
    return verify_ledger(opened.storage, public, trusted), remembered


@click.command("verify")
@click.argument("session_id", required=False)
@click.option("--all", "all_sessions", is_flag=True, help="Every session, and the ledger.")
@click.option("--since", type=Since(), help="Sessions started since DATE (or a duration ago).")
@click.option("--allow-unsealed", is_flag=True, help="Unsealed sessions do not fail.")
@click.option(
    "--allow-live",
    is_flag=True,
    help="Unsealed sessions whose latest checkpoint is within --live-window do not fail.",
)
@click.option(
    "--live-window",
    type=Duration(),
    default="15m",
    show_default=True,
    help="How recent a checkpoint makes an unsealed session count as live.",
)
@keys_option
@recordings_dir_option
@trusted_head_option
@remember_option
@config_option
@json_option
def verify_command(
    session_id: str | None,
    all_sessions: bool,
    since: datetime | None,
    allow_unsealed: bool,
    allow_live: bool,
    live_window: timedelta,
    keys_dir: Path | None,
    recordings_dir: Path | None,
    trusted_head: Path | None,
    remember: bool,
    config_path: Path,
    as_json: bool,
) -> None:
    """Verify recordings with public keys only: SESSION_ID, --all or --since DATE.

    Exit status 0 only if the ledger is consistent and every session is sealed or deleted
    by policy; otherwise 1, with the first problem of each session (which event, why).
    """
    chosen = sum([session_id is not None, all_sessions, since is not None])
    if chosen != 1:
        raise click.UsageError("give exactly one of SESSION_ID, --all or --since DATE")
    if session_id is not None:
        session_id = _session_id(session_id)
    opened = open_recordings(
        config_path, keys_dir=keys_dir, recordings_dir=recordings_dir, trusted_head=trusted_head
    )
    public = opened.public_keys()
    now = now_utc()
    try:
        ledger, remembered = _verify_ledger(opened, public)
        if session_id is not None:
            ids = [session_id]
        else:
            stored = stored_session_ids(opened.storage)
            ids = sorted(set(stored) | set(ledger.entries))
            if since is not None:
                ids = [sid for sid in ids if _since(opened, ledger, sid, since)]
        reports = [verify_session(opened.storage, sid, public, ledger=ledger) for sid in ids]
        outcomes = [
            Outcome(
                r,
                last_record_time(opened.storage, r.session_id)
                if r.status is Status.UNSEALED
                else None,
                now=now,
                allow_unsealed=allow_unsealed,
                allow_live=allow_live,
                live_window=live_window,
            )
            for r in reports
        ]
    except StorageError as exc:
        raise click.ClickException(f"cannot read the recordings: {exc}") from exc
    audit = AuditReport(ledger, reports)
    remembered_now = remember and ledger.ok and remember_head(opened.head_file, ledger.head)
    ok = ledger.ok and all(o.passed for o in outcomes)
    if as_json:
        out = {
            "ok": ok,
            "ledger": _ledger_json(ledger, remembered, remembered_now),
            "sessions": [o.as_json() for o in outcomes],
        }
        click.echo(json.dumps(out, indent=2))
    else:
        for line in _ledger_lines(ledger, remembered, remembered_now):
            click.echo(line)
        for o in outcomes:
            click.echo(o.text(now))
        click.echo(_summary(outcomes, audit, ok))
    sys.exit(0 if ok else 1)


def _since(opened: Opened, ledger: LedgerReport, sid: str, since: datetime) -> bool:
    started = first_record_time(opened.storage, sid)
    if started is not None:
        return started >= since
    tomb = next((e for e in ledger.entries.get(sid, []) if isinstance(e, Tombstone)), None)
    # Not stored: deleted since DATE, or missing (always shown: its date cannot be known).
    return tomb is None or tomb.at >= since


def _summary(outcomes: list[Outcome], audit: AuditReport, ok: bool) -> str:
    counts = {"sealed": 0, "deleted": 0, "unsealed": 0, "failed": 0}
    for o in outcomes:
        r = o.report
        if not r.intact:
            counts["failed"] += 1
        else:
            counts[r.status.value] += 1
    parts = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    verdict = "OK" if ok else "FAILED"
    return f"{verdict}: {len(outcomes)} sessions" + (f" ({parts})" if parts else "")


# -- replay and export ------------------------------------------------------------------------


def _check_before_reading(opened: Opened, session_id: str) -> None:
    """Say on stderr whether what follows can be trusted (signatures, public keys only)."""
    try:
        public = opened.public_keys()
    except click.ClickException as exc:
        click.echo(f"warning: not verified: {exc.message}", err=True)
        return
    report = verify_session(opened.storage, session_id, public)
    if report.status is Status.SEALED and report.intact:
        return
    if report.intact:
        click.echo(
            f"note: {session_id} is unsealed (live or crashed): events after record "
            f"{report.verified_through} are not covered by a signature yet",
            err=True,
        )
    elif report.problems and report.problems[0].reason.value == "missing-session":
        raise click.ClickException(f"no recording of session {session_id!r}")
    else:
        click.echo(
            f"WARNING: {session_id} does not verify: {report.first_problem}; "
            "showing what can be read up to there",
            err=True,
        )


def _events(opened: Opened, session_id: str) -> Any:
    read = 0
    try:
        for rec in read_session(opened.storage, session_id, opened.keks()):
            read += 1
            yield rec
    except RecordingKeyError as exc:
        if read:
            # The data key opened earlier records: this one's ciphertext was altered.
            raise click.ClickException(f"recording unreadable from here on: {exc}") from exc
        raise click.ClickException(
            f"cannot decrypt the recording: {exc} (reading content needs the key-encryption "
            f"key, {KEK_FILE} in the keys directory)"
        ) from exc
    except (RecordingCorrupt, FormatError) as exc:
        raise click.ClickException(f"recording unreadable from here on: {exc}") from exc
    except StorageError as exc:
        raise click.ClickException(f"cannot read the recording: {exc}") from exc


@click.command("replay")
@click.argument("session_id")
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Playback speed: 1 real time, 10 ten times faster, 0 no delays.",
)
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    help="Longest pause between two events, in seconds (idle time is skipped).",
)
@click.option(
    "--rows", type=click.IntRange(min=0), default=20, show_default=True, help="Rows per batch."
)
@keys_option
@recordings_dir_option
@config_option
@json_option
def replay_command(
    session_id: str,
    speed: float,
    max_wait: float,
    rows: int,
    keys_dir: Path | None,
    recordings_dir: Path | None,
    config_path: Path,
    as_json: bool,
) -> None:
    """Replay a session: statements, verdicts, approvals, errors and the masked results the
    client saw, in order and with their timing."""
    session_id = _session_id(session_id)
    opened = open_recordings(config_path, keys_dir=keys_dir, recordings_dir=recordings_dir)
    _check_before_reading(opened, session_id)
    first: datetime | None = None
    last: datetime | None = None
    stream = BackendStreamDecoder(keep_rows=max(rows, 1))
    for rec in _events(opened, session_id):
        first = first or rec.at
        if last is not None and speed > 0:
            gap = (rec.at - last).total_seconds() / speed
            if gap > 0:
                time.sleep(min(gap, max_wait))
        last = rec.at
        offset = (rec.at - first).total_seconds()
        event = rec.event
        if isinstance(event, ResultEvent) and event.raw_format == RAW_FORMAT and event.raw:
            # What the client was sent, decoded back into results (rows as it saw them).
            blocks = stream.feed(event.raw)
            if as_json:
                for block in blocks:
                    click.echo(json.dumps({"offset": round(offset, 6), **result_json(block)}))
            else:
                for line in render_results(blocks, offset, max_rows=rows):
                    click.echo(line)
        elif as_json:
            click.echo(json.dumps({"offset": round(offset, 6), **event_json(rec)}))
        else:
            for line in render_event(rec, offset, max_rows=rows):
                click.echo(line)


@click.command("export")
@click.argument("session_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one JSON object per event (asciicast v2 for terminal sessions: planned).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE (mode 0600) instead of standard output.",
)
@keys_option
@recordings_dir_option
@config_option
def export_command(
    session_id: str,
    fmt: str,
    out: Path | None,
    keys_dir: Path | None,
    recordings_dir: Path | None,
    config_path: Path,
) -> None:
    """Export a session's events, decrypted, one JSON object per line (bytes in base64)."""
    session_id = _session_id(session_id)
    opened = open_recordings(config_path, keys_dir=keys_dir, recordings_dir=recordings_dir)
    _check_before_reading(opened, session_id)
    lines = (json.dumps(event_json(rec), sort_keys=True) for rec in _events(opened, session_id))
    if out is None:
        for line in lines:
            click.echo(line)
        return
    # Decrypted content: not readable by others (masked, but still session content).
    tmp = out.with_name(f".{out.name}.part")
    count = 0
    with click.open_file(str(tmp), "w") as f:
        tmp.chmod(0o600)
        for line in lines:
            f.write(line + "\n")
            count += 1
    tmp.replace(out)
    click.echo(f"exported {count} events of {session_id} to {out}", err=True)


# -- ledger -----------------------------------------------------------------------------------


@click.group("ledger")
def ledger_group() -> None:
    """The gateway-wide ledger of sealed sessions, checkpoints and tombstones."""


@ledger_group.command("status")
@keys_option
@recordings_dir_option
@trusted_head_option
@remember_option
@config_option
@json_option
def ledger_status_command(
    keys_dir: Path | None,
    recordings_dir: Path | None,
    trusted_head: Path | None,
    remember: bool,
    config_path: Path,
    as_json: bool,
) -> None:
    """Tree size, root, latest signed head, tombstones, and a rollback check against the
    remembered head (exit status 1 if the ledger does not verify)."""
    opened = open_recordings(
        config_path, keys_dir=keys_dir, recordings_dir=recordings_dir, trusted_head=trusted_head
    )
    public = opened.public_keys()
    try:
        ledger, remembered = _verify_ledger(opened, public)
    except StorageError as exc:
        raise click.ClickException(f"cannot read the ledger: {exc}") from exc
    remembered_now = remember and ledger.ok and remember_head(opened.head_file, ledger.head)
    if as_json:
        out = _ledger_json(ledger, remembered, remembered_now)
        out["remembered_head_file"] = str(opened.head_file) if opened.head_file else None
        click.echo(json.dumps(out, indent=2))
    else:
        for line in _ledger_lines(ledger, remembered, remembered_now):
            click.echo(line)
        click.echo(f"  root: {ledger.root.hex()}")
    sys.exit(0 if ledger.ok else 1)


# -- recordings: keys, holds, purge -----------------------------------------------------------


COMMANDS: list[click.Command] = [
    verify_command,
    replay_command,
    export_command,
    ledger_group,
]
