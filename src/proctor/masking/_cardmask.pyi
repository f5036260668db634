# The C extension built from _cardmask.c (scripts/build-accel.py).
def mask_cell(
    data: bytes | bytearray | memoryview,
    off: int,
    length: int,
    keep: int,
    label: bytes | None,
    hits: dict[int, list[int]],
    card: int,
    coverable: bytes,
    /,
) -> tuple[int, bytes] | None: ...
def mask_run(
    data: bytes | bytearray | memoryview,
    start: int,
    ends: list[int],
    hits: list[tuple[int, int]],
    h: int,
    r: int,
    local: bytes,
    cards: bytes,
    card: int,
    coverable: bytes,
    keep: int,
    label: bytes | None,
    /,
) -> tuple[list[tuple[int, int, bytes]], list[int] | None, int, int, int]: ...
