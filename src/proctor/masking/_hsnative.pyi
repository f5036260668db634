# The C extension built from _hsnative.c (scripts/build-accel.py), when libhs is installed.
from collections.abc import Sequence

CASELESS: int
HS_VERSION: str
CARD_TRIGGER: str
IBAN_TRIGGER: str

class Database:
    def __init__(
        self,
        expressions: Sequence[bytes],
        ids: Sequence[int],
        flags: Sequence[int],
        card: int = -1,
        iban: int = -1,
    ) -> None: ...
    def hits(
        self, data: bytes | bytearray | memoryview, active: bytes | None = None
    ) -> list[tuple[int, int]]: ...
