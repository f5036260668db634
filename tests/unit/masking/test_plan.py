"""ColumnPlan: per-column decisions, type safety, fail closed, the row prefilter."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.masking import (
    ColumnInfo,
    Masker,
    MaskingError,
    Profile,
    TypeCategory,
)

T = TypeCategory


def test_modes(masker: Masker) -> None:
    plan = masker.plan_columns(
        [
            ColumnInfo("id", T.NUMERIC),
            ColumnInfo("note"),
            ColumnInfo("ssn"),
            ColumnInfo("first_name"),
            ColumnInfo("created_at", T.DATE),
            ColumnInfo("dob", T.DATE),
            ColumnInfo("active", T.BOOL),
            ColumnInfo("photo", T.BINARY),
            ColumnInfo("doc", T.JSON),
            ColumnInfo("value", T.NUMERIC),  # neutral name: scanned for card numbers
            ColumnInfo("tags", T.UNKNOWN),
        ]
    )
    assert plan.modes == (
        "skip", "scan", "always", "always", "skip", "always", "skip", "skip", "always", "scan",
        "scan",
    )  # fmt: skip
    assert plan.active and plan.every_row
    assert plan.scan_columns == (1, 9, 10)


def test_nothing_to_do(masker: Masker) -> None:
    plan = masker.plan_columns([ColumnInfo("id", T.NUMERIC), ColumnInfo("ok", T.BOOL)])
    assert not plan.active
    assert plan.candidate_rows(b"4111111111111111", [16]) == []


def test_unchanged_value_is_the_same_object(masker: Masker) -> None:
    plan = masker.plan_columns([ColumnInfo("note")])
    value = "nothing to see here 2024-01-15"
    assert plan.mask_cell(0, value) is value


def test_expression_columns_are_scanned(masker: Masker) -> None:
    # SELECT 'jane@example.com' AS email / AS "?column?"
    plan = masker.plan_columns([ColumnInfo("email"), ColumnInfo("?column?")])
    assert plan.mask_row(["jane@example.com", "jane@example.com"]) == ["[EMAIL]", "[EMAIL]"]


def test_unknown_types_become_null_when_anything_matches(masker: Masker) -> None:
    plan = masker.plan_columns([ColumnInfo("emails", T.UNKNOWN)])
    assert plan.mask_cell(0, "{a@b.io,c@d.io}") is None
    assert plan.mask_cell(0, "{x,y}") == "{x,y}"


def test_binary_and_bool_never_get_text() -> None:
    m = Masker(Profile.from_dict({"columns": {"photo": "redact", "flag": "redact"}}))
    plan = m.plan_columns([ColumnInfo("photo", T.BINARY), ColumnInfo("flag", T.BOOL)])
    assert plan.mask_row(["\\x0102", "t"]) == [None, None]


def test_stats_count_per_column_and_entity(masker: Masker) -> None:
    plan = masker.plan_columns([ColumnInfo("note"), ColumnInfo("ssn")])
    plan.mask_row(["a@b.io and c@d.io, 10.0.0.1", "123456789"])
    assert plan.stats.by_column() == {"note": {"email": 2, "ip": 1}, "ssn": {"ssn": 1}}
    assert plan.stats.total == 4
    assert "a@b.io" not in repr(plan.stats)


class Boom(Exception):
    pass


def _broken(masker: Masker) -> Masker:
    import dataclasses

    from proctor.masking.scanner import Scanner

    def explode(m: object, span: tuple[int, int]) -> tuple[int, int]:
        raise Boom("value 4111111111111111 leaked into an error")

    dets = tuple(
        dataclasses.replace(d, check=explode) if d.name == "email" else d
        for d in masker.scanner.detectors
    )
    masker.scanner = Scanner(dets, masker.backend)
    return masker


def test_fail_closed_without_leaking_the_value(backend: str) -> None:
    m = _broken(Masker(Profile(), backend=backend))
    plan = m.plan_columns([ColumnInfo("id", T.NUMERIC), ColumnInfo("note")])
    assert plan.mask_cell(1, "no match here") == "no match here"
    with pytest.raises(MaskingError) as info:
        plan.mask_cell(1, "secret jane@example.com")
    assert "jane" not in str(info.value) and "4111" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_best_effort_redacts_the_whole_cell(backend: str) -> None:
    m = _broken(Masker(Profile.from_dict({"best_effort": True}), backend=backend))
    plan = m.plan_columns([ColumnInfo("note"), ColumnInfo("doc", T.JSON)])
    assert plan.mask_cell(0, "jane@example.com") == "[REDACTED]"
    assert plan.mask_cell(1, '{"a": "jane@example.com"}') == '"[REDACTED]"'
    assert plan.stats.by_column()["note"] == {"error": 1}


# -- the row prefilter ------------------------------------------------------------------------


def datarows(rows: list[list[str | None]]) -> tuple[bytes, list[int]]:
    """PostgreSQL DataRow framing (text format), as the gateway sees it."""
    out = bytearray()
    ends = []
    for row in rows:
        body = bytearray(struct.pack("!h", len(row)))
        for cell in row:
            if cell is None:
                body += struct.pack("!i", -1)
            else:
                data = cell.encode()
                body += struct.pack("!i", len(data)) + data
        out += b"D" + struct.pack("!i", len(body) + 4) + body
        ends.append(len(out))
    return bytes(out), ends


FRAGMENTS = [
    "4111 1111 1111 1111", "jane@example.com", "123-45-6789", "(806) 231-2102", "10.0.0.1",
    "DE89 3704 0044 0532 0130 00", "password=hunter2", "ghp_" + "x1" * 18, "hello", "BUILD-555-1234",  # noqa: E501
    "2024-01-15 10:30:00", "12345", "-", "1", "0", "@", " ", "\u00e9", "4111111111111111",
]  # fmt: skip

cells = st.lists(st.sampled_from(FRAGMENTS), max_size=4).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cells, cells, st.sampled_from(["7", "4111111111111111", "42"])),
                min_size=1, max_size=20))  # fmt: skip
def test_candidate_rows_never_miss_a_row_that_changes(rows: list[tuple[str, str, str]]) -> None:
    for backend in ("re", *(["hyperscan"] if _have_hs() else [])):
        masker = Masker(Profile(), backend=backend)
        plan = masker.plan_columns(
            [ColumnInfo("note"), ColumnInfo("comment"), ColumnInfo("n", T.NUMERIC)]
        )
        buf, ends = datarows([list(r) for r in rows])
        hits = set(plan.candidate_rows(buf, ends))
        assert sorted(hits) == plan.candidate_rows(buf, ends)
        for i, row in enumerate(rows):
            if plan.mask_row(list(row)) != list(row):
                assert i in hits, (backend, row)


def _have_hs() -> bool:
    from proctor.masking import HAVE_HYPERSCAN

    return HAVE_HYPERSCAN


def test_candidate_rows_skips_clean_rows(masker: Masker) -> None:
    r = random.Random(5)
    rows: list[list[str | None]] = []
    for i in range(300):
        card = "4111 1111 1111 1111" if i % 3 == 0 else f"note {r.randint(0, 10**6)}"
        rows.append([str(i), card, "2024-01-15 10:30:00+00", None])
    plan = masker.plan_columns(
        [
            ColumnInfo("id", T.NUMERIC),
            ColumnInfo("memo"),
            ColumnInfo("ts", T.DATE),
            ColumnInfo("x"),
        ]
    )
    buf, ends = datarows(rows)
    assert plan.candidate_rows(buf, ends) == list(range(0, 300, 3))
    assert plan.candidate_rows(memoryview(buf), ends) == list(range(0, 300, 3))
