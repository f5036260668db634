"""The storage interface recordings are written through.

Recordings are write-once blobs under ``/``-separated keys (``sessions/<id>/000001.seg``,
``ledger/…``): a blob is created whole and never changed, which maps onto a local directory
(write to a temporary name, fsync, rename, refusing to replace) and onto S3 (``PutObject``
with ``If-None-Match: *`` where supported, optionally under Object Lock retention). Growing
things — a live session, the ledger — are sequences of blobs.

Implementations are synchronous: the recording writer calls them from its own thread, never
from the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol


class StorageError(Exception):
    """The storage cannot do what was asked (the message is safe to show)."""


class BlobExists(StorageError):
    """A blob with this key exists already: blobs are write-once."""


class BlobMissing(StorageError):
    """No blob with this key."""


class BlobLocked(StorageError):
    """The blob is under retention (Object Lock / legal hold) and cannot be deleted yet."""


class BlobStorage(Protocol):
    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> None:
        """Create the blob ``key`` durably; ``BlobExists`` if it exists. ``retain_until``:
        WORM retention where the backend supports it (ignored, with a one-time warning, by
        backends that cannot enforce it)."""
        ...

    def get(self, key: str) -> bytes:
        """The blob's bytes; ``BlobMissing`` if there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with ``prefix``, in lexicographic order."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; ``BlobLocked`` while retention forbids it, ``BlobMissing`` if
        there is none."""
        ...

    @property
    def enforces_retention(self) -> bool:
        """Whether ``retain_until`` is enforced by the storage itself (WORM)."""
        ...
