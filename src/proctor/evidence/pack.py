"""Build an evidence pack: CSVs, integrity, control mapping, report (HTML and PDF), manifest.

Order matters: the CSVs and ``integrity.json`` are written while the period streams past;
the figures they produced feed ``controls.json`` and the reports; the manifest is last, so it
covers every other file.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from proctor.evidence.collect import FILES, Collector, EvidenceSource, Progress
from proctor.evidence.controls import annex_a_controls, controls_document
from proctor.evidence.html import render_html
from proctor.evidence.integrity import RecordingsCheck, disabled_integrity
from proctor.evidence.manifest import MANIFEST, SIGNING_KEY_FILE, write_manifest
from proctor.evidence.model import Report, Scope
from proctor.evidence.pdf import render_pdf
from proctor.masking import Masker
from proctor.recording.keys import PublicKeys, SigningKey
from proctor.recording.leaves import TreeHead
from proctor.recording.storage.base import BlobStorage

REPORT_FILES = {
    "index.html": "the report (this page)",
    "report.pdf": "the same report as a PDF",
    SIGNING_KEY_FILE: "the public key that signed the manifest",
    MANIFEST: "every file's SHA-256, signed: check with `proctor evidence verify`",
}


class PackError(Exception):
    """The pack cannot be written (the message is safe to show)."""


@dataclass(frozen=True)
class Recordings:
    """Where the recordings are and the keys that verify them (None: recordings disabled)."""

    storage: BlobStorage
    public_keys: PublicKeys
    trusted_heads: Sequence[TreeHead] = ()


@dataclass(frozen=True)
class PackResult:
    directory: Path
    report: Report
    manifest: dict[str, object]


def export_pack(
    source: EvidenceSource,
    scope: Scope,
    out: Path,
    *,
    signer: SigningKey,
    recordings: Recordings | None,
    progress: Progress | None = None,
    masker: Masker | None = None,
) -> PackResult:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PackError(f"{out} already exists and is not an empty directory")
    out.mkdir(parents=True, exist_ok=True)
    with (out / "integrity.json").open("w", encoding="utf-8") as integrity_file:
        check = None
        if recordings is not None:
            check = RecordingsCheck(
                recordings.storage,
                recordings.public_keys,
                integrity_file,
                trusted=recordings.trusted_heads,
            )
        collector = Collector(
            source, scope, out, recordings=check, masker=masker, progress=progress
        )
        figures = collector.run()
        if check is not None:
            integrity = check.finish(scope)
            figures.tombstones = check.tombstones_listed
        else:
            integrity = disabled_integrity(integrity_file, scope)
    controls = annex_a_controls(figures, integrity)
    (out / "controls.json").write_text(
        json.dumps(controls_document(controls), indent=1, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    report = Report(scope, figures, integrity, controls, files={**FILES, **REPORT_FILES})
    (out / "index.html").write_text(render_html(report), encoding="utf-8")
    (out / "report.pdf").write_bytes(render_pdf(report))
    about = {
        "scope": {
            "start": scope.start.isoformat(),
            "end": scope.end.isoformat(),
            "connections": list(scope.connections),
            "tags": dict(scope.tags),
        },
        "generated_at": scope.generated_at.isoformat() if scope.generated_at else None,
        "generated_by": scope.generated_by,
        "gateway_version": scope.gateway_version,
        "figures": dataclasses.asdict(figures),
        "integrity_ok": integrity.ok,
    }
    manifest = write_manifest(out, signer, about)
    return PackResult(out, report, manifest)


def zip_pack(directory: Path, target: Path) -> Path:
    """``directory`` as a zip whose entries sit under one folder named like it."""
    root = directory.name
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                z.write(path, f"{root}/{path.relative_to(directory).as_posix()}")
    return target


def unzip_pack(archive: Path, into: Path) -> Path:
    """Extract a zipped pack safely (no absolute paths, no ``..``, no links); returns the
    directory holding ``manifest.json``."""
    try:
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
                    raise PackError(f"{archive}: unsafe entry {info.filename!r}")
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise PackError(f"{archive}: symbolic link {info.filename!r}")
            z.extractall(into)
    except zipfile.BadZipFile as exc:
        raise PackError(f"{archive}: not a zip file ({exc})") from None
    found = sorted(into.rglob(MANIFEST))
    if not found:
        raise PackError(f"{archive}: no {MANIFEST} inside")
    return found[0].parent
