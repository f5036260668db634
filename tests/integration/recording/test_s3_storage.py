"""``S3BlobStorage`` against a real S3 server (SeaweedFS) with Object Lock."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from proctor.config.sections import RecordingsConfig
from proctor.recording.storage import BlobExists, BlobLocked, BlobMissing, StorageError
from proctor.recording.storage.factory import open_blob_storage
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.storage.s3 import PROBE_KEY, S3BlobStorage
from tests.s3server import Identity, SeaweedS3, throwaway_s3

from .conftest import MakeStorage, new_bucket_name, storage_for

pytestmark = pytest.mark.integration


def in_a_day() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


# --- the BlobStorage contract -----------------------------------------------------------------


@pytest.mark.parametrize("bucket_kind", ["plain", "locked"])
def test_round_trip(
    request: pytest.FixtureRequest, make_storage: MakeStorage, bucket_kind: str
) -> None:
    bucket = request.getfixturevalue(f"{bucket_kind}_bucket")
    storage = make_storage(bucket, prefix="rec/")
    assert not storage.exists("sessions/s1/000001.seg")
    storage.put("sessions/s1/000001.seg", b"first")
    storage.put("sessions/s1/000002.seg", b"\x00binary\xff" * 1000)
    storage.put("ledger/head", b"h")
    assert storage.get("sessions/s1/000001.seg") == b"first"
    assert storage.get("sessions/s1/000002.seg") == b"\x00binary\xff" * 1000
    assert storage.exists("sessions/s1/000001.seg")
    assert list(storage.list("sessions/")) == ["sessions/s1/000001.seg", "sessions/s1/000002.seg"]
    assert list(storage.list()) == [
        "ledger/head",
        "sessions/s1/000001.seg",
        "sessions/s1/000002.seg",
    ]
    assert list(storage.list("sessions/s2")) == []

    storage.delete("sessions/s1/000001.seg")
    assert not storage.exists("sessions/s1/000001.seg")
    with pytest.raises(BlobMissing):
        storage.get("sessions/s1/000001.seg")
    assert list(storage.list("sessions/")) == ["sessions/s1/000002.seg"]
    with pytest.raises(BlobMissing):
        storage.delete("sessions/s1/000001.seg")


def test_list_is_in_byte_order_whatever_the_server_does(
    plain_bucket: str, make_storage: MakeStorage
) -> None:
    # SeaweedFS lists "a/b" (a directory) before "a-c"; S3's order, and ours, is bytewise.
    storage = make_storage(plain_bucket)
    keys = ["a/b", "a-c", "a.x", "a0", "a/a/z", "A", "z", "a_"]
    for key in keys:
        storage.put(key, key.encode())
    assert list(storage.list()) == sorted(keys)
    assert list(storage.list("a")) == sorted(k for k in keys if k.startswith("a"))


def test_list_pages_through_more_than_a_thousand_keys(
    plain_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(plain_bucket)
    keys = [f"s/{i:05d}" for i in range(1005)]
    for key in keys:
        storage.put(key, b"")
    assert list(storage.list("s/")) == keys


def test_prefixes_keep_tenants_apart(
    s3_server: SeaweedS3, plain_bucket: str, make_storage: MakeStorage
) -> None:
    one = make_storage(plain_bucket, prefix="one/")
    two = make_storage(plain_bucket, prefix="one-two/")
    one.put("k", b"1")
    two.put("k", b"2")
    assert one.get("k") == b"1"
    assert two.get("k") == b"2"
    assert list(one.list()) == ["k"]  # the probe object is never listed
    assert list(two.list()) == ["k"]
    listing = s3_server.client().list_objects_v2(Bucket=plain_bucket)
    raw = {item["Key"] for item in listing["Contents"]}
    assert raw == {"one/k", "one-two/k", f"one/{PROBE_KEY}", f"one-two/{PROBE_KEY}"}


@pytest.mark.parametrize("bucket_kind", ["plain", "locked"])
def test_write_once(
    request: pytest.FixtureRequest, make_storage: MakeStorage, bucket_kind: str
) -> None:
    storage = make_storage(request.getfixturevalue(f"{bucket_kind}_bucket"))
    assert storage.check().conditional_writes  # SeaweedFS honours If-None-Match: *
    storage.put("blob", b"original")
    with pytest.raises(BlobExists, match="exists already"):
        storage.put("blob", b"replacement")
    with pytest.raises(BlobExists):
        storage.put("blob", b"original")  # even the same bytes: a first attempt never merges
    assert storage.get("blob") == b"original"


def test_write_once_without_conditional_writes(
    plain_bucket: str, make_storage: MakeStorage
) -> None:
    # The fallback for servers that ignore If-None-Match: look, then write.
    storage = make_storage(plain_bucket)
    storage._bucket_status = dataclasses.replace(storage.check(), conditional_writes=False)
    storage.put("blob", b"original")
    with pytest.raises(BlobExists):
        storage.put("blob", b"replacement")
    assert storage.get("blob") == b"original"


def test_missing_blob(plain_bucket: str, make_storage: MakeStorage) -> None:
    storage = make_storage(plain_bucket)
    assert not storage.exists("nope")
    with pytest.raises(BlobMissing, match="no blob"):
        storage.get("nope")
    with pytest.raises(BlobMissing):
        storage.delete("nope")


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "../x", "a/./b", ".hidden", "a b"])
def test_invalid_keys_are_refused(plain_bucket: str, make_storage: MakeStorage, key: str) -> None:
    with pytest.raises(StorageError, match="invalid blob key"):
        make_storage(plain_bucket).put(key, b"x")


# --- Object Lock ------------------------------------------------------------------------------


def test_check_reports_the_buckets_abilities(
    plain_bucket: str, locked_bucket: str, make_storage: MakeStorage
) -> None:
    plain = make_storage(plain_bucket).check()
    assert (plain.object_lock, plain.versioned, plain.conditional_writes) == (False, False, True)
    locked = make_storage(locked_bucket).check()
    assert (locked.object_lock, locked.versioned, locked.conditional_writes) == (True, True, True)
    assert make_storage(locked_bucket).enforces_retention
    assert not make_storage(plain_bucket).enforces_retention


def test_a_locked_blob_cannot_be_deleted(
    s3_server: SeaweedS3, locked_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(locked_bucket)
    until = in_a_day()
    storage.put("sessions/s1/000001.seg", b"evidence", retain_until=until)

    with pytest.raises(BlobLocked, match=r"under COMPLIANCE retention until \d{4}-"):
        storage.delete("sessions/s1/000001.seg")
    assert storage.get("sessions/s1/000001.seg") == b"evidence"
    assert storage.exists("sessions/s1/000001.seg")

    # What the storage API cannot do, the server refuses too.
    raw = s3_server.client()
    head = raw.head_object(Bucket=locked_bucket, Key="sessions/s1/000001.seg")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs(head["ObjectLockRetainUntilDate"] - until) < timedelta(seconds=2)
    version = head["VersionId"]
    with pytest.raises(ClientError) as caught:
        raw.delete_object(Bucket=locked_bucket, Key="sessions/s1/000001.seg", VersionId=version)
    assert error_code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:  # shortening COMPLIANCE retention
        raw.put_object_retention(
            Bucket=locked_bucket,
            Key="sessions/s1/000001.seg",
            VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=12)},
        )
    assert error_code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:  # weakening it to GOVERNANCE
        raw.put_object_retention(
            Bucket=locked_bucket,
            Key="sessions/s1/000001.seg",
            VersionId=version,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
        )
    assert error_code(caught) == "AccessDenied"

    # An unconditional overwrite only stacks a new version: the locked one stays, and so
    # does the refusal to delete the blob.
    raw.put_object(Bucket=locked_bucket, Key="sessions/s1/000001.seg", Body=b"forged")
    original = raw.get_object(Bucket=locked_bucket, Key="sessions/s1/000001.seg", VersionId=version)
    assert original["Body"].read() == b"evidence"
    with pytest.raises(BlobLocked):
        storage.delete("sessions/s1/000001.seg")
    # Nothing was deleted by the refused attempt, not even the unlocked newer version.
    versions = raw.list_object_versions(Bucket=locked_bucket, Prefix="sessions/s1/000001.seg")
    assert len(versions["Versions"]) == 2


def test_a_delete_marker_hides_but_does_not_unlock(
    s3_server: SeaweedS3, locked_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(locked_bucket)
    storage.put("sessions/s1/000001.seg", b"evidence", retain_until=in_a_day())
    storage.put("sessions/s1/000002.seg", b"more")
    # Someone deletes "the S3 way": a delete marker on top; the locked version remains.
    raw = s3_server.client()
    assert raw.delete_object(Bucket=locked_bucket, Key="sessions/s1/000001.seg")["DeleteMarker"]
    assert not storage.exists("sessions/s1/000001.seg")
    with pytest.raises(BlobMissing):
        storage.get("sessions/s1/000001.seg")
    assert list(storage.list("sessions/")) == ["sessions/s1/000002.seg"]
    with pytest.raises(BlobLocked):
        storage.delete("sessions/s1/000001.seg")


def test_deleting_an_unlocked_blob_removes_every_version(
    s3_server: SeaweedS3, locked_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(locked_bucket)
    storage.put("tmp/blob", b"no retention")
    raw = s3_server.client()
    raw.delete_object(Bucket=locked_bucket, Key="tmp/blob")  # a stray delete marker
    raw.put_object(Bucket=locked_bucket, Key="tmp/blob", Body=b"v2")
    storage.delete("tmp/blob")
    versions = raw.list_object_versions(Bucket=locked_bucket, Prefix="tmp/blob")
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert not storage.exists("tmp/blob")
    with pytest.raises(BlobMissing):
        storage.delete("tmp/blob")
    storage.put("tmp/blob", b"again")  # gone for real: the key may be written anew
    assert storage.get("tmp/blob") == b"again"


def test_retention_ends(locked_bucket: str, make_storage: MakeStorage) -> None:
    storage = make_storage(locked_bucket)
    storage.put("short", b"x", retain_until=datetime.now(UTC) + timedelta(seconds=2))
    with pytest.raises(BlobLocked):
        storage.delete("short")
    time.sleep(3)
    storage.delete("short")
    assert not storage.exists("short")


def test_configured_minimum_retention(
    s3_server: SeaweedS3, locked_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(locked_bucket, min_retention=timedelta(days=400))
    storage.put("default", b"x")  # no date given: the configured minimum
    storage.put("shorter", b"x", retain_until=in_a_day())  # raised to the minimum
    later = datetime.now(UTC) + timedelta(days=500)
    storage.put("longer", b"x", retain_until=later)  # kept
    raw = s3_server.client()
    expected = datetime.now(UTC) + timedelta(days=400)
    for key, until in (("default", expected), ("shorter", expected), ("longer", later)):
        head = raw.head_object(Bucket=locked_bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert abs(head["ObjectLockRetainUntilDate"] - until) < timedelta(seconds=5), key
        with pytest.raises(BlobLocked):
            storage.delete(key)


def test_required_object_lock_on_a_plain_bucket_fails_the_check(
    plain_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(plain_bucket, min_retention=timedelta(days=1))
    with pytest.raises(StorageError, match=f"bucket {plain_bucket} does not have Object Lock"):
        storage.check()
    with pytest.raises(StorageError, match="Object Lock"):
        storage.put("x", b"x")  # the lazy check fails the same way: fail closed


def test_retention_on_a_plain_bucket_is_ignored_with_one_warning(
    plain_bucket: str, make_storage: MakeStorage, caplog: pytest.LogCaptureFixture
) -> None:
    storage = make_storage(plain_bucket)
    with caplog.at_level(logging.WARNING, logger="proctor.recording.storage.s3"):
        storage.put("a", b"x", retain_until=in_a_day())
        storage.put("b", b"x", retain_until=in_a_day())
    assert [r.getMessage() for r in caplog.records].count(
        f"bucket {plain_bucket} has no Object Lock: retention dates are not enforced"
    ) == 1
    storage.delete("a")


def test_naive_retention_dates_are_refused(locked_bucket: str, make_storage: MakeStorage) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_storage(locked_bucket).put("x", b"x", retain_until=datetime.now())


# --- errors -----------------------------------------------------------------------------------


def test_wrong_secret(s3_server: SeaweedS3, plain_bucket: str) -> None:
    wrong = Identity(s3_server.admin.access_key, "not-the-secret-" + "x" * 20)
    storage = storage_for(s3_server, plain_bucket, wrong)
    with pytest.raises(StorageError) as caught:
        storage.check()
    message = str(caught.value)
    assert "SignatureDoesNotMatch" in message
    assert "secret access key" in message and s3_server.admin.access_key in message
    assert wrong.secret_key not in message and s3_server.admin.secret_key not in message
    # HEAD answers carry no error code; the storage still says what is wrong.
    with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
        storage.exists("anything")


def test_unknown_access_key(s3_server: SeaweedS3, plain_bucket: str) -> None:
    storage = storage_for(s3_server, plain_bucket, Identity("PTNOSUCHKEY", "whatever-secret"))
    with pytest.raises(StorageError, match="does not know access key id PTNOSUCHKEY"):
        storage.check()


def test_missing_bucket(s3_server: SeaweedS3, make_storage: MakeStorage) -> None:
    name = new_bucket_name("absent")
    with pytest.raises(StorageError, match=f"bucket {name} does not exist"):
        make_storage(name).check()


def test_no_permission(s3_server: SeaweedS3, plain_bucket: str, make_storage: MakeStorage) -> None:
    make_storage(plain_bucket).put("readable", b"x")
    reader = make_storage(plain_bucket, identity=s3_server.reader)
    # A writer must be able to learn the bucket's Object Lock and to write; the reader cannot.
    with pytest.raises(StorageError, match=r"access denied \(AccessDenied\)") as caught:
        reader.check()
    assert s3_server.reader.access_key in str(caught.value)
    # A reader that says so needs no write permission (proctor verify, replay).
    assert reader.check(writable=False).conditional_writes is None
    assert reader.get("readable") == b"x"
    assert list(reader.list()) == ["readable"]
    with pytest.raises(StorageError, match="access denied"):
        reader.put("new", b"x")
    with pytest.raises(StorageError, match="access denied"):
        reader.delete("readable")
    assert reader.exists("readable")


def test_unreachable_endpoint_gives_up_after_the_retry_window(plain_bucket: str) -> None:
    from tests.s3server import free_ports

    (port,) = free_ports(1)
    storage = S3BlobStorage(
        plain_bucket,
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key_id="x",
        secret_access_key="y",
        path_style=True,
        max_attempts=1,
        unreachable_retry=1.0,
    )
    started = time.monotonic()
    with pytest.raises(StorageError, match=r"unreachable after \d+ attempts"):
        storage.check()
    assert time.monotonic() - started < 10


def test_a_put_survives_a_server_restart() -> None:
    # Its own server: stopping the shared one would disturb the other tests.
    with throwaway_s3("proctor-s3-restart-") as server:
        bucket = server.create_bucket("restart", object_lock=True)
        storage = storage_for(server, bucket, unreachable_retry=60.0)
        storage.check()
        server.stop()
        errors: list[BaseException] = []

        def put() -> None:
            try:
                storage.put("sessions/s/000001.seg", b"kept", retain_until=in_a_day())
            except BaseException as exc:
                errors.append(exc)

        writer = threading.Thread(target=put)
        writer.start()
        time.sleep(1.5)  # the put is now retrying against a closed port
        assert writer.is_alive()
        server.start()
        writer.join(60)
        assert not writer.is_alive() and not errors
        assert storage.get("sessions/s/000001.seg") == b"kept"
        with pytest.raises(BlobLocked):
            storage.delete("sessions/s/000001.seg")


# --- the factory ------------------------------------------------------------------------------


def test_factory_opens_s3_from_the_configuration(
    s3_server: SeaweedS3, locked_bucket: str, tmp_path: Path
) -> None:
    config = RecordingsConfig.model_validate(
        {
            "storage": {
                "kind": "s3",
                "bucket": locked_bucket,
                "prefix": "prod",
                "endpoint": s3_server.endpoint,
                "access_key_id": s3_server.admin.access_key,
                "secret_access_key": s3_server.admin.secret_key,
                "path_style": True,
                "object_lock": {"mode": "compliance", "retain": "1d"},
            }
        },
        context={"config_path": tmp_path / "proctor.yaml"},
    )
    storage = open_blob_storage(config)
    assert isinstance(storage, S3BlobStorage)
    assert storage.enforces_retention
    storage.put("sessions/x/1", b"x")
    with pytest.raises(BlobLocked):
        storage.delete("sessions/x/1")
    head = s3_server.client().head_object(Bucket=locked_bucket, Key="prod/sessions/x/1")
    assert head["ObjectLockMode"] == "COMPLIANCE"


def test_factory_refuses_object_lock_on_a_plain_bucket(
    s3_server: SeaweedS3, plain_bucket: str, tmp_path: Path
) -> None:
    config = RecordingsConfig.model_validate(
        {
            "storage": {
                "kind": "s3",
                "bucket": plain_bucket,
                "endpoint": s3_server.endpoint,
                "access_key_id": s3_server.admin.access_key,
                "secret_access_key": s3_server.admin.secret_key,
                "path_style": True,
                "object_lock": {"retain": "1d"},
            }
        },
        context={"config_path": tmp_path / "proctor.yaml"},
    )
    with pytest.raises(StorageError, match="does not have Object Lock"):
        open_blob_storage(config)


def test_factory_opens_a_local_directory(tmp_path: Path) -> None:
    config = RecordingsConfig.model_validate(
        {"dir": "recs"}, context={"config_path": tmp_path / "proctor.yaml"}
    )
    storage = open_blob_storage(config)
    assert isinstance(storage, LocalBlobStorage)
    assert storage.root == tmp_path / "recs"


def lose_first_response(storage: S3BlobStorage, before: Callable[[], None] | None = None) -> None:
    """The first PutObject reaches the server but its answer is lost (a dropped connection)."""
    real = storage._client.put_object
    calls = []

    def put_object(**kwargs: Any) -> Any:
        calls.append(kwargs["Key"])
        if len(calls) > 1:
            return real(**kwargs)
        if before is not None:
            before()
        else:
            real(**kwargs)
        raise ConnectionClosedError(endpoint_url="http://127.0.0.1")

    storage._client.put_object = put_object  # type: ignore[method-assign]


def test_a_retried_put_that_finds_its_own_object_succeeds(
    plain_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(plain_bucket)
    storage.check()
    lose_first_response(storage)
    storage.put("blob", b"mine")  # the retry meets 412 for its own bytes: written
    assert storage.get("blob") == b"mine"


def test_a_retried_put_that_finds_another_object_fails(
    s3_server: SeaweedS3, plain_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(plain_bucket)
    storage.check()
    other = s3_server.client()
    lose_first_response(
        storage, before=lambda: other.put_object(Bucket=plain_bucket, Key="blob", Body=b"theirs")
    )
    with pytest.raises(BlobExists):
        storage.put("blob", b"mine")
    assert storage.get("blob") == b"theirs"


def test_a_reader_check_leaves_the_probe_to_the_first_put(
    plain_bucket: str, make_storage: MakeStorage
) -> None:
    storage = make_storage(plain_bucket)
    assert storage.check(writable=False).conditional_writes is None
    storage.put("blob", b"x")
    assert storage._status().conditional_writes is True
    with pytest.raises(BlobExists):
        storage.put("blob", b"y")
