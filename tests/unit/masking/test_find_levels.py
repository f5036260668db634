"""``Scanner.find`` skips checking matches inside higher-priority candidates: it must give
exactly what checking everything and resolving overlaps gives."""

from __future__ import annotations

from pathlib import Path

from bench.masking_quality import load_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.masking import Masker
from proctor.masking.scanner import resolve

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "masking" / "labelled.jsonl"
PIECES = [
    "card 4111 1111 1111 1111",
    "+1 (806) 231-2102",
    "123-45-6789",
    "jane@example.com",
    "DE89 3704 0044 0532 0130 00",
    "10.0.0.1",
    "AKIAIOSFODNN7EXAMPLE",
    "password=hunter2",
    "5555555555554444",
    "call 0044 20 7946 0958",
    " ",
    "-",
]


def _same(masker: Masker, text: str, hints: tuple[str, ...] = ()) -> None:
    scanner = masker.scanner
    active = masker.active(masker.context(hints))
    expected = resolve(scanner.check(scanner.raw(text, active)))
    assert scanner.find(text, active) == expected, text


def test_corpus_texts(masker: Masker) -> None:
    for item in load_corpus(CORPUS):
        _same(masker, item.text, tuple(item.hints))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8))
def test_glued_pieces(pieces: list[str]) -> None:
    masker = _MASKER
    _same(masker, "".join(pieces))


_MASKER = Masker()


def test_short_integer_columns_are_not_scanned_for_cards() -> None:
    from proctor.masking import ColumnInfo, TypeCategory

    plan = _MASKER.plan_columns(
        [
            ColumnInfo("n", TypeCategory.NUMERIC, max_digits=10),  # int4: no card fits
            ColumnInfo("big", TypeCategory.NUMERIC),  # int8/numeric: may hold one
            ColumnInfo("ssn", TypeCategory.NUMERIC, max_digits=10),  # a hint still counts
        ]
    )
    assert plan.modes == ("skip", "scan", "always")
