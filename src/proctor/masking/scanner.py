"""The scanner: all detectors of a profile over a text, over a buffer of many cells.

Two backends with identical results (tests compare them):

- ``hyperscan`` (the ``hyperscan`` package, Vectorscan-compatible): one database holds every
  detector's trigger. One pass over the text reports which detectors can match and where
  (end offsets); Python then runs a detector's pattern only in the window
  ``[hit - max_len, hit + max_len + LOOKAHEAD]`` around each hit, and skips ahead past every
  match, which reproduces exactly what ``pattern.finditer(text)`` would return (argued in
  `_windowed`). A cell or a log line without a hit costs one C call.
- ``re``: the reference. Each active detector's ``finditer`` over the text. Used when
  Hyperscan is not installed (or ``backend="re"``).

For buffers (`Prefilter`), a union of triggers over the raw bytes of many cells tells which
rows may hold a match; the others are forwarded untouched.
"""

from __future__ import annotations

import bisect
import importlib
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from proctor.masking.detectors import LOOKAHEAD, Detector

_hs: Any
try:  # the fast path is optional: everything works (slower) without it
    # Imported as a plain module object: the package's own stub does not type-check cleanly.
    _hs = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover - exercised by the re-backend tests instead
    _hs = None

HAVE_HYPERSCAN = _hs is not None

Active = Sequence[bool]


class Candidate(NamedTuple):
    start: int
    end: int
    priority: int
    entity: str
    detector: int  # index into Scanner.detectors


def resolve_backend(backend: str) -> str:
    if backend == "auto":
        return "hyperscan" if HAVE_HYPERSCAN else "re"
    if backend == "hyperscan" and not HAVE_HYPERSCAN:
        raise RuntimeError("masking backend 'hyperscan' requested but not installed")
    if backend not in ("hyperscan", "re"):
        raise ValueError(f"unknown masking backend {backend!r}")
    return backend


def _compile_db(triggers: Sequence[tuple[int, str, bool]]) -> Any:
    assert _hs is not None
    db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
    db.compile(
        expressions=[t.encode("ascii") for _, t, _ in triggers],
        ids=[i for i, _, _ in triggers],
        flags=[_hs.HS_FLAG_CASELESS if c else 0 for _, _, c in triggers],
    )
    return db


_DB_CACHE: dict[tuple[tuple[int, str, bool], ...], Any] = {}


def _db_for(triggers: tuple[tuple[int, str, bool], ...]) -> Any:
    """Compiled databases shared by maskers with the same triggers (patterns, not data)."""
    db = _DB_CACHE.get(triggers)
    if db is None:
        if len(_DB_CACHE) > 32:
            _DB_CACHE.clear()
        db = _DB_CACHE[triggers] = _compile_db(triggers)
    return db


def hyperscan_accepts(trigger: str, caseless: bool) -> bool:
    """Whether Hyperscan compiles this (custom) trigger."""
    if _hs is None:
        return False
    try:
        _compile_db(((0, trigger, caseless),))
    except (_hs.error, UnicodeEncodeError):
        return False
    return True


class Scanner:
    """Finds candidates of a fixed list of detectors. Stateless after construction."""

    def __init__(self, detectors: Sequence[Detector], backend: str = "auto") -> None:
        self.detectors: tuple[Detector, ...] = tuple(detectors)
        self.backend = resolve_backend(backend)
        # Gated: have a trigger and are always active where enabled; the rest run ungated.
        gated = tuple(
            (i, d.trigger, d.trigger_caseless)
            for i, d in enumerate(self.detectors)
            if d.trigger is not None and d.needs is None
        )
        self.gated = frozenset(i for i, _, _ in gated)
        self._ungated = tuple(i for i in range(len(self.detectors)) if i not in self.gated)
        self._db: Any = _db_for(gated) if self.backend == "hyperscan" and gated else None
        self._gated_triggers = gated
        self._gated_ids = tuple(sorted(self.gated))
        # The re backend's gate: no trigger anywhere in the text means no gated detector
        # can match (an alternation finds a match wherever any branch would).
        self._gate: re.Pattern[str] | None = (
            re.compile("|".join(f"(?i:{t})" if c else f"(?:{t})" for _, t, c in gated), re.ASCII)
            if gated
            else None
        )

    # -- raw matches ------------------------------------------------------------------------------

    def raw(self, text: str, active: Active, pos: int = 0) -> list[tuple[int, re.Match[str]]]:
        """Every active detector's ``finditer(text, pos)`` matches (unchecked)."""
        out: list[tuple[int, re.Match[str]]] = []
        dets = self.detectors
        if self._db is None:
            gate = self._gate
            if gate is None or gate.search(text, pos) is not None:
                for i in self._gated_ids:
                    if active[i]:
                        out.extend((i, m) for m in dets[i].pattern.finditer(text, pos))
            for i in self._ungated:
                if active[i]:
                    out.extend((i, m) for m in dets[i].pattern.finditer(text, pos))
            return out
        hits: list[int] = []  # id, end, id, end, ...
        append = hits.append

        def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            append(i)
            append(to)

        self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=on_match)
        if hits:
            by_id: dict[int, list[int]] = {}
            for k in range(0, len(hits), 2):
                i = hits[k]
                if active[i]:
                    ends = by_id.get(i)
                    if ends is None:
                        by_id[i] = [hits[k + 1]]
                    else:
                        ends.append(hits[k + 1])
            # Byte offsets are character offsets only for ASCII text; otherwise the hit
            # just says "this detector may match somewhere" and its pattern runs in full.
            ascii_text = text.isascii()
            for i, ends in by_id.items():
                d = dets[i]
                if ascii_text and d.windowed:
                    _windowed(d, i, text, ends, pos, out)
                else:
                    out.extend((i, m) for m in d.pattern.finditer(text, pos))
        for i in self._ungated:
            if active[i]:
                out.extend((i, m) for m in dets[i].pattern.finditer(text, pos))
        return out

    # -- checked candidates -----------------------------------------------------------------------

    def check(self, raws: Sequence[tuple[int, re.Match[str]]]) -> list[Candidate]:
        dets = self.detectors
        out: list[Candidate] = []
        for i, m in raws:
            d = dets[i]
            span = d.span(m)
            if d.check is not None:
                checked = d.check(m, span)
                if checked is None:
                    continue
                span = checked
            if span[1] > span[0]:
                out.append(Candidate(span[0], span[1], d.priority, d.entity, i))
        return out

    def find(self, text: str, active: Active, pos: int = 0) -> list[Candidate]:
        """Checked, non-overlapping candidates, in text order.

        The same result as ``resolve(self.check(raws))``, cheaper: levels are checked from
        the highest priority down, and a raw match lying inside a candidate already chosen is
        not checked at all (resolve would drop it, as a check only ever shrinks a span). A
        card number is thus not also run through the phone-number library.
        """
        raws = self.raw(text, active, pos)
        if len(raws) <= 1:
            return self.check(raws) if raws else []
        dets = self.detectors
        levels: dict[int, list[tuple[int, re.Match[str]]]] = {}
        for raw in raws:
            levels.setdefault(dets[raw[0]].priority, []).append(raw)
        if len(levels) == 1:
            return resolve(self.check(raws))
        chosen: list[Candidate] = []
        starts: list[int] = []
        for priority in sorted(levels, reverse=True):
            level = levels[priority]
            if chosen:
                level = [r for r in level if not _inside(dets[r[0]].span(r[1]), starts, chosen)]
            cands = self.check(level)
            cands.sort(key=lambda c: (c.start - c.end, c.start))
            for c in cands:
                k = bisect.bisect_left(starts, c.start)
                if k > 0 and chosen[k - 1].end > c.start:
                    continue
                if k < len(chosen) and chosen[k].start < c.end:
                    continue
                starts.insert(k, c.start)
                chosen.insert(k, c)
        return chosen


def _windowed(
    d: Detector, i: int, text: str, ends: list[int], pos: int, out: list[tuple[int, re.Match[str]]]
) -> None:
    """Exactly ``d.pattern.finditer(text, pos)``, running the pattern only near trigger hits.

    Why it is exact. Let ``cur`` be where finditer would try next. Every match contains a
    trigger match, so a match starting at ``s >= cur`` contains a trigger end ``t`` with
    ``s < t <= s + max_len``. Take the first hit ``e > cur``: any match starting in
    ``[cur, e - lead)`` would contain a trigger end below ``e``, which does not exist; so
    finditer's next match is the leftmost match at or after ``q = max(cur, e - lead)``
    (``lead`` tightens ``max_len`` here: every match has a trigger end within ``lead`` of its
    start). A match (or failed attempt) at ``s < e`` reads at most ``max_len + LOOKAHEAD``
    characters, all inside the ``endpos`` given, so the truncated search agrees with the full
    one there. If nothing starts before ``e``, no match starts in ``[cur, e)`` and
    finditer's next try position may move to ``e``.
    """
    if len(ends) > 1 and any(ends[k] > ends[k + 1] for k in range(len(ends) - 1)):
        ends = sorted(ends)
    cur = pos
    ml = d.max_len
    lead = d.lead or ml
    search = d.pattern.search
    for e in ends:
        if e <= cur:
            continue
        q = e - lead
        if q < cur:
            q = cur
        m = search(text, q, e + ml + LOOKAHEAD)
        if m is None or m.start() >= e:
            cur = e
            continue
        out.append((i, m))
        end = m.end()
        cur = end if end > m.start() else end + 1


def _inside(span: tuple[int, int], starts: list[int], chosen: list[Candidate]) -> bool:
    """Whether ``span`` lies within one of the (sorted, disjoint) chosen candidates."""
    k = bisect.bisect_right(starts, span[0])
    return k > 0 and chosen[k - 1].end >= span[1]


def resolve(cands: list[Candidate]) -> list[Candidate]:
    """Non-overlapping candidates: higher priority first, then longer, then earlier."""
    if len(cands) <= 1:
        return cands
    cands.sort(key=lambda c: (-c.priority, c.start - c.end, c.start))
    starts: list[int] = []
    chosen: list[Candidate] = []
    for c in cands:
        k = bisect.bisect_left(starts, c.start)
        if k > 0 and chosen[k - 1].end > c.start:
            continue
        if k < len(chosen) and chosen[k].start < c.end:
            continue
        starts.insert(k, c.start)
        chosen.insert(k, c)
    return chosen


class Prefilter:
    """Which rows of a buffer may hold a match (see `ColumnPlan.candidate_rows`).

    Built from the gated detectors active in some scanned column. ``exact`` is False when
    an active detector has no trigger (then every row is a candidate).
    """

    def __init__(self, scanner: Scanner, active: Active) -> None:
        use = [i for i in range(len(scanner.detectors)) if active[i]]
        self.exact = all(i in scanner.gated for i in use)
        self.empty = not use
        self._active = tuple(bool(a) for a in active)
        self._db = scanner._db  # same database; hits of inactive detectors are ignored
        triggers = [
            (t if not c else f"(?i:{t})")
            for i, t, c in scanner._gated_triggers
            if active[i]
        ]  # fmt: skip
        self._rx: re.Pattern[bytes] | None = (
            re.compile("|".join(triggers).encode("ascii")) if triggers else None
        )

    def rows(self, buf: bytes | bytearray | memoryview, row_ends: Sequence[int]) -> list[int]:
        if self.empty or not row_ends:
            return []
        if not self.exact:
            return list(range(len(row_ends)))
        if self._db is not None:
            return self._rows_hs(buf, row_ends)
        return self._rows_re(bytes(buf) if isinstance(buf, memoryview) else buf, row_ends)

    def _rows_hs(self, buf: bytes | bytearray | memoryview, row_ends: Sequence[int]) -> list[int]:
        rows: list[int] = []
        active = self._active
        nrows = len(row_ends)
        lo, hi = 0, -1  # the last row recorded: more hits inside it add nothing

        def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            nonlocal lo, hi
            if lo < to <= hi or not active[i]:
                return
            r = bisect.bisect_right(row_ends, to - 1)
            if r < nrows:
                rows.append(r)
                lo, hi = (row_ends[r - 1] if r else 0), row_ends[r]

        self._db.scan(buf, match_event_handler=on_match)
        if any(rows[k] >= rows[k + 1] for k in range(len(rows) - 1)):
            rows = sorted(set(rows))
        return rows

    def _rows_re(self, buf: bytes | bytearray, row_ends: Sequence[int]) -> list[int]:
        rx = self._rx
        if rx is None:
            return []
        rows: list[int] = []
        pos = 0
        nrows = len(row_ends)
        while True:
            m = rx.search(buf, pos)
            if m is None:
                return rows
            # The row where the leftmost hit starts: a hit inside a cell of row k is found
            # there or after an earlier (false) hit, never skipped.
            r = bisect.bisect_right(row_ends, m.start())
            if r >= nrows:
                return rows
            rows.append(r)
            pos = row_ends[r]
