"""Masking runs of DataRows: the cells a Hyperscan hit falls in, and the columns masked on
every row (`ResultMasking` in ``results.py`` tracks which result rows belong to).

Per run of DataRows, one Hyperscan pass over the run's bytes finds the trigger hits; only the
cells of scan columns a hit ends in are masked, given those hits (`ColumnPlan.mask_cell_hits`:
the cell is not scanned again), and columns masked whatever their content on every row. Only
changed cells are spliced: in place when the length is kept, else with the cell's and the
row's length fixed. A row that cannot be masked is not sent (`_RowFailed`, then the tracker's
fail-closed error).
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Sequence

from proctor.codecs.pgwire import FramedMessage, decode
from proctor.codecs.pgwire.decode import FieldDescription
from proctor.codecs.pgwire.values import BINARY_IS_TEXT, binary_to_text, text_to_binary
from proctor.masking import ColumnPlan, MaskingError
from proctor.masking.cardmask import ascii_transparent
from proctor.masking.errors import detached
from proctor.masking.scanner import Hits

Splice = tuple[int, int, bytes]
_I32 = struct.Struct("!i")
_NULL = b"\xff\xff\xff\xff"  # a cell's length field saying NULL


class _RowFailed(Exception):
    """Masking a row failed: it and the rest of its result are not sent."""

    def __init__(self, start: int, why: str) -> None:
        super().__init__(why)
        self.start = start
        self.why = why


class _Result:
    """One result shape (RowDescription + formats) and its column plan."""

    __slots__ = (
        "binary",
        "cards",
        "every",
        "formats",
        "local",
        "local_bytes",
        "plan",
        "scan",
        "type_oids",
    )

    def __init__(self, plan: ColumnPlan, fields: Sequence[FieldDescription], formats: list[int]):
        self.plan = plan
        self.formats = formats
        self.type_oids = [f.type_oid for f in fields]
        self.binary = any(formats)
        # The buffer scan sees a cell's text only where its bytes are that text: text format,
        # or a text type in binary. Other scan columns in binary format (an int8 can hold a
        # card number) are visited on every row, with the always-masked columns.
        blind = {
            c
            for c in plan.scan_columns
            if c < len(formats) and formats[c] and self.type_oids[c] not in BINARY_IS_TEXT
        }
        self.every = tuple(sorted(set(plan.always_columns) | blind))
        self.scan = tuple(c for c in plan.scan_columns if c not in blind)
        local = [False] * len(fields)
        for c in self.scan:
            local[c] = True
        self.local = local  # by column: visited where the buffer scan hits its cell
        self.local_bytes = bytes(local)
        # By column: the card kernel may mask its text cells (`ColumnPlan.card_cells`, in
        # text format); None when it may mask none.
        cards = plan.card_cells
        self.cards: bytes | None = None
        if cards is not None:
            usable = bytes(
                c < len(cards) and cards[c] and not (c < len(formats) and formats[c])
                for c in range(len(fields))
            )
            self.cards = usable if any(usable) else None


class RowMasking:
    """The DataRow half of `ResultMasking` (its base): the session's codec and time zone,
    which result the rows belong to and how to fail closed are the tracker's."""

    __slots__ = ()
    _codec: str
    _timezone: str

    def _rows_result(self) -> _Result | None:
        raise NotImplementedError

    def _fail(self, fm: FramedMessage, splices: list[Splice], why: str) -> None:
        raise NotImplementedError

    def _fail_at(self, start: int, end: int, splices: list[Splice], why: str) -> None:
        raise NotImplementedError

    def _rows(self, out: bytes, run: FramedMessage, splices: list[Splice]) -> None:
        """A run of DataRows. One Hyperscan pass over the run's bytes finds the trigger hits
        of the scan columns' detectors; only the rows holding one are read, only the cells
        holding one are masked (given their hits: the cell is not scanned again), and only
        changed cells are spliced (in place when the length is kept, as partial masking of
        an ASCII value does). Columns masked whatever their content are read on every row.
        """
        result = self._rows_result()
        if result is None:
            # Rows of a result we know nothing about: never send what we cannot check.
            self._fail(run, splices, "Proctor could not tell which columns these rows have")
            return
        plan = result.plan
        if not plan.active:
            return
        start = run.start
        every = result.every
        hits: list[tuple[int, int]] = []
        if result.scan:
            found = plan.scan_hits(memoryview(out)[start : run.end])
            if found is None:
                self._rows_by_candidates(out, run, result, splices)
                return
            hits = found
        if not every:
            if not hits:
                return
            if result.cards is not None and ascii_transparent(self._codec):
                self._card_run(out, run, result, hits, splices)
            else:
                self._hit_cells(out, run, result, hits, splices)
            return
        # Every row, with the hits in it (hits are in offset order, as rows are).
        ends = run.row_ends(out)
        h = 0
        nhits = len(hits)
        row_start = start
        try:
            for row_end in ends:
                first = h
                while h < nhits and start + hits[h][0] <= row_end:
                    h += 1
                row_hits = [(start + to, i) for to, i in hits[first:h]] if h > first else None
                self._mask_row(out, row_start, row_end, result, row_hits, False, splices)
                row_start = row_end
        except _RowFailed as failed:
            self._fail_at(failed.start, run.end, splices, failed.why)

    def _card_run(
        self,
        out: bytes,
        run: FramedMessage,
        result: _Result,
        hits: list[tuple[int, int]],
        splices: list[Splice],
    ) -> None:
        """`_hit_cells` with the card kernel: the C loop masks the rows whose hit cells are
        all its own (the card trigger's, and hits inside the cards it masks), and stops at a
        row that needs Python, which `_mask_row` masks; then the loop goes on after it."""
        ends = run.row_ends(out)
        start = run.start
        plan = result.plan
        kernel = plan.card_kernel
        assert kernel is not None and result.cards is not None
        mask_run = kernel.mask_run
        local = result.local_bytes
        cards = result.cards
        nhits = len(hits)
        h = r = 0
        try:
            while True:
                found, counts, h, row_hits_end, r = mask_run(
                    out, start, ends, hits, h, r, local, cards,
                    kernel.detector, kernel.coverable, kernel.keep, kernel.label,
                )  # fmt: skip
                if found:
                    splices.extend(found)
                if counts is not None:
                    plan.count_cards(counts)
                if h >= nhits:
                    return
                row_start = ends[r - 1] if r else start
                row_hits = [(start + to, i) for to, i in hits[h:row_hits_end]]
                self._mask_row(out, row_start, ends[r], result, row_hits, False, splices)
                h = row_hits_end
                r += 1
        except _RowFailed as failed:
            self._fail_at(failed.start, run.end, splices, failed.why)

    def _hit_cells(
        self,
        out: bytes,
        run: FramedMessage,
        result: _Result,
        hits: list[tuple[int, int]],
        splices: list[Splice],
    ) -> None:
        """`_mask_row` for each row a hit falls in, when no column is masked on every row, in
        one pass over the hits (ascending): a hit leads to its row, then its cell; a cell's
        hits are gathered until one falls past it, then the cell is masked. Splices go
        straight to ``splices``; the row's length, if a cell changed length, is put before
        them once the row is done; a row that fails takes its splices back."""
        ends = run.row_ends(out)
        start = run.start
        nrows = len(ends)
        local = result.local
        nlocal = len(local)
        formats = result.formats
        binary = result.binary
        plan = result.plan
        mask = plan.mask_cell_hits
        codec = self._codec
        pack = _I32.pack
        bisect_right = bisect.bisect_right
        r = row_start = row_end = -1
        row_first = 0  # where the current row's splices begin in ``splices``
        delta = 0  # how much the current row's length changed
        cells: list[tuple[int, int]] = []
        ncells = k = 0
        off = length = cell_end = -1
        take = False  # whether hits ending in this cell (past its length field) count
        cell_hits: Hits | None = None
        try:
            # One more step past the last hit (at: past every row) masks the last cell. The
            # list is this run's own (`scan_hits` makes it per call).
            hits.append((run.end + 1 - start, -1))
            for to, i in hits:
                at = start + to
                if at > cell_end:
                    if cell_hits is not None:  # the cell before: masked with its hits
                        if binary and k < len(formats) and formats[k]:
                            new = self._masked_cell(out, k, off, length, result, cell_hits)
                        else:
                            try:
                                text = out[off : off + length].decode(codec)
                            except ValueError:
                                raise detached(
                                    MaskingError(f"column {k}: the value could not be decoded")
                                ) from None
                            masked = mask(k, text, cell_hits)
                            if masked is text:
                                new = out
                            elif masked is None:
                                new = None
                            else:
                                new = masked.encode(codec, "replace")
                        if new is not out:
                            if new is not None and len(new) == length:  # in place: usual
                                splices.append((off, off + length, new))
                            else:
                                delta += _cell_splice(splices, off, length, new)
                        cell_hits = None
                    if at > row_end:
                        if delta:
                            fixed = pack(row_end - row_start - 1 + delta)
                            splices.insert(row_first, (row_start + 1, row_start + 5, fixed))
                            delta = 0
                        # Rows come in order, and the next one hit is often near.
                        r += 1
                        if r < nrows and ends[r] < at:
                            r += 1
                            if r < nrows and ends[r] < at:
                                r = bisect_right(ends, at - 1, r + 1)
                        if r >= nrows:
                            break
                        row_start = ends[r - 1] if r else start
                        row_end = ends[r]
                        row_first = len(splices)
                        cells = decode.data_row_at(out, row_start, row_end)
                        ncells = len(cells)
                        k = -1
                        cell_end = -1
                    while at > cell_end:  # to the cell the hit ends in
                        k += 1
                        if k >= ncells:
                            break
                        off, length = cells[k]
                        cell_end = off + length if length > 0 else off
                    take = k < ncells and k < nlocal and local[k]
                if take and at > off:  # in the text, not the length field
                    if cell_hits is None:
                        cell_hits = {i: [at - off]}
                    else:
                        seen = cell_hits.get(i)
                        if seen is None:
                            cell_hits[i] = [at - off]
                        else:
                            seen.append(at - off)
        except MaskingError as exc:
            del splices[row_first:]  # the row is not sent: none of its changes either
            self._fail_at(row_start, run.end, splices, str(exc))

    def _masked_cell(
        self, out: bytes, c: int, off: int, length: int, result: _Result, hits: Hits | None
    ) -> bytes | None:
        """Cell ``c`` (not NULL) masked, given its hits (None: all of it): its new bytes,
        None for NULL, or ``out`` itself when unchanged. Raises `MaskingError`."""
        codec = self._codec
        plan = result.plan
        cards = result.cards
        if (
            cards is not None
            and hits is not None
            and cards[c]
            and plan.card_kernel is not None
            and plan.card_kernel.detector in hits
            and ascii_transparent(codec)
        ):
            carded = plan.mask_card_cell(c, out, off, length, hits)
            if carded is not None:  # else: Python's (not ASCII, another hit counts)
                return carded[1] if carded[0] else out
        binary = result.formats[c] if c < len(result.formats) else 0
        raw = out[off : off + length]
        try:
            if binary:
                text = binary_to_text(result.type_oids[c], raw, codec, self._timezone)
            else:
                text = raw.decode(codec)
        except (ValueError, UnicodeDecodeError):
            raise detached(MaskingError(f"column {c}: the value could not be decoded")) from None
        if text is None:
            # A binary value we cannot read: it may hold anything, so it is not sent.
            plan.stats.add(plan.columns[c].name, "unreadable")
            return None
        masked = plan.mask_cell(c, text) if hits is None else plan.mask_cell_hits(c, text, hits)
        if masked is text:
            return out
        if masked is None:
            return None
        if not binary:
            return masked.encode(codec, "replace")
        try:
            return text_to_binary(result.type_oids[c], masked, codec, self._timezone)
        except ValueError:
            return None

    def _rows_by_candidates(
        self, out: bytes, run: FramedMessage, result: _Result, splices: list[Splice]
    ) -> None:
        """Without hits to place (no Hyperscan): the rows the prefilter flags, all of their
        scan columns, each cell scanned on its own."""
        ends = run.row_ends(out)
        start = run.start
        view = memoryview(out)[start : run.end]
        candidates = set(result.plan.candidate_rows(view, [e - start for e in ends]))
        every = bool(result.every)
        if not candidates and not every:
            return
        row_start = start
        try:
            for r, row_end in enumerate(ends):
                flagged = r in candidates
                if flagged or every:
                    self._mask_row(out, row_start, row_end, result, None, flagged, splices)
                row_start = row_end
        except _RowFailed as failed:
            self._fail_at(failed.start, run.end, splices, failed.why)

    def _mask_row(
        self,
        out: bytes,
        start: int,
        end: int,
        result: _Result,
        row_hits: list[tuple[int, int]] | None,
        scan_all: bool,
        splices: list[Splice],
    ) -> None:
        """Mask one DataRow (``out[start:end]``): its every-row columns, the scan columns
        its hits (absolute end offset, detector) fall in, or all scan columns with
        ``scan_all``. Appends the splices of the changed cells; raises `_RowFailed` (and
        appends nothing) when the row must not be sent."""
        cells = decode.data_row_at(out, start, end)
        ncells = len(cells)
        every = result.every
        visit: dict[int, Hits | None] = dict.fromkeys(every) if every else {}
        if scan_all:
            visit.update(dict.fromkeys(result.scan))
        if row_hits:
            local = result.local
            nlocal = len(local)
            k = -1
            off = cell_end = -1
            for at, i in row_hits:
                while at > cell_end:  # past this cell: to the one the hit ends in
                    k += 1
                    if k >= ncells:
                        break
                    off, length = cells[k]
                    cell_end = off + length if length > 0 else off
                if k >= ncells:
                    break
                if at > off and k < nlocal and local[k]:  # in the text, not the length
                    found = visit.get(k)
                    if found is None:
                        visit[k] = {i: [at - off]}
                    else:
                        found.setdefault(i, []).append(at - off)
        if not visit:
            return
        # Changed cells only: in place when the length is kept, else with their length
        # field, and the row's length before them.
        changes: list[Splice] = []
        delta = 0
        try:
            for c in sorted(visit) if len(visit) > 1 else visit:
                if c >= ncells:
                    break
                off, length = cells[c]
                if length >= 0:
                    new = self._masked_cell(out, c, off, length, result, visit[c])
                    if new is not out:
                        delta += _cell_splice(changes, off, length, new)
        except MaskingError as exc:
            raise detached(_RowFailed(start, str(exc))) from None
        if delta:
            splices.append((start + 1, start + 5, _I32.pack(end - start - 1 + delta)))
        if changes:
            splices.extend(changes)


def _cell_splice(splices: list[Splice], off: int, length: int, new: bytes | None) -> int:
    """Append the splice sending ``new`` (None: NULL) for the cell at ``off``; returns how
    much the row's length changes."""
    if new is None:
        splices.append((off - 4, off + length, _NULL))
        return -length
    if len(new) == length:
        splices.append((off, off + length, new))
        return 0
    splices.append((off - 4, off + length, _I32.pack(len(new)) + new))
    return len(new) - length
