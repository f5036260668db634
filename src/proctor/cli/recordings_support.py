"""What the recording commands share: opening storage and keys, the remembered ledger head,
session times read from record headers, and events as JSON or text.

Recordings are opened from the configuration (``recordings.storage``, ``recordings.keys_dir``)
or, for an auditor holding a copy, from ``--recordings DIR`` and ``--keys DIR`` without any
configuration. Verifying needs only public keys; replay and export need the key-encryption
key (``kek.key`` in the keys directory) when the recordings are encrypted.

The *remembered head* (``<gateway.state_dir>/ledger-head.json``) is the latest signed tree
head a command has seen and checked. It lives outside the recordings storage on purpose:
someone able to delete the newest ledger blobs (a rollback) cannot also reach this copy, so
the next check notices that the stored ledger is shorter than, or no longer extends, a head
it signed before.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from proctor.cli.store_open import format_time, iso_time, printable
from proctor.config import ConfigError, ProctorConfig, load_config
from proctor.recording import layout
from proctor.recording.events import (
    ApprovalEvent,
    ErrorEvent,
    MaskingEvent,
    ResultEvent,
    SessionEnded,
    SessionStarted,
    StatementEvent,
    TerminalOutput,
)
from proctor.recording.format import FormatError, decode_record, from_micros, iter_frames
from proctor.recording.head_file import HEAD_FILE, HeadFileError, read_head_file
from proctor.recording.keys import KeyEncryptionKey, PublicKeys
from proctor.recording.keystore import KeyStoreError, keks, public_keys
from proctor.recording.leaves import TreeHead
from proctor.recording.pgstream import ResultBlock
from proctor.recording.reader import RecordedEvent
from proctor.recording.storage.base import BlobMissing, BlobStorage, StorageError
from proctor.recording.storage.factory import open_blob_storage
from proctor.recording.storage.local import LocalBlobStorage


def keys_option(func: Any) -> Any:
    return click.option(
        "--keys",
        "keys_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Recording keys directory, or a directory of public keys (*.pem) only: "
        "verify without the configuration's private keys. Default: recordings.keys_dir.",
    )(func)


def recordings_dir_option(func: Any) -> Any:
    return click.option(
        "--recordings",
        "recordings_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="A local copy of the recordings (the directory holding sessions/ and "
        "ledger/): read it instead of the configured storage; no configuration needed.",
    )(func)


@dataclass
class Opened:
    storage: BlobStorage
    keys_dir: Path
    config: ProctorConfig | None
    head_file: Path | None  # where the remembered ledger head is kept (None: nowhere)

    def public_keys(self) -> PublicKeys:
        try:
            return public_keys(self.keys_dir)
        except (KeyStoreError, OSError, ValueError) as exc:
            raise click.ClickException(f"cannot load the public keys: {exc}") from exc

    def keks(self) -> list[KeyEncryptionKey]:
        try:
            return keks(self.keys_dir)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot load the key-encryption key: {exc}") from exc


def load(config_path: Path) -> ProctorConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def open_recordings(
    config_path: Path,
    *,
    keys_dir: Path | None = None,
    recordings_dir: Path | None = None,
    trusted_head: Path | None = None,
    writable: bool = False,
) -> Opened:
    """Storage and keys from ``--recordings``/``--keys`` or the configuration."""
    if recordings_dir is not None:
        if keys_dir is None:
            raise click.UsageError("--recordings needs --keys DIR (the public keys)")
        if not (recordings_dir / "sessions").is_dir() and not (recordings_dir / "ledger").is_dir():
            raise click.ClickException(
                f"{recordings_dir} holds no recordings (no sessions/ or ledger/ in it)"
            )
        return Opened(LocalBlobStorage(recordings_dir), keys_dir, None, trusted_head)
    cfg = load(config_path)
    try:
        storage = open_blob_storage(cfg.recordings, check=True, writable=writable)
    except StorageError as exc:
        raise click.ClickException(f"cannot open the recordings storage: {exc}") from exc
    head_file = trusted_head or Path(cfg.gateway.state_dir) / HEAD_FILE
    return Opened(storage, keys_dir or Path(cfg.recordings.keys_dir), cfg, head_file)


# -- the remembered ledger head -------------------------------------------------------------


def read_remembered_head(path: Path | None) -> TreeHead | None:
    if path is None:
        return None
    try:
        return read_head_file(path)
    except HeadFileError as exc:
        raise click.ClickException(str(exc)) from exc


def remember_head(path: Path | None, head: TreeHead | None) -> bool:
    """Store ``head`` as the trusted copy if it is newer; True if the file changed. Call only
    with a head from a ledger that verified (against the previous trusted head)."""
    if path is None or head is None:
        return False
    old = read_remembered_head(path)
    if old is not None and (old.size > head.size or old.encode() == head.encode()):
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {
        "size": head.size,
        "root": head.root.hex(),
        "at": iso_time(head.at),
        "kid": head.key_id.hex(),
        "head": base64.b64encode(head.encode()).decode("ascii"),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return True


# -- sessions as stored -----------------------------------------------------------------------


def stored_session_ids(storage: BlobStorage) -> list[str]:
    return sorted({sid for k in storage.list(layout.SESSIONS) if (sid := layout.session_of(k))})


def segment_keys(storage: BlobStorage, session_id: str) -> list[str]:
    keys = storage.list(layout.session_prefix(session_id))
    return sorted(k for k in keys if layout.segment_index(k) is not None)


def _record_times(blob: bytes) -> Iterator[datetime]:
    try:
        for fr in iter_frames(blob):
            yield from_micros(decode_record(fr.raw).at)
    except FormatError:
        return


def first_record_time(storage: BlobStorage, session_id: str) -> datetime | None:
    """When the session started, from the clear-text header of its first record (no key
    needed; ``verify`` says whether it can be trusted)."""
    keys = segment_keys(storage, session_id)
    if not keys:
        return None
    try:
        return next(_record_times(storage.get(keys[0])), None)
    except BlobMissing:
        return None


def last_record_time(storage: BlobStorage, session_id: str) -> datetime | None:
    """The time of the session's last stored record: its seal, or the latest checkpoint of a
    session that is still live or crashed (every stored segment ends with a signed record)."""
    keys = segment_keys(storage, session_id)
    if not keys:
        return None
    try:
        times = list(_record_times(storage.get(keys[-1])))
    except BlobMissing:
        return None
    return times[-1] if times else None


# -- events as JSON and as text ---------------------------------------------------------------


def event_type(rec: RecordedEvent) -> str:
    """``start``, ``statement``, ``approval``, ``error``, ``result``, ``masking``,
    ``terminal``, ``end``: the record type's name (docs/recording-format.md §5)."""
    return rec.event.TYPE.name.lower()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def event_json(rec: RecordedEvent) -> dict[str, Any]:
    """One event as a JSON object: ``seq`` (its record's), ``index`` (its place in that
    record, for events of a batch record only), ``at`` (ISO 8601 UTC), ``type`` and the
    event's fields; byte strings (result cells, raw wire data, terminal data) in base64."""
    out: dict[str, Any] = {"seq": rec.seq}
    if rec.index is not None:
        out["index"] = rec.index
    out["at"] = iso_time(rec.at)
    out["type"] = event_type(rec)
    for f in dataclasses.fields(rec.event):
        if f.name != "at":
            out[f.name] = _plain(getattr(rec.event, f.name))
    return out


def _cell(value: bytes | None) -> str:
    if value is None:
        return "NULL"
    return printable(value.decode("utf-8", errors="backslashreplace"))


def _counts(counts: Mapping[str, Mapping[str, int]]) -> str:
    return ", ".join(
        f"{printable(col)}: " + ", ".join(f"{printable(t)}x{n}" for t, n in sorted(m.items()))
        for col, m in sorted(counts.items())
    )


def _stmt(n: int | None) -> str:
    return "" if n is None else f" #{n}"


def result_json(block: ResultBlock) -> dict[str, Any]:
    """A decoded result as JSON: cells in base64 (they may be binary-format)."""
    return {
        "type": "result",
        "columns": [{"name": n, "type_oid": t, "format": f} for n, t, f in block.columns],
        "rows": [[_plain(c) for c in row] for row in block.rows],
        "row_count": block.row_count,
        "tag": block.tag,
        "error": block.error,
        "notice": block.notice,
    }


def render_results(blocks: list[ResultBlock], offset: float, *, max_rows: int) -> list[str]:
    """Results decoded from the recorded backend stream (``proctor.recording.pgstream``),
    as lines like ``render_event``'s: the masked rows the client saw."""
    head = f"+{offset:10.3f}s  "
    pad = " " * len(head)
    lines: list[str] = []
    for block in blocks:
        cols = ", ".join(printable(name) for name, _, _ in block.columns)
        end = block.tag or (f"error {block.error}" if block.error else "")
        if block.notice is not None:
            lines.append(head + printable(f"NOTICE     {block.notice}"))
            continue
        if not block.columns and not block.row_count:
            lines.append(head + printable(f"SERVER     {end}"))  # a command without rows
            continue
        lines.append(head + printable(f"RESULT {block.row_count} rows ({cols}) -> {end}"))
        for row in block.rows[:max_rows]:
            lines.append(pad + "  " + " | ".join(_cell(c) for c in row))
        if block.row_count > min(max_rows, len(block.rows)):
            lines.append(pad + f"  … {block.row_count - min(max_rows, len(block.rows))} more rows")
    return lines


def render_event(rec: RecordedEvent, offset: float, *, max_rows: int) -> list[str]:
    """The event as lines for a terminal: ``+offset  TYPE  details``; client-controlled
    text is passed through ``printable`` (no terminal escapes reach the operator)."""
    e = rec.event
    head = f"{format_time(rec.at)} +{offset:9.3f}s  "
    pad = " " * len(head)
    lines: list[str]
    match e:
        case SessionStarted():
            groups = ", ".join(sorted(e.groups)) or "none"
            db = f"/{e.database}" if e.database else ""
            lines = [
                f"START      {e.subject} (groups: {groups}) on {e.connection}{db} "
                f"({e.protocol}) from {e.client_addr}",
                f"token {e.token_id or '-'}, policy {e.policy_hash or '-'}, "
                f"gateway {e.gateway_version or '-'}",
                e.clock.describe() if e.clock is not None else "clock state not known",
            ]
        case StatementEvent():
            rule = f", rule {e.rule}" if e.rule else ""
            text = e.text.splitlines() or [""]
            lines = [f"STATEMENT{_stmt(e.statement)} [{e.verdict}{rule}] ({e.kind}) {text[0]}"]
            lines += text[1:]
        case ApprovalEvent():
            who = f" by {e.approver}" if e.approver else ""
            why = f": {e.reason}" if e.reason else ""
            lines = [f"APPROVAL{_stmt(e.statement)} {e.decision}{who}{why}"]
        case ErrorEvent():
            code = f" [{e.code}]" if e.code else ""
            lines = [f"ERROR{_stmt(e.statement)}{code} {e.message}"]
        case ResultEvent():
            cols = ", ".join(f"{n} {t}" for n, t in e.columns)
            masked = f"; masked {_counts(e.masked)}" if e.masked else ""
            lines = [f"RESULT{_stmt(e.statement)} {e.row_count} rows ({cols}){masked}"]
            if e.columns:
                lines.append("  " + " | ".join(n for n, _ in e.columns))
            for row in e.rows[:max_rows]:
                lines.append("  " + " | ".join(_cell(c) for c in row))
            if len(e.rows) > max_rows:
                lines.append(f"  … {len(e.rows) - max_rows} more rows in this batch")
            if e.raw is not None:
                lines.append(f"  ({len(e.raw)} bytes of {e.raw_format or 'raw'} data)")
        case MaskingEvent():
            lines = [f"MASKING{_stmt(e.statement)} {_counts(e.counts)}"]
        case TerminalOutput():
            lines = [f"TERMINAL {e.stream} {_cell(e.data)!s}"]
        case SessionEnded():
            lines = [
                f"END        {e.reason}: {e.statements} statements, "
                f"{e.bytes_from_client} B from client, {e.bytes_to_client} B to client"
            ]
    first, *rest = [printable(line) for line in lines]
    return [head + first, *(pad + line for line in rest)]


def now_utc() -> datetime:
    return datetime.now(UTC)
