# The C extension built from _hsnative.c (scripts/build-accel.py), when libhs is installed.
from collections.abc import Sequence

CASELESS: int
HS_VERSION: str

class Database:
    def __init__(
        self, expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int]
    ) -> None: ...
    def hits(
        self, data: bytes | bytearray | memoryview, active: bytes | None = None
    ) -> list[tuple[int, int]]: ...
