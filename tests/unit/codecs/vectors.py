"""Loading the wire fixtures under tests/vectors/pgwire and chunking them."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "pgwire"


def load(name: str) -> bytes:
    text = (VECTORS / f"{name}.hex").read_text()
    return bytes.fromhex("".join(line for line in text.splitlines() if not line.startswith("#")))


def message_boundaries(data: bytes) -> list[int]:
    """Offsets where each typed message starts, plus the end."""
    out, pos = [], 0
    while pos < len(data):
        out.append(pos)
        (length,) = struct.unpack_from("!I", data, pos + 1)
        pos += 1 + length
    out.append(pos)
    return out


def split_points(data: bytes) -> Iterator[int]:
    """Every offset for small fixtures; for large ones, every offset near a message edge
    (where framing bugs live) plus a stride through the bodies."""
    if len(data) <= 4096:
        yield from range(len(data) + 1)
        return
    points: set[int] = set(range(0, len(data) + 1, 997))
    for b in message_boundaries(data):
        points.update(range(max(0, b - 8), min(len(data), b + 9) + 1))
    yield from sorted(points)


def chunks_at(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]
