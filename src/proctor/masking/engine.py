"""The masking engine: `Masker` (one per profile, shared, holds no data) and `ColumnPlan`
(one per result set, holds the counts).

Hot path contract for protocol adapters (PostgreSQL DataRow, MySQL rows, ...)::

    plan = masker.plan_columns(columns)      # once per RowDescription
    if not plan.active:                      # nothing can be masked: forward rows untouched
        ...
    hits = plan.scan_hits(buf)               # (end, detector) of trigger hits in the buffer
    for each row:
        for c in plan.always_columns:        # masked whatever the content
            cell = plan.mask_cell(c, cell)
        for c in plan.scan_columns:          # masked only if a detector matches, so only
            if hits end in the cell:         # cells a hit ends in, given those hits
                cell = plan.mask_cell_hits(c, cell, {detector: [end - cell_start, ...]})

Without Hyperscan ``scan_hits`` is None: ``plan.candidate_rows(buf, row_ends)`` gives the
rows that may hold a match, and their scan cells go through ``mask_cell``.

``mask_cell`` takes the *text* form of a non-NULL cell and returns the text to send, or None
for SQL NULL. It returns the very same object when nothing matched (``out is value`` is a
cheap "unchanged" test). It never returns text that is not valid for the column's type
category (DESIGN.md §5): numeric cells get digits or NULL, date cells an ISO date or NULL,
binary/unknown cells NULL. It raises `MaskingError` (the row must not be sent) unless the
profile is best-effort, in which case the cell is fully redacted.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from proctor.masking import jsonwalk
from proctor.masking import validators as v
from proctor.masking.cardmask import CardKernel, kernel_for
from proctor.masking.entities import Entity, TypeCategory
from proctor.masking.errors import MaskingError, detached
from proctor.masking.hints import NEUTRAL, Context, context_of
from proctor.masking.profile import ColumnRule, Profile
from proctor.masking.scanner import Active, Candidate, Hits, Prefilter, Scanner
from proctor.masking.strategies import Kind, Replacer, Strategy

Handler = Callable[[str], str | None]


class HitHandler(Protocol):
    """A scan column's handler that can also take a buffer scan's hits (`mask_cell_hits`)."""

    def __call__(self, value: str, hits: Hits | None = None, /) -> str | None: ...


JSONValue = Any  # what json.loads returns

_NUMERIC_WHOLE = frozenset({Entity.CARD, Entity.SSN, Entity.PHONE})
# `Masker._text_replacer`.
_TextReplacer = tuple[bool, bool, Callable[[str], str], str]


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """A result column as the adapter knows it.

    ``table``: the source table, qualified as far as known (``shop.public.customers``,
    ``public.customers`` or ``customers``); None for expressions. ``source``: the column's
    name in that table when the result renamed it (``SELECT ssn AS x``).
    """

    name: str
    type: TypeCategory = TypeCategory.TEXT
    table: str | None = None
    source: str | None = None
    # For numbers: the most digits the type can hold (int4: 10), when the adapter knows. A
    # column that cannot hold 12 digits cannot hold a card number.
    max_digits: int | None = None

    def qualified(self) -> tuple[str, ...]:
        table = tuple(self.table.split(".")) if self.table else ()
        return (*table, self.source or self.name)


class MaskingStats:
    """How many values were masked, per place (column name, JSON key, "text") and entity.

    Holds counts only, never values: safe for recordings and metrics.
    """

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, where: str, entity: str, n: int = 1) -> None:
        if type(entity) is not str:
            entity = str(entity)  # Entity members are StrEnums: count them by their value
        key = (where, entity)
        self._counts[key] = self._counts.get(key, 0) + n

    def by_column(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (where, entity), n in self._counts.items():
            out.setdefault(where, {})[entity] = n
        return out

    def by_entity(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, entity), n in self._counts.items():
            out[entity] = out.get(entity, 0) + n
        return out

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def clear(self) -> None:
        self._counts.clear()

    def merge(self, other: MaskingStats) -> None:
        for (where, entity), n in other._counts.items():
            self.add(where, entity, n)

    def __bool__(self) -> bool:
        return bool(self._counts)

    def __repr__(self) -> str:
        return f"MaskingStats({self.by_column()!r})"


class Masker:
    """Masks values by a `Profile`. Build one per profile and share it: it holds compiled
    detectors and keys, never a value (per-result state lives in `ColumnPlan`)."""

    def __init__(self, profile: Profile | None = None, *, backend: str = "auto") -> None:
        self.profile = profile if profile is not None else Profile()
        self.scanner = Scanner(self.profile.detectors(), backend)
        self.backend = self.scanner.backend
        p = self.profile
        self.replacer = Replacer(
            p.hash_key, p.fpe_key(), p.labels, p.numeric_fallback, p.date_fallback
        )
        self._strategies = {d.entity: p.strategy(d.entity) for d in self.scanner.detectors}
        self._card_enabled = any(d.entity == Entity.CARD for d in self.scanner.detectors)
        self.card_kernel: CardKernel | None = kernel_for(
            self.scanner.detectors, self.strategy(Entity.CARD), self.replacer.label(Entity.CARD)
        )
        self._text_replacers: dict[str, _TextReplacer] = {}
        self._active_for = functools.lru_cache(maxsize=256)(self._compute_active)
        self._context_for = functools.lru_cache(maxsize=1024)(self._compute_context)
        self._text_prefilter: Prefilter | None = None  # `text_candidate_rows`, made once

    # -- contexts -------------------------------------------------------------------------------

    def _compute_context(self, hints: tuple[str, ...], table: str | None) -> Context:
        return context_of(hints, table)

    def context(self, hints: Sequence[str], table: str | None = None) -> Context:
        return self._context_for(tuple(hints), table)

    def _compute_active(self, ctx: Context) -> tuple[bool, ...]:
        return tuple(
            (d.needs is None or d.needs in ctx.boost) and d.entity not in ctx.suppress
            for d in self.scanner.detectors
        )

    def active(self, ctx: Context) -> tuple[bool, ...]:
        return self._active_for(ctx)

    def strategy(self, entity: str) -> Strategy:
        s = self._strategies.get(entity)
        return s if s is not None else self.profile.strategy(entity)

    def _text_replacer(self, entity: str) -> _TextReplacer:
        """(kept, null, replacement in text, entity as a plain str for counts) for an
        entity's strategy: decided once per entity, not per value (an enum member's lookup
        alone costs ~0.2 µs)."""
        strategy = self.strategy(entity)
        kind = strategy.kind
        replace = self.replacer.text_replacer(entity, strategy)
        how = (kind is Kind.KEEP, kind is Kind.NULL, replace, str(entity))
        self._text_replacers[entity] = how
        return how

    # -- public API -----------------------------------------------------------------------------

    def detect(self, text: str, hints: Sequence[str] = ()) -> list[tuple[int, int, str]]:
        """(start, end, entity) of what `mask_text` would mask (for tests and tools),
        strategies aside (a ``keep`` entity is listed too)."""
        ctx = self.context(hints)
        whole = ctx.whole
        stripped = text.strip()
        if whole is not None and stripped and (not ctx.weak or v.person_name_ok(stripped)):
            return [(0, len(text), str(whole))]
        found = self.scanner.find(text, self.active(ctx))
        return [(c.start, c.end, str(c.entity)) for c in found]

    def mask_text(
        self, text: str, hints: Sequence[str] = (), *, stats: MaskingStats | None = None
    ) -> str:
        """Mask free text (a log line, a message, a cell of unknown origin).

        ``hints``: names that describe the text (column name, JSON key, variable name).
        A hint that makes the whole value an entity (``password``) masks all of it.
        """
        out = self.mask_value(
            text, self.context(hints), stats=stats, where="text", allow_null=False
        )
        return out if out is not None else self.replacer.label(self._whole_entity(hints))

    def text_candidate_rows(
        self, buf: bytes | bytearray | memoryview, row_ends: Sequence[int]
    ) -> list[int]:
        """Indexes of the rows of ``buf`` (row ``i`` ends at ``row_ends[i]``, row 0 starts
        at 0; any framing) whose text `mask_text` without hints may change, ascending: one
        scan of the buffer for the triggers (`Prefilter.rows`), every row when a detector
        without a trigger is active. A row not listed is unchanged by `mask_text`."""
        return self._text_prefilter_for().rows(buf, row_ends)

    def text_hits(self, buf: bytes | bytearray | memoryview) -> list[tuple[int, int]] | None:
        """The trigger hits in ``buf`` of the detectors `mask_text` without hints runs:
        (end offset, detector), ascending; None when hits cannot stand for a scan of a text
        inside ``buf`` (see `ColumnPlan.scan_hits`)."""
        return self._text_prefilter_for().hits(buf)

    def _text_prefilter_for(self) -> Prefilter:
        prefilter = self._text_prefilter
        if prefilter is None:
            prefilter = Prefilter(self.scanner, self.active(self.context(())))
            self._text_prefilter = prefilter
        return prefilter

    def mask_json(
        self,
        doc: str | JSONValue,
        hints: Sequence[str] = (),
        *,
        stats: MaskingStats | None = None,
    ) -> Any:
        """Mask a JSON document: text in, text out (unchanged text when nothing matched);
        a parsed structure in, a new structure out. Keys are hints for their values; JSON
        nested in strings is parsed and masked too (MCP tool results carry escaped JSON)."""
        ctx = self.context(hints)
        if isinstance(doc, str):
            return jsonwalk.mask_json_text(self, doc, ctx, stats, "json")
        out, _ = jsonwalk.walk(self, doc, ctx, None, stats, "json", 0, 0)
        return out

    def stream(self, hints: Sequence[str] = (), *, stats: MaskingStats | None = None) -> Any:
        """A `StreamMasker` over text chunks (see proctor.masking.stream)."""
        from proctor.masking.stream import StreamMasker

        return StreamMasker(self, hints, stats=stats)

    def plan_columns(self, columns: Sequence[ColumnInfo]) -> ColumnPlan:
        """Decide once per result set what each column needs (see the module docstring)."""
        return ColumnPlan(self, columns)

    # -- values -----------------------------------------------------------------------------------

    def _whole_entity(self, hints: Sequence[str]) -> str:
        return self.context(hints).whole or "redacted"

    def mask_value(
        self,
        value: str,
        ctx: Context,
        *,
        stats: MaskingStats | None,
        where: str,
        active: Active | None = None,
        allow_null: bool = True,
    ) -> str | None:
        """A text value under a context: whole-value masking or a scan. None = NULL (only
        for a whole value, or with ``allow_null``: a cell or JSON value, not free text)."""
        whole = ctx.whole
        if (
            whole is not None
            and value.strip()
            and (not ctx.weak or v.person_name_ok(value.strip()))
        ):
            strategy = self.strategy(whole)
            if strategy.kind is Kind.KEEP:
                return value
            if stats is not None:
                stats.add(where, whole)
            return self.replacer.whole(whole, strategy, value)
        cands = self.scanner.find(value, active if active is not None else self.active(ctx))
        if not cands:
            return value
        return self.render(value, cands, stats, where, allow_null=allow_null)

    def render(
        self,
        text: str,
        cands: Sequence[Candidate],
        stats: MaskingStats | None,
        where: str,
        *,
        allow_null: bool,
        start: int = 0,
        end: int | None = None,
    ) -> str | None:
        """``text[start:end]`` with candidates replaced. A ``null`` strategy makes the whole
        value NULL when ``allow_null`` (a cell), else it redacts."""
        if len(cands) == 1 and start == 0 and end is None:
            # One candidate in a whole value (the usual masked cell): no list to join.
            c = cands[0]
            entity = c.entity
            how = self._text_replacers.get(entity)
            if how is None:
                how = self._text_replacer(entity)
            keep, null, replace, name = how
            if keep:
                return text
            if stats is not None:  # `stats.add`, inline
                counts = stats._counts
                key = (where, name)
                counts[key] = counts.get(key, 0) + 1
            if null and allow_null:
                return None
            s, e = c.start, c.end
            return text[:s] + replace(text[s:e]) + text[e:]
        pieces: list[str] = []
        pos = start
        changed = False
        for c in cands:
            entity = c.entity
            how = self._text_replacers.get(entity)
            if how is None:
                how = self._text_replacer(entity)
            keep, null, replace, name = how
            if keep:
                continue
            if stats is not None:
                stats.add(where, name)
            if null and allow_null:
                return None
            pieces.append(text[pos : c.start])
            pieces.append(replace(text[c.start : c.end]))
            pos = c.end
            changed = True
        if not changed:
            return text if start == 0 and end is None else text[start:end]
        pieces.append(text[pos:end])
        return "".join(pieces)

    def mask_number(
        self, value: str, ctx: Context, stats: MaskingStats | None, where: str
    ) -> str | None:
        """A numeric value (cell or JSON number, as text): digits or NULL, never text.

        Without a hint only card numbers are looked for, as in text: Luhn plus issuer ranges
        are strong enough to ignore an id-like name (``{"number": 4111…}``). Numeric columns
        with id-like names are skipped by the plan before they get here."""
        entity = ctx.whole
        if entity is None:
            boosted = ctx.boost & _NUMERIC_WHOLE
            if boosted:
                entity = sorted(boosted)[0]
            elif (
                not self._card_enabled
                or not (12 <= len(value) <= 19 and value.isascii() and value.isdigit())
                or not v.card_ok(value)
            ):
                return value
            else:
                entity = Entity.CARD
        strategy = self.strategy(entity)
        if strategy.kind is Kind.KEEP:
            return value
        if stats is not None:
            stats.add(where, entity)
        return self.replacer.numeric(entity, strategy, value)


class ColumnPlan:
    """What to do with each column of one result set; also its `MaskingStats`.

    Made per result set (per connection), never shared: the counts are that session's.
    """

    def __init__(self, masker: Masker, columns: Sequence[ColumnInfo]) -> None:
        self.masker = masker
        self.columns: tuple[ColumnInfo, ...] = tuple(columns)
        self.stats = MaskingStats()
        self.best_effort = masker.profile.best_effort
        names = [c.name for c in self.columns]
        self._where = [
            c.name if names.count(c.name) == 1 else f"{c.name}#{i}"
            for i, c in enumerate(self.columns)
        ]
        handlers: list[Handler | None] = []
        hit_handlers: list[HitHandler | None] = []
        modes: list[str] = []
        prefilter_active = [False] * len(masker.scanner.detectors)
        kernel = masker.card_kernel
        card_cells = [False] * len(self.columns)
        for i, col in enumerate(self.columns):
            mode, handler, active, hit_handler = self._decide(i, col)
            handlers.append(handler)
            hit_handlers.append(hit_handler if mode == "scan" else None)
            modes.append(mode)
            if (
                kernel is not None
                and mode == "scan"
                and col.type is TypeCategory.TEXT
                and hit_handler is not None
                and active is not None
                and active[kernel.detector]
                and not masker.scanner.ungated_in(active)
            ):
                card_cells[i] = True
            if mode == "scan" and active is not None:
                for k, a in enumerate(active):
                    if a:
                        prefilter_active[k] = True
        self._handlers = handlers
        self._hit_handlers = hit_handlers
        self.modes: tuple[str, ...] = tuple(modes)
        self.scan_columns: tuple[int, ...] = tuple(i for i, m in enumerate(modes) if m == "scan")
        self.always_columns: tuple[int, ...] = tuple(
            i for i, m in enumerate(modes) if m == "always"
        )
        self.active = bool(self.scan_columns or self.always_columns)
        self.every_row = bool(self.always_columns)
        self._prefilter = Prefilter(masker.scanner, prefilter_active)
        # Columns where a cell hit by the card trigger may be masked by the card
        # kernel (`mask_card_cell`) with the same result as `mask_cell_hits`: text cells
        # scanned by `scan_cell` (whole-value and unknown-type columns are not), where no
        # detector runs without a trigger. None when there is no such column.
        self.card_cells: tuple[bool, ...] | None = tuple(card_cells) if any(card_cells) else None
        self.card_kernel = kernel
        self._fallback = [_redacted_for(c.type) for c in self.columns]

    # -- decisions ------------------------------------------------------------------------------

    def _decide(
        self, i: int, col: ColumnInfo
    ) -> tuple[str, Handler | None, Active | None, HitHandler | None]:
        """(mode, handler, active detectors of a scan, the handler again when it also takes
        a buffer scan's hits) for one column.

        Modes: ``skip`` (never touched), ``scan`` (touched only if the prefilter hits its
        row), ``always`` (every non-NULL value goes through ``mask_cell``).
        """
        m = self.masker
        t = col.type
        rule = m.profile.rule_for(col.qualified())
        ctx = m.context(tuple(n for n in (col.name, col.source) if n), col.table)
        where = self._where[i]
        stats = self.stats
        if rule is not None and rule.action == "skip":
            return "skip", None, None, None
        if rule is not None and rule.action == "mask":
            return "always", self._rule_handler(rule, ctx, t, where), None, None
        if t is TypeCategory.BOOL or t is TypeCategory.BINARY or t is TypeCategory.OPAQUE:
            return "skip", None, None, None
        if t is TypeCategory.DATE:
            if ctx.whole == Entity.DOB:
                strategy = m.strategy(Entity.DOB)

                def date_cell(value: str) -> str | None:
                    stats.add(where, Entity.DOB)
                    return m.replacer.date(Entity.DOB, strategy, value)

                return "always", date_cell, None, None
            return "skip", None, None, None
        if t is TypeCategory.NUMERIC:
            if ctx.whole is not None or ctx.boost & _NUMERIC_WHOLE:
                return "always", lambda value: m.mask_number(value, ctx, stats, where), None, None
            if ctx.suppress or not m._card_enabled:
                return "skip", None, None, None
            if col.max_digits is not None and col.max_digits < 12:
                return "skip", None, None, None  # too short for a card, the only unhinted match
            card_only = tuple(d.name == "card" for d in m.scanner.detectors)
            return "scan", lambda value: m.mask_number(value, ctx, stats, where), card_only, None
        if t is TypeCategory.JSON:
            return (
                "always",
                lambda value: jsonwalk.mask_json_text(m, value, ctx, stats, where),
                None,
                None,
            )
        active = m.active(ctx)
        # A column needing a detector the buffer prefilter cannot see (relaxed detectors of
        # boosted columns, custom patterns Hyperscan does not take), or masked whole by
        # context, is visited on every row.
        ungated = any(a and k not in m.scanner.gated for k, a in enumerate(active))
        mode = "always" if ctx.whole is not None or ungated else "scan"
        if t is TypeCategory.UNKNOWN:
            unknown = self._unknown_handler(ctx, active, where)
            return mode, unknown, active, unknown
        if ctx.whole is None:
            find = m.scanner.find
            find_hits = m.scanner.hits_finder(active)
            render = m.render

            def scan_cell(value: str, hits: Hits | None = None) -> str | None:
                cands = find(value, active) if hits is None else find_hits(value, hits)
                if not cands:
                    return value
                return render(value, cands, stats, where, allow_null=True)

            return mode, scan_cell, active, scan_cell
        return (
            mode,
            lambda value: m.mask_value(value, ctx, stats=stats, where=where, active=active),
            active,
            None,
        )

    def _rule_handler(self, rule: ColumnRule, ctx: Context, t: TypeCategory, where: str) -> Handler:
        m = self.masker
        entity = rule.entity or ctx.whole or (sorted(ctx.boost)[0] if ctx.boost else "redacted")
        strategy = rule.strategy
        stats = self.stats

        def cell(value: str) -> str | None:
            stats.add(where, entity)
            if t is TypeCategory.NUMERIC:
                return m.replacer.numeric(entity, strategy, value)
            if t is TypeCategory.DATE:
                return m.replacer.date(entity, strategy, value)
            if t is TypeCategory.JSON:
                out = m.replacer.whole(entity, strategy, value)
                return None if out is None else json.dumps(out, ensure_ascii=False)
            if t in (
                TypeCategory.BINARY,
                TypeCategory.UNKNOWN,
                TypeCategory.BOOL,
                TypeCategory.OPAQUE,
            ):
                return None
            return m.replacer.whole(entity, strategy, value)

        return cell

    def _unknown_handler(self, ctx: Context, active: Active, where: str) -> HitHandler:
        """A type we cannot write a replacement for: anything found makes the cell NULL."""
        m = self.masker
        stats = self.stats

        def cell(value: str, hits: Hits | None = None) -> str | None:
            if ctx.whole is not None and value.strip():
                if m.strategy(ctx.whole).kind is Kind.KEEP:
                    return value
                stats.add(where, ctx.whole)
                return None
            cands = [
                c
                for c in m.scanner.find(value, active, 0, hits)
                if m.strategy(c.entity).kind is not Kind.KEEP
            ]
            if not cands:
                return value
            for c in cands:
                stats.add(where, c.entity)
            return None

        return cell

    # -- the hot path -----------------------------------------------------------------------------

    def mask_cell(self, index: int, value: str) -> str | None:
        """The text to send for a non-NULL cell (the same object if unchanged), or None for
        NULL. Raises `MaskingError` on failure unless the profile is best-effort."""
        handler = self._handlers[index]
        if handler is None:
            return value
        try:
            return handler(value)
        except Exception as exc:
            return self._failed(index, exc)

    def mask_cell_hits(self, index: int, value: str, hits: Hits) -> str | None:
        """`mask_cell`, for a cell of a scan column whose trigger hits a buffer scan found
        (`scan_hits`: those ending inside the cell, as offsets from its start, by detector).
        Same result as ``mask_cell(index, value)``, without scanning the cell again."""
        handler = self._hit_handlers[index]
        if handler is None:
            return self.mask_cell(index, value)
        try:
            return handler(value, hits)
        except Exception as exc:
            return self._failed(index, exc)

    def mask_card_cell(
        self, index: int, data: bytes, off: int, length: int, hits: Hits
    ) -> tuple[int, bytes] | None:
        """`mask_cell_hits` for a cell of a ``card_cells`` column hit by the card trigger, as
        bytes (``data[off:off + length]``, ASCII-transparent encoding): (how many cards were
        masked, the cell's new bytes), counted as `render` counts them; None when the kernel
        leaves the cell to `mask_cell_hits` (not ASCII, or another detector's hit counts)."""
        kernel = self.card_kernel
        assert kernel is not None
        done: tuple[int, bytes] | None = kernel.mask_cell(
            data, off, length, kernel.keep, kernel.label, hits, kernel.detector, kernel.coverable
        )
        if done is not None and done[0]:
            counts = self.stats._counts
            key = (self._where[index], "card")
            counts[key] = counts.get(key, 0) + done[0]
        return done

    def count_cards(self, counts: Sequence[int]) -> None:
        """Cards the kernel masked, by column (`render`'s count for them)."""
        for index, n in enumerate(counts):
            if n:
                self.stats.add(self._where[index], "card", n)

    def _failed(self, index: int, exc: Exception) -> str | None:
        # Fail closed. The message names the column and the error type only: the value,
        # and an exception text that might quote it, must never reach a log (§5).
        if self.best_effort:
            self.stats.add(self._where[index], "error")
            return self._fallback[index]
        raise detached(
            MaskingError(
                f"masking failed in column {index} ({self._where[index]}): {type(exc).__name__}"
            )
        ) from None

    def mask_row(self, values: Sequence[str | None]) -> list[str | None]:
        """Every cell of a row (NULLs stay NULL). Convenience for adapters and tests."""
        out: list[str | None] = []
        for i, value in enumerate(values):
            out.append(None if value is None else self.mask_cell(i, value))
        return out

    def candidate_rows(
        self, buf: bytes | bytearray | memoryview, row_ends: Sequence[int]
    ) -> list[int]:
        """Indexes of the rows of ``buf`` whose scan columns may need masking.

        ``buf`` holds rows back to back, in any framing, each cell's text bytes contiguous
        (PostgreSQL DataRow text format qualifies); row ``i`` spans
        ``[row_ends[i-1], row_ends[i])`` (row 0 starts at 0). Guarantee: if ``mask_cell``
        would change a value of a scan column, that value's row is in the result. Rows not
        in it may be forwarded as they are (``always_columns`` still need their cells
        masked on every row). Sorted ascending, no duplicates. Costs one Hyperscan pass over
        the buffer plus a little Python per candidate row.
        """
        if not self.scan_columns:
            return []
        return self._prefilter.rows(buf, row_ends)

    def scan_hits(self, buf: bytes | bytearray | memoryview) -> list[tuple[int, int]] | None:
        """The trigger hits in ``buf`` (many cells' bytes, in any framing) of the detectors
        scan columns use: (end offset, detector index), ascending. None when hits cannot
        stand for per-cell scans (use `candidate_rows` then).

        For a cell of a scan column whose text bytes are ``buf[a:b]``: if ``mask_cell``
        would change it, a hit ends in ``(a, b]``; and ``mask_cell_hits`` given the hits
        ending there (``{detector: [end - a, ...]}``) returns what ``mask_cell`` does. A cell
        without a hit may be forwarded as it is. One Hyperscan pass over the buffer.
        """
        if not self.scan_columns:
            return []
        return self._prefilter.hits(buf)


def _redacted_for(t: TypeCategory) -> str | None:
    """Best-effort replacement of a cell that could not be masked."""
    if t is TypeCategory.TEXT:
        return "[REDACTED]"
    if t is TypeCategory.JSON:
        return '"[REDACTED]"'
    return None


__all__ = ["NEUTRAL", "ColumnInfo", "ColumnPlan", "Masker", "MaskingStats"]
