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
rows may hold a match; the others are forwarded untouched. With Hyperscan the buffer's hits
themselves (`Prefilter.hits`) can stand for the scan of each cell they fall in (``hits`` of
`Scanner.find`), so a cell is scanned once, with its row.
"""

from __future__ import annotations

import bisect
import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

from proctor.masking import native_hits
from proctor.masking.detectors import LOOKAHEAD, Detector

_hs: Any
try:  # the fast path is optional: everything works (slower) without it
    # Imported as a plain module object: the package's own stub does not type-check cleanly.
    _hs = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover - exercised by the re-backend tests instead
    _hs = None

HAVE_HYPERSCAN = _hs is not None


Active = Sequence[bool]
# Trigger hits in one text: end offsets (ascending) by detector index.
Hits = dict[int, list[int]]
# A detector to run: its index, and the trigger ends to run it around (None: everywhere).
_Work = tuple[int, list[int] | None]
# `Scanner.hits_finder`'s remembered branches of `find`: run by priority levels (no level:
# nothing to run), or as `_find_works` does. (mode, levels or the works as one level), a
# work being (detector, windowed, keeps_span).
_LEVELS, _OTHER = range(2)
_Program = tuple[int, tuple[tuple[tuple[int, bool, bool], ...], ...]]


class Candidate(NamedTuple):
    start: int
    end: int
    priority: int
    entity: str
    detector: int  # index into Scanner.detectors


_new_tuple = tuple.__new__


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
    """Finds candidates of a fixed list of detectors. Stateless after construction (but for
    a cache of which ungated detectors an active list enables)."""

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
        self._native: Any = native_hits.database_for(gated) if self._db is not None else None
        self._gated_triggers = gated
        self._gated_ids = tuple(sorted(self.gated))
        self._ungated_cache: dict[int, tuple[Active, tuple[int, ...]]] = {}
        # What `_choose`/`check` and the windowed search read per match, by detector: a
        # tuple lookup instead of attribute reads on the hot path.
        self._windows = tuple(
            (d.pattern.search, d.max_len + LOOKAHEAD, d.lead or d.max_len) for d in self.detectors
        )
        # The re backend's gate: no trigger anywhere in the text means no gated detector
        # can match (an alternation finds a match wherever any branch would).
        self._gate: re.Pattern[str] | None = (
            re.compile("|".join(f"(?i:{t})" if c else f"(?:{t})" for _, t, c in gated), re.ASCII)
            if gated
            else None
        )

    # -- raw matches ------------------------------------------------------------------------------

    def raw(
        self, text: str, active: Active, pos: int = 0, hits: Hits | None = None
    ) -> list[tuple[int, re.Match[str]]]:
        """Every active detector's ``finditer(text, pos)`` matches (unchecked).

        ``hits``: trigger end offsets by detector, found by a scan of a larger buffer that
        held ``text``'s bytes (see `Prefilter.hits`). They replace the scan of ``text`` when
        the text is ASCII (so byte offsets are character offsets). They must include every
        end offset a scan of ``text`` alone would report; extra ones cost a search each and
        change nothing (see `_windowed`).
        """
        out: list[tuple[int, re.Match[str]]] = []
        works = self._work(text, active, pos, hits)
        if works:
            for work in works:
                self._matches(work, text, pos, out)
        return out

    def _work(self, text: str, active: Active, pos: int, hits: Hits | None) -> list[_Work]:
        """The detectors to run over ``text``, in order: (index, trigger ends to run the
        pattern around, or None to run it over the whole text)."""
        work: list[_Work] = []
        if self._db is None:
            gate = self._gate
            if gate is None or gate.search(text, pos) is not None:
                work.extend((i, None) for i in self._gated_ids if active[i])
            work.extend((i, None) for i in self._ungated if active[i])
            return work
        dets = self.detectors
        if hits is not None and text.isascii():
            work = [
                (i, ends if dets[i].windowed else None)
                for i, ends in (sorted(hits.items()) if len(hits) > 1 else hits.items())
                if active[i]
            ]
            ungated = self.ungated_in(active)
            if ungated:
                work.extend((i, None) for i in ungated)
            return work
        by_id: dict[int, list[int]] = {}
        found: list[int] = []  # id, end, id, end, ...
        append = found.append

        def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            append(i)
            append(to)

        self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=on_match)
        if not found:  # the common case: nothing in the text looks like anything
            ungated = self.ungated_in(active)
            return [(i, None) for i in ungated] if ungated else work
        for k in range(0, len(found), 2):
            i = found[k]
            if active[i]:
                seen = by_id.get(i)
                if seen is None:
                    by_id[i] = [found[k + 1]]
                else:
                    seen.append(found[k + 1])
        # Detector order, not hit order: the same list whoever found the hits (and the
        # order the re backend has).
        ascii_text = text.isascii()
        for i in sorted(by_id) if len(by_id) > 1 else by_id:
            # Byte offsets are character offsets only for ASCII text; otherwise the hit
            # just says "this detector may match somewhere" and its pattern runs in full.
            work.append((i, by_id[i] if ascii_text and dets[i].windowed else None))
        ungated = self.ungated_in(active)
        if ungated:
            work.extend((i, None) for i in ungated)
        return work

    def ungated_in(self, active: Active) -> tuple[int, ...]:
        """The ungated detectors ``active`` enables (per active list, remembered: a plan
        passes the same one for every cell of a column)."""
        entry = self._ungated_cache.get(id(active))
        if entry is not None and entry[0] is active:
            return entry[1]
        ungated = tuple(i for i in self._ungated if active[i])
        if len(self._ungated_cache) >= 256:
            self._ungated_cache.clear()
        self._ungated_cache[id(active)] = (active, ungated)  # holds it: the id stays its own
        return ungated

    def _matches(
        self, work: _Work, text: str, pos: int, out: list[tuple[int, re.Match[str]]]
    ) -> None:
        i, ends = work
        if ends is not None:
            _windowed(self.detectors[i], i, text, ends, pos, out)
        else:
            out.extend((i, m) for m in self.detectors[i].pattern.finditer(text, pos))

    # -- checked candidates -----------------------------------------------------------------------

    def check(self, raws: Sequence[tuple[int, re.Match[str]]]) -> list[Candidate]:
        dets = self.detectors
        out: list[Candidate] = []
        for i, m in raws:
            d = dets[i]
            span = d.span(m) if d.groups else m.span()
            check = d.check
            if check is not None:
                checked = check(m, span)
                if checked is None:
                    continue
                span = checked
            if span[1] > span[0]:
                # tuple.__new__: what Candidate(...) does, without its Python-level __new__.
                out.append(_new_tuple(Candidate, (span[0], span[1], d.priority, d.entity, i)))
        return out

    def find(
        self, text: str, active: Active, pos: int = 0, hits: Hits | None = None
    ) -> list[Candidate]:
        """Checked, non-overlapping candidates, in text order.

        The same result as ``resolve(self.check(raws))``, cheaper: levels are checked from
        the highest priority down, and a raw match lying inside a candidate already chosen is
        not checked at all (resolve would drop it, as a check only ever shrinks a span). A
        card number is thus not also run through the phone-number library.
        """
        works = self._work(text, active, pos, hits)
        return self._find_works(works, text, pos) if works else []

    def _find_works(self, works: list[_Work], text: str, pos: int) -> list[Candidate]:
        dets = self.detectors
        if len(works) > 1:
            top = max(dets[i].priority for i, _ in works)
            for i, ends in works:
                d = dets[i]
                if ends is not None and d.keeps_span and d.priority < top:
                    return self._find_lazily(works, text, pos)
        raws: list[tuple[int, re.Match[str]]] = []
        for i, ends in works:
            if ends is not None:
                _windowed(dets[i], i, text, ends, pos, raws)
            else:
                raws.extend((i, m) for m in dets[i].pattern.finditer(text, pos))
        if len(raws) <= 1:
            return self.check(raws) if raws else []
        levels: dict[int, list[tuple[int, re.Match[str]]]] = {}
        for raw in raws:
            levels.setdefault(dets[raw[0]].priority, []).append(raw)
        if len(levels) == 1:
            return resolve(self.check(raws))
        chosen: list[Candidate] = []
        starts: list[int] = []
        for priority in sorted(levels, reverse=True):
            _choose(self, levels[priority], chosen, starts)
        return chosen

    def hits_finder(self, active: Active) -> Callable[[str, Hits], list[Candidate]]:
        """``find(text, active, 0, hits)`` for one active list (a scan column's), cheaper per
        call: what `find` derives from which detectors hit (their order, their priority
        levels, whether a lower level may be skipped) is derived once per set of hitting
        detectors and remembered (a column sees few such sets). ``hits``' lists must be
        ascending, as `Hits` are: the windowed search does not sort them again."""
        programs: dict[tuple[int, ...], _Program] = {}
        windows = self._windows
        dets = self.detectors
        find = self.find

        def find_hits(text: str, hits: Hits) -> list[Candidate]:
            if not text.isascii():  # byte offsets are not character offsets: no windows
                return find(text, active, 0, hits)
            key = tuple(hits)
            program = programs.get(key)
            if program is None:
                if len(programs) >= 64:
                    programs.clear()
                program = programs[key] = self._program(active, key)
            mode, levels = program
            if mode == _OTHER:
                works = [(i, hits[i] if windowed else None) for i, windowed, _ in levels[0]]
                return self._find_works(works, text, 0)
            chosen: list[Candidate] = []
            starts: list[int] = []
            for level in levels:  # as `_find_lazily` does, in the order it computes
                raws: list[tuple[int, re.Match[str]]] = []
                for i, windowed, keeps_span in level:
                    if windowed:
                        ends = hits[i]
                        if keeps_span and chosen and _covered(ends, 0, starts, chosen):
                            continue
                        search, reach, lead = windows[i]
                        _scan_windows(search, reach, lead, i, text, ends, 0, raws)
                    else:
                        raws.extend((i, m) for m in dets[i].pattern.finditer(text))
                if len(raws) == 1 and not chosen:
                    # `_choose` of one match: `check`, inline (this is most masked cells).
                    i, m = raws[0]
                    d = dets[i]
                    span = d.span(m) if d.groups else m.span()
                    check = d.check
                    if check is not None:
                        checked = check(m, span)
                        if checked is None:
                            continue
                        span = checked
                    if span[1] > span[0]:
                        starts.append(span[0])
                        chosen.append(
                            _new_tuple(Candidate, (span[0], span[1], d.priority, d.entity, i))
                        )
                elif raws:
                    _choose(self, raws, chosen, starts)
            return chosen

        return find_hits

    def _program(self, active: Active, key: tuple[int, ...]) -> _Program:
        """How `find` proceeds for ASCII text whose hits come from detectors ``key``: the
        works `_work` lists (hit detectors in index order, then the ungated ones), and the
        branch `_find_works` takes for them."""
        dets = self.detectors
        works = [(i, dets[i].windowed, dets[i].keeps_span) for i in sorted(key) if active[i]]
        works += [(i, False, dets[i].keeps_span) for i in self.ungated_in(active)]
        if not works:
            return _LEVELS, ()
        if len(works) == 1 and works[0][1]:
            # `_find_works` checks its matches and resolves them: as `_choose` does for
            # matches of one detector (one priority).
            return _LEVELS, ((works[0],),)
        top = max(dets[i].priority for i, _, _ in works)
        if len(works) > 1 and any(w and k and dets[i].priority < top for i, w, k in works):
            levels: list[list[tuple[int, bool, bool]]] = []
            last = None
            for work in sorted(works, key=lambda w: -dets[w[0]].priority):  # stable
                priority = dets[work[0]].priority
                if priority != last:
                    levels.append([])
                    last = priority
                levels[-1].append(work)
            return _LEVELS, tuple(tuple(level) for level in levels)
        return _OTHER, (tuple(works),)

    def _find_lazily(self, works: list[_Work], text: str, pos: int) -> list[Candidate]:
        """`find`'s levels, running a detector's pattern only when it can add something.

        A detector whose candidate is always its whole match (``keeps_span``) and whose
        trigger hits all end inside candidates chosen at higher levels adds nothing: every
        match holds a trigger match, so it overlaps the candidate that trigger ends in and
        would be dropped. A card number's digits are thus not searched for a phone number.
        """
        dets = self.detectors
        chosen: list[Candidate] = []
        starts: list[int] = []
        level: list[tuple[int, re.Match[str]]] = []
        if len(works) == 2:  # the usual case (a card number's digits hit the phone trigger)
            high, low = works
            if dets[high[0]].priority < dets[low[0]].priority:
                high, low = low, high
            self._matches(high, text, pos, level)
            if level:
                _choose(self, level, chosen, starts)
            i, ends = low
            if (
                chosen
                and ends is not None
                and dets[i].keeps_span
                and _covered(ends, pos, starts, chosen)
            ):
                return chosen
            level = []
            self._matches(low, text, pos, level)
            if level:
                _choose(self, level, chosen, starts)
            return chosen
        # Highest priority first; sorted() is stable, so works keep their order in a level.
        order = sorted(works, key=lambda w: -dets[w[0]].priority)
        k = 0
        while k < len(order):
            priority = dets[order[k][0]].priority
            level = []
            while k < len(order) and dets[order[k][0]].priority == priority:
                i, ends = order[k]
                k += 1
                if (
                    chosen
                    and ends is not None
                    and dets[i].keeps_span
                    and _covered(ends, pos, starts, chosen)
                ):
                    continue
                self._matches((i, ends), text, pos, level)
            if level:
                _choose(self, level, chosen, starts)
        return chosen


def _choose(
    scanner: Scanner,
    level: list[tuple[int, re.Match[str]]],
    chosen: list[Candidate],
    starts: list[int],
) -> None:
    """Add one priority level's candidates to ``chosen`` (sorted, disjoint; ``starts``
    their starts): longer first, then earlier; none overlapping one already chosen."""
    if chosen:
        dets = scanner.detectors
        level = [r for r in level if not _inside(dets[r[0]].span(r[1]), starts, chosen)]
    cands = scanner.check(level)
    if len(cands) > 1:
        cands.sort(key=lambda c: (c.start - c.end, c.start))
    elif cands and not chosen:  # the first candidate (the usual one): nothing to place it among
        c = cands[0]
        starts.append(c.start)
        chosen.append(c)
        return
    for c in cands:
        j = bisect.bisect_left(starts, c.start)
        if j > 0 and chosen[j - 1].end > c.start:
            continue
        if j < len(chosen) and chosen[j].start < c.end:
            continue
        starts.insert(j, c.start)
        chosen.insert(j, c)


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
    if len(ends) > 1:
        ends = sorted(ends)  # nearly always sorted already: one C pass
    _scan_windows(
        d.pattern.search, d.max_len + LOOKAHEAD, d.lead or d.max_len, i, text, ends, pos, out
    )


def _scan_windows(
    search: Callable[[str, int, int], re.Match[str] | None],
    reach: int,
    lead: int,
    i: int,
    text: str,
    ends: list[int],
    pos: int,
    out: list[tuple[int, re.Match[str]]],
) -> None:
    """`_windowed` given the detector's ``pattern.search``, ``max_len + LOOKAHEAD`` and
    lead, over ascending ``ends``."""
    cur = pos
    for e in ends:
        if e <= cur:
            continue
        q = e - lead
        if q < cur:
            q = cur
        m = search(text, q, e + reach)
        if m is None or m.start() >= e:
            cur = e
            continue
        out.append((i, m))
        end = m.end()
        cur = end if end > m.start() else end + 1


def _covered(ends: list[int], pos: int, starts: list[int], chosen: list[Candidate]) -> bool:
    """Whether every trigger end after ``pos`` falls in a chosen candidate: its match's last
    character (at ``end - 1``) lies in ``[c.start, c.end)``."""
    if len(chosen) == 1:  # the usual case: no search for the candidate
        first, last = chosen[0][0], chosen[0][1]
        for e in ends:  # noqa: SIM110 - all() over a generator costs more per call
            if e > pos and not first < e <= last:
                return False
        return True
    for e in ends:
        if e <= pos:
            continue
        k = bisect.bisect_left(starts, e) - 1
        if k < 0 or chosen[k].end < e:
            return False
    return True


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


# A buffer with more than one trigger hit per this many bytes has the next buffer of its
# prefilter scanned by the C collector (`native_hits`), if built: there a Python call per hit (the
# package's way) costs more than the scan, while on text with few hits the package's engine
# is the faster one (Debian's libhs 5.4.0 scans 64 KB of unmatched text in ~240 µs, the
# package's in ~150; they break even at ~220 bytes per hit). Both give the same hits.
NATIVE_FROM: Final = 160


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
        self._gated = scanner._gated_ids
        self._every = all(self._active[i] for i in self._gated)
        self._native = scanner._native  # None: the package scans every buffer
        self._dense = False  # whether the last buffer was dense in hits (`NATIVE_FROM`)
        self._native_active = bytes(self._active)
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

    def hits(self, buf: bytes | bytearray | memoryview) -> list[tuple[int, int]] | None:
        """(end offset, detector) of every trigger hit of an active detector in ``buf``,
        ascending; None when hits cannot stand for a scan (no Hyperscan, or an active
        detector has no trigger): then use `rows`.

        A trigger match inside a cell's bytes is reported here with the same end, as
        triggers have no anchors or word boundaries (Hyperscan reports every end offset of
        every pattern). So for an ASCII cell ``[a, b)`` of ``buf``, the hits ending in
        ``(a, b]`` (minus ``a``) include every hit a scan of the cell alone reports: they can
        stand for that scan (`Scanner.raw`'s ``hits``). One C call for the buffer, one
        Python call per hit.
        """
        if self.empty:
            return []
        if not self.exact or self._db is None:
            return None
        native = self._native
        if native is None:
            return self._package_hits(buf)
        if self._dense:
            out: list[tuple[int, int]] = native.hits(
                buf, None if self._every else self._native_active
            )
        else:
            out = self._package_hits(buf)
        self._dense = len(out) * NATIVE_FROM > len(buf)
        return out

    def _package_hits(self, buf: bytes | bytearray | memoryview) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        append = out.append
        active = self._active
        if self._every:

            def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
                append((to, i))
        else:

            def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
                if active[i]:
                    append((to, i))

        self._db.scan(buf, match_event_handler=on_match)
        out.sort()  # Hyperscan reports by end offset, nearly always in order: O(n) then
        return out

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
