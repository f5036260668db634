"""Where recordings are kept: a write-once blob store (local directory or S3)."""

from proctor.recording.storage.base import (
    BlobExists,
    BlobLocked,
    BlobMissing,
    BlobStorage,
    StorageError,
)

__all__ = ["BlobExists", "BlobLocked", "BlobMissing", "BlobStorage", "StorageError"]
