"""``proctor evidence export --remote``: download the pack the gateway builds
(``GET /api/evidence``) and unpack it, as if it had been exported here."""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import click

from proctor.cli.login_cmd import LoginError, api_target
from proctor.evidence.pack import PackError, unzip_pack

CHUNK = 1 << 20
# Building a large period's pack takes a while: wait for the gateway, not for a byte.
TIMEOUT = 3600


def download_pack(
    start: str,
    end: str,
    connections: Sequence[str],
    tags: Sequence[str],
    out: Path,
    *,
    keep_zip: bool,
) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise click.ClickException(f"{out} already exists and is not an empty directory")
    try:
        gateway, token = api_target()
    except LoginError as exc:
        raise click.ClickException(exc.message) from exc
    query = [("from", start), ("to", end)]
    query += [("connection", c) for c in connections] + [("tag", t) for t in tags]
    url = f"{gateway}/api/evidence?{urllib.parse.urlencode(query)}"
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise click.ClickException(f"the gateway URL must be http(s): {gateway}")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with tempfile.TemporaryDirectory(prefix="proctor-evidence-") as tmp:
        archive = Path(tmp) / "pack.zip"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as r, archive.open("wb") as f:  # noqa: S310
                shutil.copyfileobj(r, f, CHUNK)
        except urllib.error.HTTPError as exc:
            raise click.ClickException(_refusal(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise click.ClickException(f"cannot reach the gateway at {gateway}: {reason}") from None
        try:
            unpacked = unzip_pack(archive, Path(tmp) / "unpacked")
        except PackError as exc:
            raise click.ClickException(f"the gateway sent a broken pack: {exc}") from exc
        out.mkdir(parents=True, exist_ok=True)
        for item in unpacked.iterdir():
            shutil.move(str(item), out / item.name)
        if keep_zip:
            shutil.copyfile(archive, out.with_name(out.name + ".zip"))
    click.echo(f"evidence pack from {gateway} written to {out}")


def _refusal(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"null")
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return str(message) if message else f"the gateway answered HTTP {exc.code}"
