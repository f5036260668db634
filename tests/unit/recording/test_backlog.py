"""The recorder's backlog: output handed in and not yet stored, bounded by ``max_backlog``."""

from __future__ import annotations

from pathlib import Path

from proctor.recording import layout
from proctor.recording.keys import PublicKeys, SigningKey
from proctor.recording.keystore import RecordingKeys
from proctor.recording.recorder import SignedRecorder, TeeRecorders
from proctor.recording.storage.local import LocalBlobStorage
from proctor.recording.writer import BatchingStoreWriter
from proctor.store import open_store

from .test_batch import _end, _start

SIGNER = SigningKey.generate()
KEYS = RecordingKeys(SIGNER, PublicKeys([SIGNER.public]), None)
CHUNK = b"D" * 65_536


def test_output_counts_until_a_round_stores_it(tmp_path: Path) -> None:
    rec = SignedRecorder(LocalBlobStorage(tmp_path), KEYS, flush_interval=3600, max_backlog=200_000)
    handle = rec.open(_start("a"))
    handle.output(CHUNK)
    handle.output(CHUNK)
    assert rec.backlog_bytes == 2 * len(CHUNK) and not handle.backlogged
    handle.output(CHUNK)
    handle.output(CHUNK)
    assert handle.backlogged  # 256 KiB > 200 000
    rec._round(final=False)  # what the thread does every flush_interval
    assert rec.backlog_bytes == 0 and not handle.backlogged
    handle.end(_end("a"))
    rec.close()


def test_output_that_could_not_be_stored_still_counts(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path)
    rec = SignedRecorder(storage, KEYS, flush_interval=3600, max_backlog=100_000)
    handle = rec.open(_start("b"))
    for _ in range(4):
        handle.output(CHUNK)
    handle.end(_end("b"))
    broken = storage.put

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    storage.put = refuse  # type: ignore[method-assign]
    rec._round(final=False)
    assert rec.backlog_bytes >= 4 * len(CHUNK)  # kept to be stored later: still in memory
    assert handle.backlogged
    storage.put = broken  # type: ignore[method-assign]
    rec._round(final=False)
    assert rec.backlog_bytes == 0
    rec.close()


def test_the_store_index_never_holds_output_back(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    signed = SignedRecorder(LocalBlobStorage(tmp_path / "rec"), KEYS, flush_interval=3600)
    signed.max_backlog = 1
    tee = TeeRecorders(BatchingStoreWriter(store), signed)
    handle = tee.open(_start("c"))
    assert not handle.backlogged
    handle.output(b"xy")
    assert handle.backlogged  # the signed recording's backlog is the tee's
    tee.close()


def _failing_storage(tmp_path: Path) -> LocalBlobStorage:
    storage = LocalBlobStorage(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    storage.put = refuse  # type: ignore[method-assign]
    return storage


def test_failing_storage_keeps_segments_when_failing_closed(tmp_path: Path) -> None:
    rec = SignedRecorder(_failing_storage(tmp_path), KEYS, flush_interval=3600, max_backlog=1)
    handle = rec.open(_start("d"))
    handle.output(CHUNK)
    handle.end(_end("d"))
    rec._round(final=False)
    # Nothing is given up: commands are refused (not healthy) and the backlog stays full.
    assert not rec.healthy and handle.backlogged and rec.dropped == 0
    rec._stopping.set()


def test_failing_storage_drops_segments_past_the_bound_when_continuing(tmp_path: Path) -> None:
    rec = SignedRecorder(
        _failing_storage(tmp_path), KEYS, flush_interval=3600, max_backlog=1, fail_closed=False
    )
    handle = rec.open(_start("e"))
    handle.output(CHUNK)
    handle.end(_end("e"))
    rec._round(final=False)
    # on_failure: continue — sessions go on; what storage would not take is a counted hole.
    assert rec.healthy and not handle.backlogged and rec.dropped >= 1
    rec._stopping.set()


def test_the_first_round_signs_a_head_however_long_the_machine_has_been_up(
    tmp_path: Path,
) -> None:
    """The recorder signs a head at most once per ``head_interval``, counted on the monotonic
    clock, which starts at boot: the first round must sign even when the machine has been up
    for less than the interval (here: an interval longer than any uptime)."""
    storage = LocalBlobStorage(tmp_path)
    rec = SignedRecorder(storage, KEYS, flush_interval=3600, head_interval=1e9)
    rec._round(final=False)
    assert [layout.head_size(k) for k in storage.list(layout.HEADS)] == [0]
    rec.close()
