"""The card detector's C fast path (``_cardmask.c``), when it is built: loading it, and
deciding where it stands for the Python path.

A masked card cell costs ~10 µs in Python (windowed search, check, render, count) and
~0.2 µs in C. The kernel does exactly what the Python path does for an ASCII cell hit by the
built-in card detector's trigger, and otherwise only by detectors the Python path skips once
the card is found (see ``_cardmask.c``) — so it is used only where those are the semantics:
that detector (not a custom one of the same name) in the scanner, a partial or redact
strategy for cards (ASCII label), a scan column without a detector that runs without a
trigger, and a client encoding in which an ASCII byte is always that character. Setup only;
without the build (no C compiler, ``PROCTOR_PURE_PYTHON``, an edited ``.c``), `NATIVE` is
None and every cell takes the Python path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proctor import hotpath
from proctor.codecs.pgwire.encodings import ASCII_TRANSPARENT
from proctor.masking.detectors import BY_NAME, Detector
from proctor.masking.strategies import Kind, Strategy

SOURCE = "proctor/masking/_cardmask.c"

NATIVE: Any = hotpath.load_native(SOURCE)


@dataclass(frozen=True, slots=True)
class CardKernel:
    """How to call ``mask_cell`` for one masker: its card detector's index, and the
    strategy as the kernel takes it (``keep`` digits, or a ``label`` replacing the card)."""

    detector: int
    keep: int
    label: bytes | None
    # By detector: whether its hits change nothing when they end inside a masked card (it
    # ranks below cards and its candidate is always its match, so the Python path skips it).
    coverable: bytes
    mask_cell: Any
    mask_run: Any


def kernel_for(
    detectors: tuple[Detector, ...], strategy: Strategy, label: str
) -> CardKernel | None:
    """The kernel standing for these detectors' card detector under ``strategy`` (``label``:
    the card label a redaction writes), or None where it cannot."""
    if NATIVE is None:
        return None
    builtin = BY_NAME["card"]
    index = next((i for i, d in enumerate(detectors) if d is builtin), None)
    if index is None:
        return None
    coverable = bytes(
        d.windowed and d.keeps_span and d.priority < builtin.priority for d in detectors
    )
    if strategy.kind is Kind.PARTIAL:
        return CardKernel(index, strategy.keep, None, coverable, NATIVE.mask_cell, NATIVE.mask_run)
    if strategy.kind is Kind.REDACT and label.isascii():
        return CardKernel(
            index, 0, label.encode("ascii"), coverable, NATIVE.mask_cell, NATIVE.mask_run
        )
    return None


def ascii_transparent(codec: str) -> bool:
    """Whether an ASCII byte in ``codec`` text is always that character (not the second
    byte of a multibyte one, as in Shift-JIS or Big5): the kernel reads bytes."""
    return codec in ASCII_TRANSPARENT
