"""Masking PostgreSQL results on the wire, row by row as they stream.

The relay hands this object every command it forwards (``client_message``) and, from the
server, RowDescriptions, runs of DataRows, COPY data, errors, notices and notifications
(``server_messages``). It answers with splices: byte ranges of the server's output to replace.

Which result does a DataRow belong to? Responses come back in the order of the commands, so
the tracker keeps a queue of what is pending: a simple Query (its own RowDescriptions precede
its rows), a Describe (answered by RowDescription or NoData), an Execute (its rows use the
columns of the portal's statement, in the formats its Bind asked for), a Sync. An error in the
extended protocol makes the server skip to the next Sync, and so does the queue. An Execute of
a portal that nobody described gets a Describe of its own, sent just before it; its answer is
taken out of the stream, so the client sees exactly what it asked for.

A row is masked by its column plan (``proctor.masking``): decided once per RowDescription,
touching only cells that can hold sensitive data; the runs of DataRows are masked by the
base class, `rows.RowMasking` (one Hyperscan pass per run, only the cells a hit ends in, only
changed cells spliced). Binary-format cells are converted to text and back; a cell whose
binary form cannot be converted, in a column that is not skipped, is sent as NULL; a scan
column whose binary form is not its text (an int8) is read on every row, as the buffer scan
cannot see into it. When masking fails
(and the profile is not best-effort) the row is not sent: the client gets an ErrorResponse
instead and nothing more until ReadyForQuery (fail closed).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable

from proctor.adapters.postgres import message_text
from proctor.adapters.postgres.pgtypes import category
from proctor.adapters.postgres.rows import RowMasking, Splice, _Result
from proctor.codecs.pgwire import FramedMessage, decode, encode
from proctor.codecs.pgwire.constants import (
    B_COMMAND_COMPLETE,
    B_COPY_DATA,
    B_COPY_DONE,
    B_COPY_OUT,
    B_DATA_ROW,
    B_EMPTY_QUERY,
    B_ERROR_RESPONSE,
    B_NO_DATA,
    B_NOTICE_RESPONSE,
    B_NOTIFICATION,
    B_PORTAL_SUSPENDED,
    B_READY_FOR_QUERY,
    B_ROW_DESCRIPTION,
    F_BIND,
    F_CLOSE,
    F_DESCRIBE,
    F_EXECUTE,
    F_PARSE,
    F_QUERY,
    F_SYNC,
)
from proctor.codecs.pgwire.decode import FieldDescription
from proctor.masking import ColumnInfo, ColumnPlan, Masker, MaskingStats
from proctor.masking.cardmask import ascii_transparent
from proctor.model import Statement

log = logging.getLogger("proctor.postgres")

# Server messages the tracker must see (besides ReadyForQuery and ErrorResponse).
INTEREST = frozenset(
    {
        B_ROW_DESCRIPTION,
        B_NO_DATA,
        B_COMMAND_COMPLETE,
        B_EMPTY_QUERY,
        B_PORTAL_SUSPENDED,
        B_COPY_OUT,
        B_COPY_DONE,
        B_NOTICE_RESPONSE,
        B_NOTIFICATION,
        B_ERROR_RESPONSE,
        B_READY_FOR_QUERY,
    }
)
RUNS = frozenset({B_DATA_ROW, B_COPY_DATA})

# Digits the integer types can hold (a column that cannot hold 12 cannot hold a card).
_MAX_DIGITS = {21: 5, 23: 10, 26: 10}

# Pending-response kinds.
_QUERY, _DESCRIBE_S, _DESCRIBE_P, _EXECUTE, _SYNC = range(5)


class _Prepared:
    """A parsed statement: what it reads (a hint for column context) and, once described,
    its columns (formats unknown until a Bind says)."""

    __slots__ = ("columns", "describing", "shapes", "table")

    def __init__(self, table: str | None) -> None:
        self.table = table
        self.columns: list[FieldDescription] | None = None
        self.describing = False
        self.shapes: dict[tuple[int, ...], _Result] = {}  # by Bind result formats


class _Portal:
    __slots__ = ("describing", "formats", "prepared", "result")

    def __init__(self, prepared: _Prepared | None, formats: tuple[int, ...]) -> None:
        self.prepared = prepared
        self.formats = formats
        self.result: _Result | None = None
        self.describing = False


class _Pending:
    """A command whose answer is still to come (a plain class: compiled, a dataclass's
    ``__init__`` stays interpreted, and one of these is made per command)."""

    __slots__ = ("kind", "portal", "prepared", "swallow")

    def __init__(
        self,
        kind: int,
        prepared: _Prepared | None = None,
        portal: _Portal | None = None,
        swallow: bool = False,  # our own Describe: its answer is not the client's
    ) -> None:
        self.kind = kind
        self.prepared = prepared
        self.portal = portal
        self.swallow = swallow


class ResultMasking(RowMasking):
    """Per session (never shared): the stats and prepared statements are that session's."""

    __slots__ = (
        "_codec",
        "_copy",
        "_current",
        "_discarding",
        "_masker",
        "_pending",
        "_plans",
        "_portals",
        "_prepared",
        "_record",
        "_shapes",
        "_timezone",
        "stats",
    )

    def __init__(
        self,
        masker: Masker,
        codec: str,
        record: Callable[[MaskingStats], None],
    ) -> None:
        self._masker = masker
        self._codec = codec
        self._timezone = "UTC"  # the session's TimeZone: binary timestamptz text depends on it
        self._record = record
        self._pending: deque[_Pending] = deque()
        # Keyed by names as sent (bytes): only matched, never shown, so never decoded.
        self._prepared: dict[bytes, _Prepared] = {}
        self._portals: dict[bytes, _Portal] = {}
        self._current: _Result | None = None  # the result rows now belong to
        self._copy: MaskingStats | None = None  # COPY TO STDOUT in progress
        self._discarding = False
        # Plans by RowDescription, reused (the same query returns the same shape).
        self._plans: dict[tuple[bytes, str | None], ColumnPlan] = {}
        self._shapes: dict[tuple[bytes, str | None], _Result] = {}
        self.stats = MaskingStats()  # the session's totals

    def set_codec(self, codec: str) -> None:
        self._codec = codec

    def set_timezone(self, zone: str) -> None:
        self._timezone = zone

    # -- client → server ---------------------------------------------------------------------

    def client_message(self, mtype: int, body: bytes, statement: Statement | None) -> bytes:
        """Follow one command; returns bytes to send upstream *before* it (our own Describe)."""
        if mtype == F_QUERY:
            self._pending.append(_Pending(_QUERY, _Prepared(_table_hint(statement))))
            # A simple Query drops the unnamed statement and portal.
            self._prepared.pop(b"", None)
            self._portals.pop(b"", None)
        elif mtype == F_PARSE:
            self._prepared[decode.statement_name(body)] = _Prepared(_table_hint(statement))
        elif mtype == F_BIND:
            portal_name, statement_name, formats = decode.bind_raw(body)
            self._portals[portal_name] = _Portal(self._prepared.get(statement_name), formats)
        elif mtype == F_DESCRIBE:
            kind, name = decode.target_raw(body)
            if kind == "S":
                prepared = self._prepared.get(name)
                if prepared is not None:
                    prepared.describing = True
                self._pending.append(_Pending(_DESCRIBE_S, prepared=prepared))
            else:
                portal = self._portals.get(name)
                if portal is not None:
                    portal.describing = True
                self._pending.append(_Pending(_DESCRIBE_P, portal=portal))
        elif mtype == F_EXECUTE:
            name = decode.execute_raw(body)[0]
            portal = self._portals.get(name)
            extra = b""
            if (
                portal is not None
                and not portal.describing
                and not (portal.prepared is not None and portal.prepared.describing)
            ):
                # Nobody asked what the rows will look like: ask ourselves, quietly.
                portal.describing = True
                self._pending.append(_Pending(_DESCRIBE_P, portal=portal, swallow=True))
                extra = encode.message(F_DESCRIBE, b"P" + name + b"\x00")
            self._pending.append(_Pending(_EXECUTE, portal=portal))
            return extra
        elif mtype == F_CLOSE:
            kind, name = decode.target_raw(body)
            (self._prepared if kind == "S" else self._portals).pop(name, None)
        elif mtype == F_SYNC:
            self._pending.append(_Pending(_SYNC))
        return b""

    # -- server → client ---------------------------------------------------------------------

    @property
    def discarding(self) -> bool:
        """After a masking failure: everything until ReadyForQuery is dropped."""
        return self._discarding

    def handle(self, out: bytes, fm: FramedMessage, splices: list[Splice]) -> None:
        """One message (or run of rows) of ``out``; appends splices, never raises for
        masking (it fails closed instead). ErrorResponse, NoticeResponse, notifications and
        ReadyForQuery have methods of their own, called by the relay."""
        mtype = fm.type
        if mtype == B_DATA_ROW:
            self._rows(out, fm, splices)
        elif mtype == B_COPY_DATA:
            self._copy_rows(out, fm, splices)
        elif mtype == B_ROW_DESCRIPTION:
            self._row_description(fm, splices)
        elif mtype == B_NO_DATA:
            head = self._head()
            if head is not None and head.kind in (_DESCRIBE_S, _DESCRIBE_P):
                self._pending.popleft()
                if head.prepared is not None:
                    head.prepared.columns = []
                if head.swallow:
                    splices.append((fm.start, fm.end, b""))
        elif mtype in (B_COMMAND_COMPLETE, B_EMPTY_QUERY, B_PORTAL_SUSPENDED):
            self._result_done()
            head = self._head()
            if head is not None and head.kind == _EXECUTE:
                self._pending.popleft()
        elif mtype == B_COPY_OUT:
            if fm.body[:1] != b"\x00":
                self._fail(fm, splices, "binary COPY output cannot be masked; use text or CSV")
            else:
                self._copy = MaskingStats()
        elif mtype == B_COPY_DONE:
            self._copy_done()

    def ready(self) -> None:
        """ReadyForQuery: everything up to the Sync or Query it answers is over."""
        self._discarding = False
        self._result_done()
        self._copy_done()
        while self._pending:
            entry = self._pending.popleft()
            if entry.kind in (_SYNC, _QUERY):
                break

    def error(self, body: bytes) -> bytes | None:
        """An ErrorResponse: follow the server (skip to Sync), and return its masked form
        (None when nothing in it needed masking)."""
        self._result_done()
        self._copy_done()
        head = self._head()
        if head is not None and head.kind != _QUERY:
            # Extended protocol: the server skips to the next Sync.
            while self._pending and self._pending[0].kind != _SYNC:
                self._pending.popleft()
        return self.mask_fields(B_ERROR_RESPONSE, body)

    # -- pending queue -------------------------------------------------------------------------

    def _head(self) -> _Pending | None:
        return self._pending[0] if self._pending else None

    # -- results -------------------------------------------------------------------------------

    def _row_description(self, fm: FramedMessage, splices: list[Splice]) -> None:
        head = self._head()
        if head is not None and head.kind == _DESCRIBE_S:
            self._pending.popleft()
            if head.prepared is not None:
                head.prepared.columns = decode.row_description(fm.body, self._codec)
            return
        if head is not None and head.kind == _DESCRIBE_P:
            self._pending.popleft()
            portal = head.portal
            if portal is not None:
                table = portal.prepared.table if portal.prepared is not None else None
                portal.result = self._result_for(fm.body, table)
            if head.swallow:
                splices.append((fm.start, fm.end, b""))
            return
        # A simple Query's result (or a shape we did not expect: mask by it all the same).
        table = head.prepared.table if head is not None and head.prepared is not None else None
        self._result_done()
        self._current = self._result_for(fm.body, table)

    def _result_for(self, body: bytes, table: str | None) -> _Result:
        """The result shape of a RowDescription (as sent: formats included), cached: the
        same query returns the same description, and parsing it costs more than a lookup."""
        key = (body, table)
        result = self._shapes.get(key)
        if result is None:
            fields = decode.row_description(body, self._codec)
            result = self._result(body, fields, [f.format for f in fields], table)
            if len(self._shapes) >= 256:
                self._shapes.clear()
            self._shapes[key] = result
        else:
            result.plan.stats.clear()  # counts were flushed when the last result ended
        return result

    def _result(
        self,
        key_body: bytes,
        fields: list[FieldDescription],
        formats: list[int],
        table: str | None,
    ) -> _Result:
        # One shared table hint only when every plain column comes from that one table.
        oids = {f.table_oid for f in fields if f.table_oid}
        hint = table if len(oids) == 1 else None
        key = (key_body, hint)
        plan = self._plans.get(key)
        if plan is None:
            columns = [
                ColumnInfo(
                    f.name,
                    category(f.type_oid),
                    hint if f.table_oid else None,
                    max_digits=_MAX_DIGITS.get(f.type_oid),
                )
                for f in fields
            ]
            plan = self._masker.plan_columns(columns)
            if len(self._plans) >= 256:
                self._plans.clear()
            self._plans[key] = plan
        return _Result(plan, fields, formats)

    def _rows_result(self) -> _Result | None:
        head = self._head()
        if head is None or head.kind == _QUERY:
            return self._current
        if head.kind != _EXECUTE or head.portal is None:
            return None
        portal = head.portal
        prepared = portal.prepared
        if portal.result is None and prepared is not None and prepared.columns is not None:
            # A statement described once, executed many times: one shape per format list.
            fmts = portal.formats
            shape = prepared.shapes.get(fmts)
            if shape is None:
                columns = prepared.columns
                if not fmts:
                    formats = [0] * len(columns)
                elif len(fmts) == 1:
                    formats = [fmts[0]] * len(columns)
                else:
                    formats = list(fmts)
                # By content, not identity: the plan cache outlives statements.
                key = b"S" + repr((tuple(columns), tuple(formats))).encode()
                shape = prepared.shapes[fmts] = self._result(key, columns, formats, prepared.table)
            else:
                shape.plan.stats.clear()
            portal.result = shape
        self._current = portal.result
        return portal.result

    def _result_done(self) -> None:
        result = self._current
        self._current = None
        if result is not None and result.plan.stats:
            self._flush_stats(result.plan.stats)

    def _flush_stats(self, stats: MaskingStats) -> None:
        taken = MaskingStats()
        taken.merge(stats)
        stats.clear()
        self.stats.merge(taken)
        self._record(taken)

    # -- COPY TO STDOUT ------------------------------------------------------------------------

    def _copy_rows(self, out: bytes, run: FramedMessage, splices: list[Splice]) -> None:
        stats = self._copy
        if stats is None:
            return  # CopyData of COPY FROM STDIN / replication: nothing from the server to mask
        ends = run.row_ends(out)
        masker = self._masker
        start = run.start
        view = memoryview(out)[start : run.end]
        # One scan of the run for the triggers; only the rows holding one are decoded and
        # masked (a row of a large COPY costs ~4 µs in `mask_text` even when clean), and a
        # row only the card trigger hit is masked by the card kernel, as result cells are.
        kernel = masker.card_kernel if ascii_transparent(self._codec) else None
        hits = masker.text_hits(view) if kernel is not None else None
        if kernel is None or hits is None:
            for r in masker.text_candidate_rows(view, [e - start for e in ends]):
                if not self._copy_row(out, ends[r - 1] if r else start, ends[r], run, splices):
                    return
            return
        nhits = len(hits)
        h = 0
        r = 0
        nrows = len(ends)
        while h < nhits:
            at = start + hits[h][0]
            while r < nrows and ends[r] < at:  # to the row the hit ends in
                r += 1
            if r >= nrows:
                return
            row_start = ends[r - 1] if r else start
            row_end = ends[r]
            text_at = row_start + 5  # after the CopyData header
            row_hits: dict[int, list[int]] = {}
            while h < nhits and start + hits[h][0] <= row_end:
                to, i = hits[h]
                if start + to > text_at:
                    row_hits.setdefault(i, []).append(start + to - text_at)
                h += 1
            r += 1
            if not row_hits:
                continue  # hits in the header only: nothing in the text
            if kernel.detector in row_hits:
                carded = kernel.mask_cell(
                    out, text_at, row_end - text_at, kernel.keep, kernel.label,
                    row_hits, kernel.detector, kernel.coverable,
                )  # fmt: skip
                if carded is not None:  # else: not ASCII, or another hit counts
                    if carded[0]:
                        stats.add("text", "card", carded[0])  # where mask_text counts
                        splices.append((row_start, row_end, encode.message(B_COPY_DATA, carded[1])))
                    continue
            if not self._copy_row(out, row_start, row_end, run, splices):
                return

    def _copy_row(
        self, out: bytes, row_start: int, row_end: int, run: FramedMessage, splices: list[Splice]
    ) -> bool:
        """One CopyData row through `mask_text`; False when it failed closed (the rest of the
        result is not sent)."""
        stats = self._copy
        assert stats is not None
        masker = self._masker
        codec = self._codec
        raw = out[row_start + 5 : row_end]
        try:
            text = raw.decode(codec)
            masked = masker.mask_text(text, stats=stats)
        except Exception as exc:
            if not masker.profile.best_effort:
                self._fail_at(row_start, run.end, splices, f"COPY row: {type(exc).__name__}")
                return False
            stats.add("text", "error")  # as a cell that could not be masked is counted
            splices.append((row_start, row_end, encode.message(B_COPY_DATA, b"[REDACTED]\n")))
            return True
        if masked != text:
            splices.append((row_start, row_end, encode.message(B_COPY_DATA, masked.encode(codec))))
        return True

    def _copy_done(self) -> None:
        stats, self._copy = self._copy, None
        if stats:
            copied = MaskingStats()
            for where, counts in stats.by_column().items():
                for entity, n in counts.items():
                    copied.add("copy" if where == "text" else where, entity, n)
            self.stats.merge(copied)
            self._record(copied)

    # -- errors, notices, notifications --------------------------------------------------------

    def mask_fields(self, mtype: int, body: bytes) -> bytes | None:
        return message_text.mask_fields(self._masker, self._codec, self.stats, mtype, body)

    def mask_notification(self, pid: int, body: bytes) -> bytes | None:
        return message_text.mask_notification(self._masker, self._codec, self.stats, pid, body)

    # -- failing closed ------------------------------------------------------------------------

    def _fail(self, fm: FramedMessage, splices: list[Splice], why: str) -> None:
        self._fail_at(fm.start, fm.end, splices, why)

    def _fail_at(self, start: int, end: int, splices: list[Splice], why: str) -> None:
        """Replace the rest of this result with an error; drop all until ReadyForQuery."""
        log.warning("masking_failed", extra={"error": why})
        error = encode.error_response(
            "XX000",
            "Proctor could not mask this result, so the rest of it was not sent",
            detail=why,
        )
        splices.append((start, end, error))
        # What the rows before this one had masked was sent: the recording counts it.
        self._result_done()
        self._copy_done()
        self._discarding = True


def _table_hint(statement: Statement | None) -> str | None:
    """The one relation a statement reads, when there is exactly one (a column hint)."""
    if statement is None:
        return None
    names = {r.qualified for r in statement.relations}
    return next(iter(names)) if len(names) == 1 else None


def stats_json(stats: MaskingStats) -> str:
    """Counts only (never values): what a recording keeps of a masked result."""
    return json.dumps(stats.by_column(), sort_keys=True, separators=(",", ":"))
