"""A real S3 server (SeaweedFS) with Object Lock for the recording storage tests."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from proctor.recording.storage.s3 import S3BlobStorage
from tests.s3server import Identity, SeaweedS3, throwaway_s3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3]:
    with throwaway_s3() as server:
        yield server


def new_bucket_name(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(6)}"


@pytest.fixture
def plain_bucket(s3_server: SeaweedS3) -> str:
    """A fresh bucket without versioning or Object Lock."""
    return s3_server.create_bucket(new_bucket_name("plain"))


@pytest.fixture
def locked_bucket(s3_server: SeaweedS3) -> str:
    """A fresh bucket with Object Lock (hence versioning) enabled."""
    return s3_server.create_bucket(new_bucket_name("locked"), object_lock=True)


MakeStorage = Callable[..., S3BlobStorage]


def storage_for(
    server: SeaweedS3, bucket: str, identity: Identity | None = None, **kw: Any
) -> S3BlobStorage:
    who = identity or server.admin
    options: dict[str, Any] = {
        "endpoint_url": server.endpoint,
        "access_key_id": who.access_key,
        "secret_access_key": who.secret_key,
        "path_style": True,
        "unreachable_retry": 5.0,
        **kw,
    }
    return S3BlobStorage(bucket, **options)


@pytest.fixture
def make_storage(s3_server: SeaweedS3) -> MakeStorage:
    """make_storage(bucket, identity=None, **S3BlobStorage options) against the server."""

    def make(bucket: str, identity: Identity | None = None, **kw: Any) -> S3BlobStorage:
        return storage_for(s3_server, bucket, identity, **kw)

    return make
