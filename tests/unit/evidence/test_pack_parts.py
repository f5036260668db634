"""The pack's pieces on their own: CSV cells, dates and tags on the command line, the signed
manifest, and safe unzipping."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from proctor.cli.evidence_cmd import parse_tags
from proctor.evidence.csvfile import CsvFile, cell_text
from proctor.evidence.manifest import verify_manifest, write_manifest
from proctor.evidence.pack import PackError, unzip_pack, zip_pack
from proctor.evidence.scope import ScopeError, parse_period, parse_when
from proctor.recording.keys import PublicKeys, SigningKey


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("alice", "alice"),
        (-5, "-5"),  # numbers are numbers, never prefixed
        (1.5, "1.5"),
        (True, "true"),
        (None, ""),
        (datetime(2026, 7, 1, tzinfo=UTC), "2026-07-01T00:00:00+00:00"),
    ],
)
def test_cells_cannot_become_formulas(value: object, text: str) -> None:
    assert cell_text(value) == text  # type: ignore[arg-type]


def test_csv_rows_must_fit_the_header(tmp_path: Path) -> None:
    with CsvFile(tmp_path / "a.csv", ["a", "b"]) as out:
        out.row("x,y", 'say "hi"\nthere')
        with pytest.raises(ValueError, match="1 cells for 2 columns"):
            out.row("only one")
    with (tmp_path / "a.csv").open(newline="") as f:
        assert list(csv.reader(f)) == [["a", "b"], ["x,y", 'say "hi"\nthere']]


def test_dates_are_whole_days_and_to_includes_its_day() -> None:
    assert parse_when("2026-07-01", end=False) == datetime(2026, 7, 1, tzinfo=UTC)
    assert parse_when("2026-09-30", end=True) == datetime(2026, 10, 1, tzinfo=UTC)
    assert parse_when("2026-07-01T10:00:00+02:00", end=False) == datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert parse_when("2026-07-01T10:00:00", end=True) == datetime(2026, 7, 1, 10, tzinfo=UTC)
    with pytest.raises(ScopeError, match="not a date"):
        parse_when("last tuesday", end=False)
    # Hostile periods are clear errors, not tracebacks.
    with pytest.raises(ScopeError, match="beyond the last representable day"):
        parse_period("0001-01-01", "9999-12-31")
    with pytest.raises(ScopeError, match="outside the representable range"):
        parse_when("0001-01-01T00:00:00+05:00", end=False)
    with pytest.raises(ScopeError, match="must not be before"):
        parse_period("2026-07-02", "2026-07-01")


def test_tags_are_key_value() -> None:
    assert parse_tags(["env=prod", "data=pii"]) == {"env": "prod", "data": "pii"}
    with pytest.raises(click.BadParameter, match="KEY=VALUE"):
        parse_tags(["env"])


def pack(tmp_path: Path) -> tuple[Path, SigningKey]:
    directory = tmp_path / "pack"
    directory.mkdir()
    (directory / "sessions.csv").write_text("session_id\ns_1\n")
    (directory / "sub").mkdir()
    (directory / "sub" / "x.json").write_text("{}\n")
    signer = SigningKey.generate()
    write_manifest(directory, signer, {"generated_by": "dana"})
    return directory, signer


def test_manifest_signs_every_file(tmp_path: Path) -> None:
    directory, signer = pack(tmp_path)
    keys = PublicKeys([signer.public])
    check = verify_manifest(directory, keys)
    assert check.ok and check.files_checked == 3  # with signing-key.pem
    manifest = json.loads((directory / "manifest.json").read_text())
    assert [f["name"] for f in manifest["files"]] == [
        "sessions.csv",
        "signing-key.pem",
        "sub/x.json",
    ]
    # Another key does not verify it; a malformed manifest is a clear problem.
    other = verify_manifest(directory, PublicKeys([SigningKey.generate().public]))
    assert not other.ok and "not trusted" in other.problems[0]
    (directory / "manifest.json").write_text("{not json")
    broken = verify_manifest(directory, keys)
    assert not broken.ok and "cannot be read" in broken.problems[0]


def test_manifest_with_a_forged_signature_fails(tmp_path: Path) -> None:
    directory, signer = pack(tmp_path)
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["signature"] = "AAAA"
    (directory / "manifest.json").write_text(json.dumps(manifest))
    check = verify_manifest(directory, PublicKeys([signer.public]))
    assert not check.signature_ok and "does not match" in check.problems[0]


def test_zip_round_trip_and_unsafe_archives(tmp_path: Path) -> None:
    directory, signer = pack(tmp_path)
    archive = zip_pack(directory, tmp_path / "pack.zip")
    out = unzip_pack(archive, tmp_path / "x")
    assert verify_manifest(out, PublicKeys([signer.public])).ok
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../outside.txt", "x")
    with pytest.raises(PackError, match="unsafe entry"):
        unzip_pack(evil, tmp_path / "y")
    assert not (tmp_path / "outside.txt").exists()
    (tmp_path / "junk.zip").write_text("not a zip")
    with pytest.raises(PackError, match="not a zip"):
        unzip_pack(tmp_path / "junk.zip", tmp_path / "z")
