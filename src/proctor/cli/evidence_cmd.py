"""``proctor evidence export|verify``: the ISO 27001 evidence pack (docs/evidence.md).

Export reads the state store and the recordings named by the configuration, so it runs where
the gateway's configuration is; it also needs an identity with the ``auditor`` or ``admin``
role (``identity.roles``): the Proctor token in ``$PROCTOR_TOKEN`` or the one ``proctor login``
saved. The exporter's subject is written into the pack and its signed manifest.

Verify needs nothing but the pack and the gateway's public keys (``--keys``, default the
configuration's ``recordings.keys_dir``), so an auditor can check a copy anywhere.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from proctor.cli.options import config_option, json_option
from proctor.evidence import scope


@click.group("evidence")
def evidence_group() -> None:
    """The ISO/IEC 27001 evidence pack: export it for a period, verify a copy."""


def parse_tags(values: Sequence[str]) -> dict[str, str]:
    try:
        return scope.parse_tags(values)
    except scope.ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--tag") from None


@evidence_group.command("export")
@config_option
@click.option("--from", "start_text", required=True, metavar="DATE", help="First day (UTC).")
@click.option("--to", "end_text", required=True, metavar="DATE", help="Last day, included.")
@click.option("--connection", "connections", multiple=True, help="Only this connection (repeat).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only connections tagged.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory to write (new or empty).",
)
@click.option("--zip", "make_zip", is_flag=True, help="Also write OUT.zip.")
@click.option(
    "--remote",
    is_flag=True,
    help="Have the gateway at $PROCTOR_URL build the pack (token: $PROCTOR_TOKEN or "
    "`proctor login`): no configuration, database or keys needed here.",
)
def export_command(
    config_path: Path,
    start_text: str,
    end_text: str,
    connections: tuple[str, ...],
    tags: tuple[str, ...],
    out: Path,
    make_zip: bool,
    remote: bool,
) -> None:
    """Export the evidence pack of a period (auditor or admin role)."""
    if remote:
        from proctor.cli.evidence_remote import download_pack

        download_pack(start_text, end_text, connections, tags, out, keep_zip=make_zip)
        return
    from proctor.cli.evidence_export import exporter_subject, open_inputs
    from proctor.evidence.pack import PackError, export_pack, zip_pack

    try:
        start, end = scope.parse_period(start_text, end_text)
    except scope.ScopeError as exc:
        raise click.BadParameter(str(exc)) from None
    tag_filter = parse_tags(tags)
    inputs = open_inputs(config_path)
    try:
        subject = exporter_subject(inputs)
        try:
            chosen = scope.scope_connections(
                inputs.config.connection_models(), connections, tag_filter
            )
        except scope.ScopeError as exc:
            raise click.ClickException(str(exc)) from exc
        covered = scope.export_scope(start, end, chosen, tag_filter, subject)
        total = sum(inputs.source.count_in(start, end, chosen))
        with _progress(total) as advance:
            result = export_pack(
                inputs.source,
                covered,
                out,
                signer=inputs.signer,
                recordings=inputs.recordings,
                progress=advance,
            )
    except PackError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        inputs.close()
    f = result.report.figures
    click.echo(
        f"evidence pack written to {out}: {f.sessions} sessions, {f.statements} statements, "
        f"{f.approval_requests} requests, {f.masked_values} masked values; recordings "
        + ("verified" if result.report.integrity.ok else "NOT all verified (see integrity.json)")
    )
    if make_zip:
        target = out.with_name(out.name + ".zip")
        zip_pack(out, target)
        click.echo(f"zipped: {target}")


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal (stderr); nothing when output is not a terminal."""
    if not (sys.stderr.isatty() and total):
        yield lambda n: None
        return
    with click.progressbar(length=total, label="collecting", file=sys.stderr, show_pos=True) as bar:
        yield bar.update


@evidence_group.command("verify")
@config_option
@click.argument("pack", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The gateway's public keys (*.pem, or a keys directory with public/). "
    "Default: recordings.keys_dir from the configuration.",
)
@json_option
def verify_command(config_path: Path, pack: Path, keys_dir: Path | None, as_json: bool) -> None:
    """Check a pack's signature and every file's hash (exit status 0 only if all hold)."""
    from proctor.cli.recordings_support import load
    from proctor.evidence.manifest import verify_manifest
    from proctor.evidence.pack import PackError, unzip_pack
    from proctor.recording.keystore import KeyStoreError, public_keys

    if keys_dir is None:
        if not config_path.exists():
            raise click.UsageError("give --keys DIR (the gateway's public keys) or --config")
        keys_dir = Path(load(config_path).recordings.keys_dir)
    try:
        keys = public_keys(keys_dir)
    except (KeyStoreError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot load the public keys: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="proctor-evidence-") as tmp:
        directory = pack
        if pack.is_file():
            try:
                directory = unzip_pack(pack, Path(tmp))
            except PackError as exc:
                raise click.ClickException(str(exc)) from exc
        check = verify_manifest(directory, keys)
    if as_json:
        doc = {
            "ok": check.ok,
            "signature_ok": check.signature_ok,
            "key_id": check.key_id,
            "files_checked": check.files_checked,
            "problems": check.problems,
        }
        click.echo(json.dumps(doc, indent=2))
    elif check.ok:
        click.echo(f"OK: signature by key {check.key_id} and {check.files_checked} files verified")
    else:
        for problem in check.problems:
            click.echo(f"FAILED: {problem}", err=True)
    if not check.ok:
        raise SystemExit(1)
