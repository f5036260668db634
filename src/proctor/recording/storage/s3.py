"""Recordings in an S3 bucket (AWS or an S3-compatible server), optionally WORM.

Theory of operation
-------------------
A blob ``k`` is the object ``<prefix>k`` in one bucket. The client is boto3's, used
synchronously: the recording writer calls storage from its own thread, and boto3 clients are
thread-safe.

**What the bucket can do** is learnt once, by ``check()`` (called at gateway start; the first
operation calls it otherwise): whether Object Lock is enabled (``GetObjectLockConfiguration``),
whether the bucket keeps versions (``GetBucketVersioning``), and whether the server honours
conditional writes. If ``require_object_lock`` (the config's ``object_lock:``) is set and the
bucket has no Object Lock, ``check`` fails: the operator asked for WORM and must not silently
get less.

**Write-once.** ``put`` sends ``PutObject`` with ``If-None-Match: *``, so the server refuses
to replace an existing object (``412 PreconditionFailed`` -> ``BlobExists``) atomically. Some
servers ignore that header and overwrite; ``check`` therefore probes it by writing a small
object (``<prefix>.proctor-write-probe``, a name no blob key can have; never deleted, never
listed) twice. On a
server that ignores it, ``put`` falls back to ``HeadObject`` then ``PutObject``: two writers
racing for the same key could then both succeed (the later one wins; in a versioned bucket
the earlier version is still kept). Recording keys are per session and written by one writer,
so the race needs two gateways writing the same session, which the recording layer excludes.

A retried ``PutObject`` (the first attempt may have succeeded with its response lost) can see
``412`` for its own object; then the stored bytes are compared with ours and an identical
object counts as written. A first attempt that gets ``412`` is always ``BlobExists``.

**Retention.** ``put(..., retain_until=T)`` sends Object Lock retention in COMPLIANCE mode
until ``max(T, now + min_retention)``: nobody, not even the account's root, can delete the
version or shorten the date before then. A bucket without Object Lock cannot enforce it: the
date is then ignored with one warning, and ``enforces_retention`` is false.

**Delete and versions.** In a versioned bucket (every Object Lock bucket is), ``DeleteObject``
without a version id deletes nothing: it adds a *delete marker* that hides the object while
every version stays. That would let ``delete`` "succeed" on a blob under retention, and the
purge job would believe it had removed what it had only hidden. So here ``delete`` lists the
versions of exactly this key, refuses with ``BlobLocked`` if any version is under retention or
legal hold (before deleting anything, so a refused delete changes nothing), and otherwise
deletes every version and delete marker by version id: the blob is then really gone. A blob
already hidden by someone else's delete marker reads as missing (``get``/``exists``/``list``,
which see only current versions), but ``delete`` still finds its versions: locked ones are
reported as ``BlobLocked``, others are removed. ``BlobMissing`` means no version exists.
An ``AccessDenied`` from ``DeleteObject`` is ``BlobLocked`` when the version's retention
(read back with ``HeadObject``) is still running, else a permission error.

**Order of ``list``.** S3 promises keys in UTF-8 byte order, but some servers (SeaweedFS)
list a "directory" before its siblings (``a/b`` before ``a-c``). ``list`` therefore collects
the keys under the prefix and sorts them: memory grows with the listing, so list narrow
prefixes (one session), not the whole bucket, in hot paths.

**Failures.** botocore retries transient errors (connection errors, 5xx, throttling) with
exponential backoff (``standard`` mode, ``max_attempts``). On top of that, an unreachable
endpoint (connection refused, timeouts, a connection dropped mid-response) is retried here with
backoff for up to ``unreachable_retry`` seconds, which covers a restart of the S3 server.
Everything else becomes a ``StorageError`` whose message names the operation, the bucket/key
and the cause (``SignatureDoesNotMatch``: the secret is wrong; ``NoSuchBucket``; ``AccessDenied``)
and never contains a secret.
"""

from __future__ import annotations

import builtins
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from proctor.recording.storage.base import BlobExists, BlobLocked, BlobMissing, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)

T = TypeVar("T")

# One key segment: what LocalBlobStorage accepts (no hidden names, no "..", no separators).
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
# Written by the conditional-write probe under the prefix; hidden, so never a blob's key.
PROBE_KEY = ".proctor-write-probe"
_PROBE_BODY = b"Proctor checks here that the server refuses to overwrite (If-None-Match: *).\n"

_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})
_AUTH_CODES = frozenset({"SignatureDoesNotMatch", "InvalidAccessKeyId", "403"})
_UNREACHABLE = (
    bx.EndpointConnectionError,
    bx.ConnectTimeoutError,
    bx.ReadTimeoutError,
    bx.ConnectionClosedError,
    bx.ProxyConnectionError,
    bx.ResponseStreamingError,
    bx.IncompleteReadError,
)


@dataclass(frozen=True, slots=True)
class S3BucketStatus:
    """What ``check()`` found out about the bucket."""

    bucket: str
    object_lock: bool  # Object Lock enabled: COMPLIANCE retention is enforced by the server
    versioned: bool  # versioning Enabled or Suspended: deletes must name versions
    # The server refuses PutObject with If-None-Match: * on an existing key (None: not
    # probed yet, because check() was told the storage is only read).
    conditional_writes: bool | None


class S3BlobStorage:
    """``BlobStorage`` over an S3 bucket; see the module docstring for the semantics."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        path_style: bool = False,
        verify: bool | str = True,
        min_retention: timedelta | None = None,
        require_object_lock: bool = False,
        max_attempts: int = 4,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        unreachable_retry: float = 60.0,
    ) -> None:
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither")
        if prefix and (prefix.startswith("/") or not prefix.endswith("/")):
            raise ValueError("prefix must be empty or end with '/' (and not start with '/')")
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self._access_key_id = access_key_id
        self._min_retention = min_retention
        self._require_object_lock = require_object_lock or min_retention is not None
        self._unreachable_retry = unreachable_retry
        # The secret goes into the boto3 session and nowhere else (no attribute, no repr).
        self._session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            # SigV4 needs a region; S3-compatible servers accept any, AWS needs the real one.
            region_name=region or ("us-east-1" if endpoint_url else None),
        )
        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            s3={"addressing_style": "path" if path_style else "auto"},
        )
        self._client: S3Client = self._session.client(
            "s3", endpoint_url=endpoint_url, verify=verify, config=config
        )
        self._status_lock = threading.Lock()
        self._bucket_status: S3BucketStatus | None = None
        self._warned_no_lock = False

    def __repr__(self) -> str:
        return f"S3BlobStorage(s3://{self.bucket}/{self.prefix}, endpoint={self.endpoint_url})"

    # --- the bucket ---------------------------------------------------------------------------

    def check(self, *, writable: bool = True) -> S3BucketStatus:
        """Reach the bucket and learn what it can do; ``StorageError`` if it is unusable.

        Called at gateway start so that a wrong secret, a missing bucket or a bucket without
        the Object Lock the configuration asks for stop the gateway, not the first session.
        ``writable=False`` (readers such as ``proctor verify``, possibly with read-only
        credentials) skips the conditional-write probe; the first ``put`` does it then.
        """
        object_lock = self._object_lock_enabled(writable)
        if self._require_object_lock and not object_lock:
            raise StorageError(
                f"bucket {self.bucket} does not have Object Lock enabled, but the configuration "
                "asks for WORM retention (recordings.storage.object_lock): create the bucket "
                "with Object Lock enabled, or remove object_lock from the configuration"
            )
        status = S3BucketStatus(
            bucket=self.bucket,
            object_lock=object_lock,
            versioned=object_lock or self._versioning_on(),
            conditional_writes=self._probe_conditional_writes() if writable else None,
        )
        with self._status_lock:
            self._bucket_status = status
        return status

    @property
    def enforces_retention(self) -> bool:
        return self._status().object_lock

    def _status(self) -> S3BucketStatus:
        with self._status_lock:
            status = self._bucket_status
        return status if status is not None else self.check()

    def _object_lock_enabled(self, writable: bool) -> bool:
        try:
            answer = self._call(
                lambda _: self._client.get_object_lock_configuration(Bucket=self.bucket),
                "read the Object Lock configuration of",
                None,
            )
        except _ClientErrorCode as exc:
            if exc.code.startswith("ObjectLockConfigurationNotFound"):
                return False
            if exc.code == "AccessDenied" and not writable and not self._require_object_lock:
                # A reader does not need to know (retention only matters when writing).
                log.warning("no permission to read Object Lock of bucket %s", self.bucket)
                return False
            raise self._error(exc.error, "read the Object Lock configuration of", None) from None
        return answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    def _versioning_on(self) -> bool:
        try:
            answer = self._call(
                lambda _: self._client.get_bucket_versioning(Bucket=self.bucket),
                "read the versioning status of",
                None,
            )
        except _ClientErrorCode as exc:
            if exc.code != "AccessDenied":
                raise self._error(exc.error, "read the versioning status of", None) from None
            # Assume versions: the version-aware delete is right for both kinds of bucket.
            log.warning("no permission to read versioning of bucket %s; assuming on", self.bucket)
            return True
        return answer.get("Status") in ("Enabled", "Suspended")

    def _probe_conditional_writes(self) -> bool:
        honoured = self._probe_once()
        if not honoured:
            log.warning(
                "S3 server at %s ignores If-None-Match on PutObject: write-once falls back "
                "to check-then-put (two writers racing for one key could both succeed)",
                self.endpoint_url or "AWS",
            )
        return honoured

    def _probe_once(self) -> bool:
        key = self.prefix + PROBE_KEY
        for _ in range(2):  # the first may create the probe; the second must then be refused
            try:
                self._call(
                    lambda _: self._client.put_object(
                        Bucket=self.bucket, Key=key, Body=_PROBE_BODY, IfNoneMatch="*"
                    ),
                    "write",
                    key,
                )
            except _ClientErrorCode as exc:
                if exc.code in ("PreconditionFailed", "412"):
                    return True
                if exc.code == "NotImplemented":
                    return False
                raise self._error(exc.error, "write", key) from None
        return False

    # --- BlobStorage ---------------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> None:
        full = self._full_key(key)
        status = self._status()
        if status.conditional_writes is None:
            status = replace(status, conditional_writes=self._probe_conditional_writes())
            with self._status_lock:
                self._bucket_status = status
        extra: dict[str, Any] = {}
        until = self._retention_until(retain_until)
        if until is not None:
            if status.object_lock:
                extra["ObjectLockMode"] = "COMPLIANCE"
                extra["ObjectLockRetainUntilDate"] = until
            elif not self._warned_no_lock:
                self._warned_no_lock = True
                log.warning(
                    "bucket %s has no Object Lock: retention dates are not enforced", self.bucket
                )
        if status.conditional_writes:
            extra["IfNoneMatch"] = "*"
        elif self.exists(key):
            raise BlobExists(f"s3://{self.bucket}/{full} exists already")

        def attempt(retry: int) -> None:
            try:
                self._client.put_object(Bucket=self.bucket, Key=full, Body=data, **extra)
            except bx.ClientError as exc:
                if _code(exc) in ("PreconditionFailed", "412"):
                    # A retry may meet the object its own earlier attempt created.
                    retried = retry > 0 or _retry_attempts(exc) > 0
                    if retried and self._holds(full, data):
                        return
                    raise BlobExists(f"s3://{self.bucket}/{full} exists already") from None
                raise

        try:
            self._call(attempt, "write", full)
        except _ClientErrorCode as exc:
            raise self._error(exc.error, "write", full) from None

    def get(self, key: str) -> bytes:
        full = self._full_key(key)
        try:
            return self._call(lambda _: self._read(full), "read", full)
        except _ClientErrorCode as exc:
            if exc.code in _NOT_FOUND:
                raise BlobMissing(f"no blob s3://{self.bucket}/{full}") from None
            raise self._error(exc.error, "read", full) from None

    def exists(self, key: str) -> bool:
        full = self._full_key(key)
        try:
            self._call(
                lambda _: self._client.head_object(Bucket=self.bucket, Key=full), "look up", full
            )
        except _ClientErrorCode as exc:
            if exc.code in _NOT_FOUND:
                return False
            raise self._head_error(exc, "look up", full) from None
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        if prefix.startswith("/"):
            raise StorageError(f"invalid key prefix {prefix!r}")
        full_prefix = self.prefix + prefix
        keys: builtins.list[str] = []
        token: str | None = None
        while True:
            page = self._list_page(full_prefix, token)
            for item in page.get("Contents", ()):
                key = item["Key"][len(self.prefix) :]
                if key != PROBE_KEY:
                    keys.append(key)
            if not page.get("IsTruncated"):
                break
            token = page.get("NextContinuationToken")
            if not token:
                break
        # Sorted here: some servers list "directories" first (see the module docstring).
        keys.sort()
        return iter(keys)

    def delete(self, key: str) -> None:
        full = self._full_key(key)
        if not self._status().versioned:
            if not self.exists(key):
                raise BlobMissing(f"no blob s3://{self.bucket}/{full}")
            self._delete_version(full, None)
            return
        versions, markers = self._versions_of(full)
        if not versions:
            raise BlobMissing(f"no blob s3://{self.bucket}/{full}")
        # Every version's retention first: a refused delete must leave everything in place.
        for version in versions:
            self._refuse_if_locked(full, version)
        for version in versions + markers:
            self._delete_version(full, version)

    # --- helpers -------------------------------------------------------------------------------

    def _full_key(self, key: str) -> str:
        # The local backend's rule, so that a key valid here is valid there (and the probe's
        # hidden name can never be a blob's).
        if not key or not all(_SEGMENT.fullmatch(part) for part in key.split("/")):
            raise StorageError(f"invalid blob key {key!r}")
        return self.prefix + key

    def _retention_until(self, retain_until: datetime | None) -> datetime | None:
        if retain_until is not None and retain_until.tzinfo is None:
            raise ValueError("retain_until must be timezone-aware (UTC)")
        floor = None if self._min_retention is None else datetime.now(UTC) + self._min_retention
        candidates = [d for d in (retain_until, floor) if d is not None]
        return max(candidates) if candidates else None

    def _read(self, full: str) -> bytes:
        answer = self._client.get_object(Bucket=self.bucket, Key=full)
        return answer["Body"].read()

    def _holds(self, full: str, data: bytes) -> bool:
        try:
            return self._read(full) == data
        except (bx.ClientError, *_UNREACHABLE):
            return False

    def _list_page(self, full_prefix: str, token: str | None) -> Any:
        def page(_: int) -> Any:
            if token is None:
                return self._client.list_objects_v2(Bucket=self.bucket, Prefix=full_prefix)
            return self._client.list_objects_v2(
                Bucket=self.bucket, Prefix=full_prefix, ContinuationToken=token
            )

        try:
            return self._call(page, "list", full_prefix or None)
        except _ClientErrorCode as exc:
            raise self._error(exc.error, "list", full_prefix or None) from None

    def _versions_of(self, full: str) -> tuple[builtins.list[str], builtins.list[str]]:
        """Version ids of exactly this key: (object versions, delete markers), newest first."""
        versions: builtins.list[str] = []
        markers: builtins.list[str] = []
        marker: dict[str, Any] = {}
        while True:

            def page(_: int, marker: dict[str, Any] = marker) -> Any:
                return self._client.list_object_versions(Bucket=self.bucket, Prefix=full, **marker)

            try:
                answer = self._call(page, "list the versions of", full)
            except _ClientErrorCode as exc:
                raise self._error(exc.error, "list the versions of", full) from None
            versions += [v["VersionId"] for v in answer.get("Versions", ()) if v["Key"] == full]
            markers += [m["VersionId"] for m in answer.get("DeleteMarkers", ()) if m["Key"] == full]
            if not answer.get("IsTruncated"):
                return versions, markers
            marker = {"KeyMarker": answer["NextKeyMarker"]}
            if answer.get("NextVersionIdMarker"):
                marker["VersionIdMarker"] = answer["NextVersionIdMarker"]

    def _lock_of(self, full: str, version: str) -> str | None:
        """Why this version cannot be deleted now (retention, legal hold), or None."""
        try:
            head = self._call(
                lambda _: self._client.head_object(Bucket=self.bucket, Key=full, VersionId=version),
                "read the retention of",
                full,
            )
        except _ClientErrorCode as exc:
            if exc.code in _NOT_FOUND:
                return None
            raise self._head_error(exc, "read the retention of", full) from None
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return "under legal hold"
        until = head.get("ObjectLockRetainUntilDate")
        if until is not None and until > datetime.now(UTC):
            mode = head.get("ObjectLockMode", "retention")
            return f"under {mode} retention until {until.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        return None

    def _refuse_if_locked(self, full: str, version: str) -> None:
        reason = self._lock_of(full, version)
        if reason is not None:
            raise BlobLocked(f"s3://{self.bucket}/{full} is {reason}; it cannot be deleted yet")

    def _delete_version(self, full: str, version: str | None) -> None:
        def delete(_: int) -> None:
            if version is None:
                self._client.delete_object(Bucket=self.bucket, Key=full)
            else:
                self._client.delete_object(Bucket=self.bucket, Key=full, VersionId=version)

        try:
            self._call(delete, "delete", full)
        except _ClientErrorCode as exc:
            if exc.code == "AccessDenied" and version is not None:
                # Retention that began after our check, or a permission problem: say which.
                self._refuse_if_locked(full, version)
            raise self._error(exc.error, "delete", full) from None

    def _call(self, operation: Callable[[int], T], what: str, key: str | None) -> T:
        """Run ``operation(attempt)``, retrying an unreachable endpoint; ClientError -> code."""
        deadline = time.monotonic() + self._unreachable_retry
        delay = 0.25
        attempt = 0
        while True:
            try:
                return operation(attempt)
            except bx.ClientError as exc:
                raise _ClientErrorCode(exc) from exc
            except bx.SSLError as exc:
                raise StorageError(
                    f"cannot {what} {self._where(key)}: TLS failed ({_short(exc)}); "
                    "for a private CA set recordings.storage.ca_file"
                ) from exc
            except _UNREACHABLE as exc:
                if time.monotonic() + delay > deadline:
                    raise StorageError(
                        f"cannot {what} {self._where(key)}: the S3 endpoint "
                        f"{self.endpoint_url or '(AWS)'} is unreachable after {attempt + 1} "
                        f"attempts ({type(exc).__name__})"
                    ) from exc
                log.info("S3 unreachable (%s), retrying in %.1fs", type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                attempt += 1
            except bx.NoCredentialsError:
                raise StorageError(
                    "no S3 credentials: set recordings.storage.access_key_id and "
                    "secret_access_key, or provide credentials to the default AWS chain "
                    "(environment, shared config, instance role)"
                ) from None
            except bx.BotoCoreError as exc:
                raise StorageError(f"cannot {what} {self._where(key)}: {_short(exc)}") from exc

    def _where(self, key: str | None) -> str:
        return f"s3://{self.bucket}/{key}" if key else f"bucket {self.bucket}"

    def _head_error(self, exc: _ClientErrorCode, what: str, key: str) -> StorageError:
        # HEAD responses have no body, hence no error code ("403"): a listing, which does,
        # tells a wrong secret from a missing permission.
        if exc.code in ("403", "400"):
            try:
                self._call(
                    lambda _: self._client.list_objects_v2(
                        Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1
                    ),
                    what,
                    key,
                )
            except _ClientErrorCode as precise:
                if precise.code in _AUTH_CODES or precise.code == "NoSuchBucket":
                    return self._error(precise.error, what, key)
        return self._error(exc.error, what, key)

    def _error(self, exc: bx.ClientError, what: str, key: str | None) -> StorageError:
        """A message naming the cause and never a secret (the access key id is not one)."""
        code = _code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        where = self._where(key)
        if code == "SignatureDoesNotMatch":
            return StorageError(
                f"cannot {what} {where}: the server rejected the request signature "
                f"(SignatureDoesNotMatch): the secret access key for access key id "
                f"{self._key_id()} is wrong"
            )
        if code == "InvalidAccessKeyId":
            return StorageError(
                f"cannot {what} {where}: the server does not know access key id "
                f"{self._key_id()} (InvalidAccessKeyId)"
            )
        if code in ("ExpiredToken", "InvalidToken", "TokenRefreshRequired"):
            return StorageError(f"cannot {what} {where}: the S3 session token is invalid ({code})")
        if code == "NoSuchBucket" or (code == "404" and key is None):
            return StorageError(
                f"cannot {what} {where}: bucket {self.bucket} does not exist (NoSuchBucket) "
                f"at {self.endpoint_url or 'AWS'}"
            )
        if code in ("AccessDenied", "403"):
            return StorageError(
                f"cannot {what} {where}: access denied ({code}): the credentials of access "
                f"key id {self._key_id()} lack the permission, or the bucket policy refuses it"
            )
        if code == "RequestTimeTooSkewed":
            return StorageError(
                f"cannot {what} {where}: this host's clock differs too much from the server's "
                "(RequestTimeTooSkewed)"
            )
        if status is not None and (status >= 500 or code in ("SlowDown", "Throttling")):
            return StorageError(
                f"cannot {what} {where}: the server kept failing after retries ({code}, HTTP "
                f"{status})"
            )
        message = exc.response.get("Error", {}).get("Message", "")
        return StorageError(f"cannot {what} {where}: {code} (HTTP {status}) {message}".rstrip())

    def _key_id(self) -> str:
        if self._access_key_id is not None:
            return self._access_key_id
        try:
            credentials = self._session.get_credentials()
        except bx.BotoCoreError:
            return "(unknown)"
        return credentials.access_key if credentials is not None else "(none)"


class _ClientErrorCode(Exception):
    """A botocore ``ClientError`` with its code, on its way to a precise ``StorageError``."""

    def __init__(self, error: bx.ClientError) -> None:
        super().__init__(_code(error))
        self.error = error
        self.code = _code(error)


def _code(exc: bx.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _retry_attempts(exc: bx.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
