"""The backend scanner's innermost loops, and the walk over a DataRow's cells that result
masking does for every row a hit falls in, written to be compiled (mypyc; see
``scripts/build-accel.py`` and ``accel.py``).

A large result is hundreds of thousands of messages; walking their headers in interpreted
Python costs ~0.4 µs each, which alone caps a 50 MB result well below the speed of a direct
connection. Compiled, the same loops cost a few tens of nanoseconds per message.

The message walks cover only *complete, well-formed* messages and stop at anything else (a
partial header or body, a declared length under 4, a message of another kind), returning
where they stopped; the cell walk returns None for a malformed row. The caller's ordinary
code then handles that input exactly as it would have without them, so they can only ever
skip work, never change a decision.

The module imports nothing, so that it compiles on its own terms (plain ints and bytes).
Interpreted, these loops are slower than the ``struct``-based ones in ``framing.py``, which
is why the framing uses them only when compiled (``accel.py``).
"""


def run_ends(data: bytes, pos: int, mtype: int, ends: list[int]) -> int:
    """Appends to ``ends`` the end offset of each complete message of type ``mtype`` that
    follows back to back from ``pos``; returns the offset after the last one."""
    end = len(data)
    while end - pos >= 5:
        if data[pos] != mtype:
            break
        length = (
            (data[pos + 1] << 24) | (data[pos + 2] << 16) | (data[pos + 3] << 8) | data[pos + 4]
        )
        stop = pos + 1 + length
        if length < 4 or stop > end:
            break
        ends.append(stop)
        pos = stop
    return pos


def skip_plain(data: bytes, pos: int, interesting: bytes) -> int:
    """Walks the complete messages from ``pos`` whose type byte ``t`` has
    ``interesting[t] == 0`` (a 256-byte table); returns the offset of the first message
    that is interesting, partial or malformed (or ``len(data)``)."""
    end = len(data)
    while end - pos >= 5:
        if interesting[data[pos]]:
            break
        length = (
            (data[pos + 1] << 24) | (data[pos + 2] << 16) | (data[pos + 3] << 8) | data[pos + 4]
        )
        stop = pos + 1 + length
        if length < 4 or stop > end:
            break
        pos = stop
    return pos


def row_cells(data: bytes, pos: int, end: int) -> list[tuple[int, int]] | None:
    """(offset, length) of each cell of the DataRow body ``data[pos:end]`` (length -1:
    NULL), or None if the body is not exactly its cells (the caller's own decoder then says
    what is wrong)."""
    if end - pos < 2:
        return None
    count = (data[pos] << 8) | data[pos + 1]
    if count >= 0x8000:
        count -= 0x10000
    pos += 2
    cells: list[tuple[int, int]] = []
    for _ in range(count):
        if end - pos < 4:
            return None
        length = (data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3]
        if length >= 0x80000000:
            length -= 0x100000000
        pos += 4
        cells.append((pos, length))
        if length > 0:
            pos += length
        elif length < -1:
            return None
    if pos != end:
        return None
    return cells
