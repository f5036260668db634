"""Streaming: mask text that arrives in chunks (terminal output, logs), with the same result
as masking the whole text at once.

Theory of operation. A match can straddle chunks, so the last ``window`` characters are held
back: ``window`` = the longest match any active detector can make (8 KiB and a bit, for PEM
private keys and JWTs; see `Detector.max_len`) plus what patterns and checks read past a
match. Output is cut at a *sync point* ``p`` at least ``window`` before the end of what has
arrived, where no raw match (of any detector, before checks) covers ``p``: everything before
``p`` is then final, because every match there, and the text its checks read, has arrived,
and restarting every detector at ``p`` finds what one pass over the whole text would
(`scanner._windowed` has the same argument). ``left_context`` characters before ``p`` are
kept for lookbehinds and context words (``SSN:``, ``aws_secret``).

Scanning is amortised: nothing is emitted until ``2 * window`` characters are pending, so
each character is scanned about twice. Memory is bounded by ``max_pending``: past it, output
is cut at the window boundary even inside a match (the partial match is masked as if the
text ended there), so the result can then differ from one-shot masking; realistic text never
gets there (it needs ``max_pending`` characters of back-to-back overlapping candidates).

``flush()`` emits everything (call it on idle and at the end). It acts as an end of text:
a value split across a flush is masked as two texts. Callers flush on idle, when no more
bytes are coming soon, so a split there is unlikely; the output stays correct either way
in that nothing is ever emitted *before* its chunk was scanned.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from proctor.masking.detectors import CONTEXT_LEFT, CONTEXT_RIGHT, LOOKAHEAD
from proctor.masking.scanner import resolve

if TYPE_CHECKING:
    from proctor.masking.engine import Masker, MaskingStats

LEFT_CONTEXT = CONTEXT_LEFT + 136  # checks' left reach plus the longest lookbehind, rounded
DEFAULT_MAX_PENDING = 1 << 20


class StreamMasker:
    """``feed(str) -> str`` and ``flush() -> str``; see the module docstring."""

    def __init__(
        self,
        masker: Masker,
        hints: Sequence[str] = (),
        *,
        stats: MaskingStats | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._masker = masker
        self._active = masker.active(masker.context(hints))
        self._stats = stats
        dets = masker.scanner.detectors
        longest = max((d.max_len for d, a in zip(dets, self._active, strict=True) if a), default=0)
        self.window = longest + LOOKAHEAD + CONTEXT_RIGHT
        self.max_pending = max(max_pending, 4 * self.window)
        self._buf = ""
        self._start = 0  # buf[:start] is emitted left context; buf[start:] is pending

    @property
    def pending(self) -> int:
        """Characters received but not yet emitted."""
        return len(self._buf) - self._start

    def feed(self, text: str) -> str:
        if not text:
            return ""
        self._buf += text
        if self.pending < 2 * self.window:
            return ""
        limit = len(self._buf) - self.window
        raws = self._masker.scanner.raw(self._buf, self._active, self._start)
        p = _sync_point(raws, self._start, limit)
        if p <= self._start:
            if self.pending <= self.max_pending:
                return ""
            p = limit  # bounded memory wins over one-shot equality (see module docstring)
        return self._emit(raws, p)

    def flush(self) -> str:
        if not self.pending:
            return ""
        raws = self._masker.scanner.raw(self._buf, self._active, self._start)
        return self._emit(raws, len(self._buf))

    def _emit(self, raws: Sequence[tuple[int, re.Match[str]]], p: int) -> str:
        scanner = self._masker.scanner
        final = [(i, m) for i, m in raws if m.start() < p]
        cands = resolve([c for c in scanner.check(final) if c.end <= p])
        out = self._masker.render(
            self._buf, cands, self._stats, "stream", allow_null=False, start=self._start, end=p
        )
        assert out is not None
        keep_from = max(0, p - LEFT_CONTEXT)
        self._buf = self._buf[keep_from:]
        self._start = p - keep_from
        return out


def _sync_point(raws: Sequence[tuple[int, re.Match[str]]], start: int, limit: int) -> int:
    """The largest ``p`` in ``[start, limit]`` strictly inside no raw match (a match may end
    or begin at ``p``), or ``start`` if there is none."""
    spans = sorted((m.start(), m.end()) for _, m in raws if m.start() < limit)
    # Merge strictly overlapping spans: a point strictly inside a merged segment is strictly
    # inside one of its spans, and a segment's start is inside none.
    seg_start, seg_end = -1, -1
    for s, e in spans:
        if s < seg_end:
            seg_end = max(seg_end, e)
            continue
        if seg_start < limit < seg_end:
            return max(seg_start, start)
        seg_start, seg_end = s, e
    if seg_start < limit < seg_end:
        return max(seg_start, start)
    return limit


class ByteStreamMasker:
    """`StreamMasker` over bytes (UTF-8; invalid bytes pass through unchanged)."""

    def __init__(
        self,
        masker: Masker,
        hints: Sequence[str] = (),
        *,
        stats: MaskingStats | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._text = StreamMasker(masker, hints, stats=stats, max_pending=max_pending)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")

    @property
    def pending(self) -> int:
        return self._text.pending

    def feed(self, data: bytes) -> bytes:
        out = self._text.feed(self._decoder.decode(data))
        return out.encode("utf-8", "surrogateescape")

    def flush(self) -> bytes:
        tail = self._decoder.decode(b"", final=True)
        out = self._text.feed(tail) + self._text.flush()
        return out.encode("utf-8", "surrogateescape")
