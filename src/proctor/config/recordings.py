"""``recordings.storage:``: where recordings are kept, a local directory or an S3 bucket.

    recordings:
      storage:
        kind: s3
        bucket: proctor-recordings
        prefix: prod/
        endpoint: https://s3.internal:9000     # S3-compatible servers; omit for AWS
        region: eu-central-1
        access_key_id: ${env:PROCTOR_S3_KEY_ID}          # both or neither: without them,
        secret_access_key: ${file:/run/secrets/s3_key}   # the default AWS credential chain
        path_style: true
        ca_file: /etc/proctor/s3-ca.pem
        object_lock: {mode: compliance, retain: 400d}

Keys that belong to the other kind are errors, not silently ignored (an operator who wrote
``bucket:`` under ``kind: local`` believes the recordings go to S3). ``secret_access_key``
written literally is shown as ``<hidden>`` in ``repr`` and the fingerprint.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from proctor.config.base import HIDDEN, ConfigModel
from proctor.config.fields import ConfigPath, Duration, Text, require_file

# Object Lock retention is bounded by S3 itself (100 years); more is surely a typo.
MAX_RETENTION_SECONDS = 36500 * 86400.0

# AWS's rules for new buckets: 3-63 lowercase letters, digits, '.' and '-', starting and
# ending with a letter or digit, not shaped like an IP address.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_LIKE = re.compile(r"\d+\.\d+\.\d+\.\d+")
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


class StorageKind(enum.StrEnum):
    LOCAL = "local"  # recordings.dir
    S3 = "s3"


class ObjectLockMode(enum.StrEnum):
    # GOVERNANCE retention can be lifted by a sufficiently privileged user: not WORM.
    COMPLIANCE = "compliance"


def _bucket(value: str) -> str:
    if not _BUCKET.fullmatch(value) or ".." in value or _IP_LIKE.fullmatch(value):
        raise PydanticCustomError(
            "bucket",
            "expected a bucket name of 3-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit",
        )
    return value


def _prefix(value: str) -> str:
    """``prod`` -> ``prod/``: a prefix names a folder, so keys never run into its name."""
    if not value:
        return value
    segments = value.removesuffix("/").split("/")
    if value.startswith("/") or any(s in ("", ".", "..") for s in segments):
        raise PydanticCustomError(
            "prefix",
            "expected a key prefix such as 'recordings/' or 'prod/recordings/' "
            "(no leading '/', no empty, '.' or '..' segments)",
        )
    return value.removesuffix("/") + "/"


def _endpoint(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url", "expected an http(s) URL such as https://s3.internal:9000")
    if parts.username is not None or parts.password is not None:
        # Credentials go in access_key_id / secret_access_key, which are kept out of logs.
        raise PydanticCustomError(
            "url", "expected a URL without credentials (use access_key_id / secret_access_key)"
        )
    if parts.query or parts.fragment:
        raise PydanticCustomError("url", "expected a URL without a query or fragment")
    return value.rstrip("/")


def _region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise PydanticCustomError(
            "region", "expected a region name such as us-east-1 (letters, digits, '-', '_')"
        )
    return value


def _retention(value: float) -> float:
    if not 0 < value <= MAX_RETENTION_SECONDS:
        raise PydanticCustomError("retention", "expected a duration above 0 and at most 36500d")
    return value


Bucket = Annotated[Text, AfterValidator(_bucket)]
KeyPrefix = Annotated[str, AfterValidator(_prefix)]
EndpointUrl = Annotated[Text, AfterValidator(_endpoint)]
Region = Annotated[Text, AfterValidator(_region)]
Retention = Annotated[Duration, AfterValidator(_retention)]


class ObjectLockConfig(ConfigModel):
    """WORM: the bucket must have Object Lock enabled (checked at start, fail closed)."""

    mode: ObjectLockMode = ObjectLockMode.COMPLIANCE
    # Every blob is retained at least this long from its upload (seconds).
    retain: Retention


# Only meaningful for kind: s3; each is an error under kind: local.
_S3_ONLY = (
    "bucket",
    "prefix",
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "path_style",
    "ca_file",
    "object_lock",
)


class RecordingStorageConfig(ConfigModel):
    kind: StorageKind = StorageKind.LOCAL
    bucket: Bucket | None = None
    prefix: KeyPrefix | None = None  # None: ""
    endpoint: EndpointUrl | None = None  # None: AWS, from the region
    region: Region | None = None
    access_key_id: Text | None = None
    secret_access_key: Text | None = None
    path_style: bool | None = None  # None: false
    ca_file: ConfigPath | None = None
    object_lock: ObjectLockConfig | None = None

    @field_validator(*_S3_ONLY)
    @classmethod
    def _only_for_s3(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("kind")
        if kind is StorageKind.LOCAL and value is not None:
            raise PydanticCustomError("unused_for_mode", "only used when storage.kind is s3")
        if kind is StorageKind.S3 and info.field_name == "bucket" and value is None:
            raise PydanticCustomError("required_by_mode", "required when storage.kind is s3")
        if info.field_name == "ca_file" and isinstance(value, Path):
            return require_file(value)
        return value

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> Self:
        # One without the other would silently fall back to the default chain for the missing
        # half (boto3 ignores a lone key id): a different identity than the operator meant.
        pairs = (("access_key_id", "secret_access_key"), ("secret_access_key", "access_key_id"))
        errors = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "required_by_mode", f"required when {given} is set (give both or neither)"
                ),
                loc=(missing,),
                input=None,
            )
            for given, missing in pairs
            if getattr(self, given) is not None and getattr(self, missing) is None
        ]
        if errors:
            raise ValidationError.from_exception_data("RecordingStorageConfig", errors)
        return self

    @property
    def key_prefix(self) -> str:
        return self.prefix or ""

    def shown_value(self, field_name: str) -> object:
        shown = super().shown_value(field_name)
        if (
            field_name == "secret_access_key"
            and shown is not None
            and not self.uses_reference("secret_access_key")
        ):
            return HIDDEN
        return shown
