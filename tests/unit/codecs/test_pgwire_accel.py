"""The compiled framing loops (walk.py via mypyc) against the interpreted ones.

The compiled loops may only skip work: on any stream, split anywhere, the scanner must
return exactly what its interpreted loops return. ``make test`` builds the compiled group
and sets PROCTOR_REQUIRE_ACCEL=1, so these comparisons run against the real build in CI
(whether a build is used at all is tests/unit/test_hotpath.py's subject).
"""

from __future__ import annotations

import importlib.util
import os
import struct
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor import hotpath
from proctor.codecs.pgwire import accel, decode, framing
from proctor.codecs.pgwire.errors import ProtocolError
from proctor.codecs.pgwire.framing import BackendScanner, FramedMessage

WALK_SOURCE = Path(accel.__file__).with_name("walk.py")


def _interpreted_walk() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_walk_source", WALK_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PURE = _interpreted_walk()
WALKS = [PURE] + ([accel.WALK] if accel.WALK is not None else [])


def test_the_compiled_loops_are_in_use_where_the_build_is_required() -> None:
    if os.environ.get("PROCTOR_REQUIRE_ACCEL", "") in ("", "0"):
        pytest.skip("PROCTOR_REQUIRE_ACCEL not set (make test sets it)")
    assert accel.WALK is not None, accel.STATUS
    assert framing._skip_plain is not None


def _message(mtype: int, body: bytes) -> bytes:
    return struct.pack("!BI", mtype, len(body) + 4) + body


messages = st.one_of(
    st.tuples(st.sampled_from(b"DCZTnE"), st.binary(max_size=40)).map(lambda t: _message(*t)),
    # Malformed: a declared length under 4, or far beyond what follows.
    st.tuples(st.sampled_from(b"DC"), st.integers(0, 3)).map(
        lambda t: struct.pack("!BI", t[0], t[1])
    ),
    st.tuples(st.sampled_from(b"DZ"), st.integers(5, 2**32 - 1)).map(
        lambda t: struct.pack("!BI", t[0], t[1])
    ),
)
streams = st.lists(messages, max_size=30).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(data=streams, start=st.integers(0, 40), mtype=st.sampled_from(b"DC"))
def test_run_ends_agrees_with_the_struct_loop(data: bytes, start: int, mtype: int) -> None:
    start = min(start, len(data))
    expected_ends: list[int] = []
    expected = framing._py_run_ends(data, start, mtype, expected_ends)
    for walk in WALKS:
        ends: list[int] = []
        assert walk.run_ends(data, start, mtype, ends) == expected
        assert ends == expected_ends


@settings(max_examples=300, deadline=None)
@given(data=streams, start=st.integers(0, 40), interesting=st.sets(st.sampled_from(b"DCZTnE")))
def test_skip_plain_stops_at_the_first_message_it_may_not_skip(
    data: bytes, start: int, interesting: set[int]
) -> None:
    start = min(start, len(data))
    table = bytes(1 if t in interesting else 0 for t in range(256))
    # Reference: the first message from ``start`` that is interesting, partial or malformed.
    pos = start
    while len(data) - pos >= 5:
        mtype, length = struct.unpack_from("!BI", data, pos)
        if mtype in interesting or length < 4 or pos + 1 + length > len(data):
            break
        pos += 1 + length
    for walk in WALKS:
        assert walk.skip_plain(data, start, table) == pos


Scan = list[tuple[object, ...]]


def _ends(found: FramedMessage, forwarded: bytes) -> list[int] | None:
    return found.row_ends(forwarded) if found.is_run else None


def _scan(stream: bytes, cuts: list[int], *, compiled: bool) -> Scan:
    with pytest.MonkeyPatch.context() as m:
        if not compiled:
            m.setattr(framing, "_skip_plain", None)
            m.setattr(framing, "_run_ends", framing._py_run_ends)
        scanner = BackendScanner(frozenset(b"ZCTE"), runs=frozenset(b"D"))
        out: Scan = []
        pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        for piece in pieces:
            try:
                forwarded, found = scanner.feed(piece)
            except ProtocolError as exc:
                out.append(("error", str(exc)))
                break
            out.append(
                (
                    forwarded,
                    [(f.type, f.body, f.start, f.end, _ends(f, forwarded)) for f in found],
                    scanner.at_boundary,
                )
            )
        return out


@settings(max_examples=200, deadline=None)
@given(data=streams, cuts=st.lists(st.integers(0, 400), max_size=6))
def test_the_scanner_returns_the_same_with_or_without_the_compiled_loops(
    data: bytes, cuts: list[int]
) -> None:
    cuts = sorted({c for c in cuts if 0 < c < len(data)})
    assert _scan(data, cuts, compiled=True) == _scan(data, cuts, compiled=False)


def test_the_compiled_walk_refuses_what_it_cannot_read_without_copying() -> None:
    if accel.WALK is None:
        pytest.skip(f"compiled loops not in use: {accel.STATUS}")
    with pytest.raises(TypeError):
        accel.WALK.run_ends(bytearray(b"D\x00\x00\x00\x04"), 0, ord("D"), [])
    scanner = BackendScanner(frozenset(), runs=frozenset(b"D"))
    data = bytearray(_message(ord("D"), b"ab") * 3)
    if hotpath.compiled_module(framing):
        # The scanner is compiled too: it takes what its signature says, bytes only (mypy
        # checks every caller passes bytes).
        with pytest.raises(TypeError):
            scanner.feed(data)  # type: ignore[arg-type]
        return
    # Interpreted, a bytearray stays on the struct loops, with the same result.
    forwarded, found = scanner.feed(data)  # type: ignore[arg-type]
    assert [f.row_ends(data) for f in found] == [[7, 14, 21]]  # type: ignore[arg-type]
    assert len(forwarded) == 21


cells = st.one_of(
    st.binary(max_size=20).map(lambda b: struct.pack("!i", len(b)) + b),
    st.just(struct.pack("!i", -1)),  # NULL
    st.integers(-(2**31), 2**31 - 1).map(lambda n: struct.pack("!i", n)),  # any length field
)
row_bodies = st.one_of(
    st.lists(cells, max_size=6).map(lambda cs: struct.pack("!h", len(cs)) + b"".join(cs)),
    st.tuples(st.integers(-(2**15), 2**15 - 1), st.lists(cells, max_size=4)).map(
        lambda t: struct.pack("!h", t[0]) + b"".join(t[1])
    ),
    st.binary(max_size=12),
)


def _interpreted_cells(buf: bytes, pos: int, end: int) -> list[tuple[int, int]] | str:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(decode, "_ROW_CELLS", None)
        try:
            return decode._cells(buf, pos, end)
        except ProtocolError as exc:
            return str(exc)


@settings(max_examples=400, deadline=None)
@given(body=row_bodies, before=st.binary(max_size=6), after=st.binary(max_size=6))
def test_row_cells_agree_with_the_struct_walk(body: bytes, before: bytes, after: bytes) -> None:
    buf = before + body + after
    pos, end = len(before), len(before) + len(body)
    expected = _interpreted_cells(buf, pos, end)
    for walk in WALKS:
        found = walk.row_cells(buf, pos, end)
        if found is None:
            assert isinstance(expected, str)  # malformed for both: the struct walk explains
        else:
            assert found == expected
    # Through the decoder (compiled when built): the same cells, or the same error.
    try:
        assert decode._cells(buf, pos, end) == expected
    except ProtocolError as exc:
        assert str(exc) == expected
