"""``recordings.storage``: a local directory (default) or an S3 bucket, with precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.config import load_config
from proctor.config.base import HIDDEN
from proctor.config.recordings import ObjectLockMode, StorageKind

from .conftest import WriteConfig, problem_at, problems_of

SECRET = "s3-S3CRET-5e1d"
ENV_SECRET = "env-S3CRET-a9b2"


def s3_config(**storage: str) -> str:
    fields = {"kind": "s3", "bucket": "proctor-recordings", **storage}
    lines = "".join(f"    {key}: {value}\n" for key, value in fields.items())
    return f"version: 1\nrecordings:\n  storage:\n{lines}"


def test_default_is_the_local_directory(write_config: WriteConfig, tmp_path: Path) -> None:
    config = load_config(write_config("version: 1\n"), environ={})
    assert config.recordings.storage.kind is StorageKind.LOCAL
    assert config.recordings.dir == tmp_path / "recordings"
    assert config.recordings.storage.bucket is None


@pytest.mark.parametrize("text", ["recordings: {storage: }\n", "recordings: {storage: {}}\n"])
def test_an_empty_storage_section_is_the_default(write_config: WriteConfig, text: str) -> None:
    config = load_config(write_config("version: 1\n" + text), environ={})
    assert config.recordings.storage.kind is StorageKind.LOCAL


def test_a_complete_s3_section(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    text = s3_config(
        prefix="prod/recordings",
        endpoint="https://s3.internal:9000/",
        region="eu-central-1",
        access_key_id="PROCTORKEY",
        secret_access_key='"${env:S3_SECRET}"',
        path_style="true",
        ca_file="ca.pem",
        object_lock="{mode: compliance, retain: 400d}",
    )
    storage = load_config(write_config(text), environ={"S3_SECRET": ENV_SECRET}).recordings.storage
    assert storage.kind is StorageKind.S3
    assert storage.bucket == "proctor-recordings"
    assert storage.prefix == "prod/recordings/"  # a folder: keys never run into its name
    assert storage.key_prefix == "prod/recordings/"
    assert storage.endpoint == "https://s3.internal:9000"
    assert storage.region == "eu-central-1"
    assert storage.access_key_id == "PROCTORKEY"
    assert storage.secret_access_key == ENV_SECRET
    assert storage.path_style is True
    assert storage.ca_file == tmp_path / "ca.pem"
    assert storage.object_lock is not None
    assert storage.object_lock.mode is ObjectLockMode.COMPLIANCE
    assert storage.object_lock.retain == 400 * 86400.0


def test_s3_defaults(write_config: WriteConfig) -> None:
    storage = load_config(write_config(s3_config()), environ={}).recordings.storage
    assert storage.key_prefix == ""
    assert storage.endpoint is None  # AWS
    assert storage.access_key_id is None and storage.secret_access_key is None  # AWS chain
    assert not storage.path_style
    assert storage.object_lock is None


def test_object_lock_mode_defaults_to_compliance(write_config: WriteConfig) -> None:
    text = s3_config(object_lock="{retain: 30d}")
    lock = load_config(write_config(text), environ={}).recordings.storage.object_lock
    assert lock is not None and lock.mode is ObjectLockMode.COMPLIANCE


# --- errors -----------------------------------------------------------------------------------


def test_s3_needs_a_bucket(write_config: WriteConfig) -> None:
    problems = problems_of(write_config("version: 1\nrecordings: {storage: {kind: s3}}\n"))
    problem = problem_at(problems, "recordings.storage.bucket")
    assert problem.message == "required when storage.kind is s3"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bucket", "b-1"),
        ("prefix", "p/"),
        ("endpoint", "http://127.0.0.1:8333"),
        ("region", "us-east-1"),
        ("path_style", "true"),
        ("object_lock", "{retain: 1d}"),
    ],
)
def test_s3_keys_under_local_are_errors(write_config: WriteConfig, key: str, value: str) -> None:
    # Set but ignored is the worst case: the operator believes recordings go to S3.
    text = f"version: 1\nrecordings:\n  storage:\n    kind: local\n    {key}: {value}\n"
    problem = problem_at(problems_of(write_config(text)), f"recordings.storage.{key}")
    assert problem.message == "only used when storage.kind is s3"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("kind", "nfs", "expected 'local' or 's3', found 'nfs'"),
        ("bucket", "Proctor_Recs", "expected a bucket name of 3-63 lowercase letters"),
        ("bucket", "ab", "expected a bucket name"),
        ("bucket", "a..b", "expected a bucket name"),
        ("bucket", "10.0.0.1", "expected a bucket name"),
        ("prefix", "/abs", "expected a key prefix such as 'recordings/'"),
        ("prefix", "a//b", "expected a key prefix"),
        ("prefix", "a/../b", "expected a key prefix"),
        ("endpoint", "s3.internal:9000", "expected an http(s) URL"),
        ("endpoint", "ftp://s3.internal", "expected an http(s) URL"),
        ("endpoint", "https://key:pw@s3.internal", "expected a URL without credentials"),
        ("endpoint", "https://s3.internal/?x=1", "expected a URL without a query"),
        ("region", "'eu central'", "expected a region name"),
        ("path_style", "maybe", "expected true or false"),
        ("ca_file", "missing.pem", "no such file"),
    ],
)
def test_invalid_values(write_config: WriteConfig, key: str, value: str, expected: str) -> None:
    text = s3_config(**{key: value})
    problem = problem_at(problems_of(write_config(text)), f"recordings.storage.{key}")
    assert expected in problem.message


@pytest.mark.parametrize(
    ("lock", "path", "expected"),
    [
        ("{mode: governance, retain: 1d}", "mode", "expected 'compliance', found 'governance'"),
        ("{mode: compliance}", "retain", "required key is missing"),
        ("{retain: 0}", "retain", "expected a duration above 0 and at most 36500d"),
        ("{retain: 36501d}", "retain", "expected a duration above 0 and at most 36500d"),
        ("{retain: forever}", "retain", "expected a duration such as"),
        ("{retain: 1d, mod: compliance}", "mod", "unknown key 'mod'; did you mean 'mode'?"),
    ],
)
def test_invalid_object_lock(
    write_config: WriteConfig, lock: str, path: str, expected: str
) -> None:
    text = s3_config(object_lock=lock)
    problem = problem_at(problems_of(write_config(text)), f"recordings.storage.object_lock.{path}")
    assert expected in problem.message


@pytest.mark.parametrize(
    ("given", "missing"),
    [("access_key_id", "secret_access_key"), ("secret_access_key", "access_key_id")],
)
def test_credentials_come_in_pairs(write_config: WriteConfig, given: str, missing: str) -> None:
    text = s3_config(**{given: "value-1"})
    problem = problem_at(problems_of(write_config(text)), f"recordings.storage.{missing}")
    assert problem.message == f"required when {given} is set (give both or neither)"


def test_misspelt_key(write_config: WriteConfig) -> None:
    text = s3_config(secret_acces_key="x")
    problem = problem_at(problems_of(write_config(text)), "recordings.storage.secret_acces_key")
    assert problem.message == "unknown key 'secret_acces_key'; did you mean 'secret_access_key'?"


# --- secrecy ----------------------------------------------------------------------------------


def test_a_literal_secret_is_hidden(write_config: WriteConfig) -> None:
    text = s3_config(access_key_id="PROCTORKEY", secret_access_key=SECRET)
    config = load_config(write_config(text), environ={})
    storage = config.recordings.storage
    assert storage.secret_access_key == SECRET  # the premise: the value is there
    for shown in (repr(config), str(config), repr(storage), str(config.public_view())):
        assert SECRET not in shown
    assert f"secret_access_key='{HIDDEN}'" in repr(storage)
    assert storage.public_view()["secret_access_key"] == HIDDEN
    assert storage.public_view()["access_key_id"] == "PROCTORKEY"  # an id, not a secret


def test_a_referenced_secret_shows_as_its_reference(write_config: WriteConfig) -> None:
    text = s3_config(access_key_id="PROCTORKEY", secret_access_key='"${env:S3_SECRET}"')
    path = write_config(text)
    config = load_config(path, environ={"S3_SECRET": ENV_SECRET})
    assert config.recordings.storage.secret_access_key == ENV_SECRET
    assert ENV_SECRET not in repr(config)
    assert "secret_access_key='${env:S3_SECRET}'" in repr(config.recordings.storage)
    # Rotating the secret does not change the fingerprint; the reference is what counts.
    rotated = load_config(path, environ={"S3_SECRET": ENV_SECRET + "-rotated"})
    assert rotated.fingerprint() == config.fingerprint()


def test_the_fingerprint_ignores_a_literal_secrets_value(write_config: WriteConfig) -> None:
    one = load_config(
        write_config(s3_config(access_key_id="K", secret_access_key=SECRET), "a.yaml"), environ={}
    )
    two = load_config(
        write_config(s3_config(access_key_id="K", secret_access_key="other-secret"), "a.yaml"),
        environ={},
    )
    assert one.fingerprint() == two.fingerprint()


def test_an_unresolvable_secret_reference_names_the_reference(write_config: WriteConfig) -> None:
    text = s3_config(access_key_id="K", secret_access_key='"${env:S3_SECRET}"')
    problem = problem_at(problems_of(write_config(text)), "recordings.storage.secret_access_key")
    assert "S3_SECRET is not set" in problem.message


def test_a_literal_secret_of_the_wrong_type_is_not_quoted(write_config: WriteConfig) -> None:
    text = s3_config(access_key_id="K", secret_access_key="84512377")
    problem = problem_at(problems_of(write_config(text)), "recordings.storage.secret_access_key")
    assert "84512377" not in problem.message


def test_the_recording_backlog_bound(write_config: WriteConfig) -> None:
    config = load_config(write_config("version: 1\n"), environ={})
    assert config.recordings.max_backlog_mb == 64
    text = "version: 1\nrecordings:\n  max_backlog_mb: 8\n"
    assert load_config(write_config(text), environ={}).recordings.max_backlog_mb == 8
    for bad, expected in (("0", "greater than or equal to 1"), ("lots", "expected a whole number")):
        text = f"version: 1\nrecordings:\n  max_backlog_mb: {bad}\n"
        problem = problem_at(problems_of(write_config(text)), "recordings.max_backlog_mb")
        assert expected in problem.message


def test_head_interval_defaults_to_a_second(write_config: WriteConfig) -> None:
    assert load_config(write_config("version: 1\n"), environ={}).recordings.head_interval == 1.0
    text = "version: 1\nrecordings:\n  head_interval: 1m30s\n"
    assert load_config(write_config(text), environ={}).recordings.head_interval == 90.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("500ms", "expected a duration from 1s to 1h"),
        ("0", "expected a duration from 1s to 1h"),
        ("2h", "expected a duration from 1s to 1h"),
        ("often", "expected a duration such as 500ms, 30s, 5m, 8h, 2d, 1h30m"),
    ],
)
def test_head_interval_out_of_range(write_config: WriteConfig, value: str, message: str) -> None:
    path = write_config(f"version: 1\nrecordings:\n  head_interval: {value}\n")
    problem = problem_at(problems_of(path), "recordings.head_interval")
    assert problem.message.startswith(message)
    assert "found" in problem.message
