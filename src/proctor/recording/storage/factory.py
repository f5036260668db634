"""``open_blob_storage``: the configured ``BlobStorage`` (a local directory or an S3 bucket).

Only ``cli`` calls this (DESIGN.md §2: it alone chooses implementations); everything else
receives a ``BlobStorage``.
"""

from __future__ import annotations

from datetime import timedelta

from proctor.config.recordings import StorageKind
from proctor.config.sections import RecordingsConfig
from proctor.recording.storage.base import BlobStorage
from proctor.recording.storage.local import LocalBlobStorage


def open_blob_storage(
    config: RecordingsConfig, *, check: bool = True, writable: bool = True
) -> BlobStorage:
    """The storage ``config`` describes; with ``check``, an S3 bucket is reached first.

    ``check`` makes a wrong secret, a missing bucket or a bucket without the Object Lock
    the configuration asks for a ``StorageError`` now, at gateway start, rather than at
    the first session (see ``S3BlobStorage.check``). ``writable=False`` is for commands
    that only read recordings (verify, replay, export): nothing is written to check, so
    read-only credentials suffice.
    """
    storage = config.storage
    if storage.kind is StorageKind.LOCAL:
        return LocalBlobStorage(config.dir)

    # boto3 is imported only when S3 is configured.
    from proctor.recording.storage.s3 import S3BlobStorage

    assert storage.bucket is not None  # the config requires it for kind s3
    lock = storage.object_lock
    s3 = S3BlobStorage(
        storage.bucket,
        prefix=storage.key_prefix,
        endpoint_url=storage.endpoint,
        region=storage.region,
        access_key_id=storage.access_key_id,
        secret_access_key=storage.secret_access_key,
        path_style=bool(storage.path_style),
        verify=str(storage.ca_file) if storage.ca_file is not None else True,
        min_retention=timedelta(seconds=lock.retain) if lock is not None else None,
        require_object_lock=lock is not None,
    )
    if check:
        s3.check(writable=writable)
    return s3
