"""ResultMasking on runs of DataRows: one buffer scan per run, only cells with a hit masked,
changed cells spliced in place. The output must be byte for byte what masking every cell of
every row (the reference below) gives, however the stream is cut into reads; counts must
agree; a row that cannot be masked is not sent (fail closed)."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.adapters.postgres.results import INTEREST, RUNS, ResultMasking
from proctor.codecs.pgwire import BackendScanner, decode, encode
from proctor.codecs.pgwire.constants import B_READY_FOR_QUERY, F_QUERY
from proctor.masking import ColumnInfo, Masker, MaskingError, MaskingStats, Profile
from proctor.masking.engine import ColumnPlan

TEXT, INT4, INT8, UNKNOWN = 25, 23, 20, 16_384

FRAGMENTS = [
    "4111 1111 1111 1111", "4000 0002 3757 0009", "5555555555554444", "jane@example.com",
    "123-45-6789", "+1 (806) 231-2102", "10.0.0.1", "DE89 3704 0044 0532 0130 00",
    "password=hunter2", "order 12 shipped", "paid with card", "x" * 40, "\u00e9t\u00e9", "-", " ",
]  # fmt: skip
texts = st.lists(st.sampled_from(FRAGMENTS), max_size=4).map(" ".join)
numbers = st.sampled_from(["7", "4111111111111111", "-12", "123456789012"])

# (name, type oid): g int4 (skipped), memo/payload text (scanned), n int8 (scanned for
# cards), email (masked whatever its content), tags (a type without a fixed OID).
COLUMNS = [("g", INT4), ("memo", TEXT), ("n", INT8), ("email", TEXT), ("tags", UNKNOWN),
           ("payload", TEXT)]  # fmt: skip
PROFILES = {
    "pii": Profile.from_dict({"name": "pii", "entities": {"card": "partial", "email": "partial"}}),
    "redact": Profile(),
    "null": Profile.from_dict({"name": "null", "entities": {"card": "null", "email": "null"}}),
}


def row_description(columns: Sequence[tuple[str, int]], formats: Sequence[int] = ()) -> bytes:
    body = struct.pack("!h", len(columns))
    for i, (name, oid) in enumerate(columns):
        fmt = formats[i] if formats else 0
        body += name.encode() + b"\x00" + struct.pack("!IhIhih", 16_400, i + 1, oid, -1, -1, fmt)
    return encode.message("T", body)


def result(rows: Sequence[Sequence[bytes | None]], head: bytes) -> bytes:
    body = b"".join(encode.data_row(list(r)) for r in rows)
    done = encode.message("C", f"SELECT {len(rows)}\x00".encode())
    return head + body + done + encode.message(B_READY_FOR_QUERY, b"I")


def relay(masking: ResultMasking, stream: bytes, cuts: Sequence[int] = ()) -> bytes:
    """What the relay sends the client: feed, handle, splice, per read."""
    masking.client_message(F_QUERY, b"select\x00", None)
    scanner = BackendScanner(frozenset(INTEREST | {B_READY_FOR_QUERY}), runs=RUNS)
    sent = []
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < len(stream)), len(stream)]
    for a, b in itertools.pairwise(bounds):
        out, found = scanner.feed(stream[a:b])
        splices: list[tuple[int, int, bytes]] = []
        for fm in found:
            if masking.discarding and fm.type != B_READY_FOR_QUERY:
                splices.append((fm.start, fm.end, b""))
            elif fm.type == B_READY_FOR_QUERY:
                masking.ready()
            else:
                masking.handle(out, fm, splices)
        parts, pos = [], 0
        for start, end, new in splices:
            assert start >= pos, "splices must be in order and disjoint"
            parts += [out[pos:start], new]
            pos = end
        sent.append(b"".join([*parts, out[pos:]]))
    return b"".join(sent)


def _merged(recorded: Sequence[MaskingStats]) -> MaskingStats:
    """The counts of a result handed over in parts (one per result, or per failure)."""
    total = MaskingStats()
    for stats in recorded:
        total.merge(stats)
    return total


def reference(masker: Masker, rows: Sequence[Sequence[str | None]]) -> tuple[bytes, MaskingStats]:
    """Every cell of every row through ``mask_cell`` (the per-row path, no prefilter)."""
    from proctor.adapters.postgres.pgtypes import category

    plan = masker.plan_columns(
        [
            ColumnInfo(name, category(oid), None, max_digits={23: 10}.get(oid))
            for name, oid in COLUMNS
        ]
    )
    out = []
    for row in rows:
        cells: list[bytes | None] = []
        for c, value in enumerate(row):
            if value is None or plan.modes[c] == "skip":
                cells.append(None if value is None else value.encode())
                continue
            masked = plan.mask_cell(c, value)
            cells.append(None if masked is None else masked.encode())
        out.append(cells)
    return result(out, row_description(COLUMNS)), plan.stats


def _rows() -> st.SearchStrategy[list[list[str | None]]]:
    cell = st.one_of(st.none(), texts)
    row = st.tuples(st.integers(0, 99).map(str), cell, st.one_of(st.none(), numbers), cell,
                    cell, cell).map(list)  # fmt: skip
    return st.lists(row, min_size=1, max_size=25)


@settings(max_examples=120, deadline=None)
@given(_rows(), st.sampled_from(sorted(PROFILES)), st.lists(st.integers(1, 4000), max_size=6))
def test_runs_are_masked_as_every_row_would_be(
    rows: list[list[str | None]], profile: str, cuts: list[int]
) -> None:
    masker = Masker(PROFILES[profile])
    recorded: list[MaskingStats] = []
    stream = result(
        [[None if v is None else v.encode() for v in r] for r in rows], row_description(COLUMNS)
    )
    sent = relay(ResultMasking(masker, "utf-8", recorded.append), stream, cuts)
    expected, stats = reference(masker, rows)
    assert sent == expected
    assert _merged(recorded).by_column() == stats.by_column()


def test_the_re_backend_gives_the_same_bytes() -> None:
    rows = [["1", "paid with card 4111 1111 1111 1111", "7", "a@b.co", None, "x"]] * 5 + [
        ["2", "order 12 shipped", "4111111111111111", None, "tags", "jane@example.com"]
    ]
    stream = result([[None if v is None else v.encode() for v in r] for r in rows],
                    row_description(COLUMNS))  # fmt: skip
    for profile in PROFILES.values():
        outs = {
            backend: relay(ResultMasking(Masker(profile, backend=backend), "utf-8", print), stream)
            for backend in ("re", "hyperscan")
        }
        assert outs["re"] == outs["hyperscan"]
        assert b"4111 1111 1111 1111" not in outs["re"]


def test_a_card_in_a_binary_int8_column_is_masked() -> None:
    """Binary cells of non-text types are not their text: the buffer scan cannot see a card
    number in an int8, so such columns are read on every row."""
    masker = Masker(PROFILES["pii"])
    head = row_description([("n", INT8), ("memo", TEXT)], [1, 1])
    rows: list[list[bytes | None]] = [
        [struct.pack("!q", 4111111111111111), b"card 4111 1111 1111 1111"],
        [struct.pack("!q", 42), b"ok"],
    ]
    sent = relay(ResultMasking(masker, "utf-8", lambda s: None), result(rows, head))
    data = [decode.data_row(fm[5:]) for fm in _messages(sent, b"D")]
    body = _messages(sent, b"D")[0][5:]
    (_, n_len), (m_off, m_len) = data[0]
    assert n_len == -1  # partial masking of a number: NULL (the numeric fallback)
    assert body[m_off : m_off + m_len] == b"card **** **** **** 1111"
    assert _messages(sent, b"D")[1] == encode.data_row(rows[1])


def _messages(stream: bytes, mtype: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(stream):
        (length,) = struct.unpack_from("!i", stream, pos + 1)
        if stream[pos : pos + 1] == mtype:
            out.append(stream[pos : pos + 1 + length])
        pos += 1 + length
    return out


def test_a_row_that_cannot_be_masked_is_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    original: Callable[..., str | None] = ColumnPlan.mask_cell_hits

    def failing(self: ColumnPlan, index: int, value: str, hits: dict[int, list[int]]) -> str | None:
        if "5555555555554444" in value:
            raise MaskingError("masking failed in column 1 (memo): RuntimeError")
        return original(self, index, value, hits)

    monkeypatch.setattr(ColumnPlan, "mask_cell_hits", failing)
    masker = Masker(PROFILES["pii"])
    masker.card_kernel = None  # the kernel never calls mask_cell_hits (see the next test)
    rows = [[b"1", b"card 4111 1111 1111 1111"], [b"2", b"card 5555555555554444"],
            [b"3", b"card 4111 1111 1111 1111"]]  # fmt: skip
    _assert_only_the_first_row_is_sent(masker, rows)


@pytest.mark.parametrize("kernel", [True, False], ids=["card-kernel", "python"])
def test_a_row_that_cannot_be_decoded_is_not_sent(kernel: bool) -> None:
    """The second row is not UTF-8: the kernel leaves it to Python, which cannot read it."""
    masker = Masker(PROFILES["pii"])
    if not kernel:
        masker.card_kernel = None
    elif masker.card_kernel is None:
        pytest.skip("the card kernel is not built")
    rows = [[b"1", b"card 4111 1111 1111 1111"], [b"2", b"card 5555555555554444 \xff"],
            [b"3", b"card 4111 1111 1111 1111"]]  # fmt: skip
    _assert_only_the_first_row_is_sent(masker, rows)


def _assert_only_the_first_row_is_sent(masker: Masker, rows: list[list[bytes]]) -> None:
    head = row_description([("g", INT4), ("memo", TEXT)])
    recorded: list[MaskingStats] = []
    sent = relay(ResultMasking(masker, "utf-8", recorded.append), result(rows, head))
    assert b"5555555555554444" not in sent and b"4111 1111 1111 1111" not in sent
    assert len(_messages(sent, b"D")) == 1  # the row before the failure, masked
    (error,) = _messages(sent, b"E")
    assert b"could not mask" in error
    assert _messages(sent, b"C") == []  # nothing more until ReadyForQuery
    assert _messages(sent, b"Z")
    assert _merged(recorded).by_entity() == {"card": 1}  # what was sent, not the rows after


# A result without a column masked on every row: runs go through `_card_run` (the kernel's
# loop) when the card kernel is built, else `_hit_cells`; tags (a type without a fixed OID)
# and n (int8) are scan columns the kernel leaves to Python.
SCAN_COLUMNS = [("g", INT4), ("memo", TEXT), ("n", INT8), ("tags", UNKNOWN), ("payload", TEXT)]


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 99).map(str), st.one_of(st.none(), texts),
                  st.one_of(st.none(), numbers), st.one_of(st.none(), texts),
                  st.one_of(st.none(), texts)).map(list),
        min_size=1, max_size=25,
    ),
    st.sampled_from(sorted(PROFILES)),
    st.lists(st.integers(1, 4000), max_size=6),
)  # fmt: skip
def test_runs_without_every_row_columns_are_masked_as_every_row_would_be(
    rows: list[list[str | None]], profile: str, cuts: list[int]
) -> None:
    from proctor.adapters.postgres.pgtypes import category

    outputs = []
    for kernel in (True, False):
        masker = Masker(PROFILES[profile])
        if not kernel:
            masker.card_kernel = None
        plan = masker.plan_columns(
            [
                ColumnInfo(name, category(oid), None, max_digits={23: 10}.get(oid))
                for name, oid in SCAN_COLUMNS
            ]
        )
        assert not plan.always_columns
        expected: list[list[bytes | None]] = []
        for row in rows:
            cells: list[bytes | None] = []
            for c, value in enumerate(row):
                if value is None or plan.modes[c] == "skip":
                    cells.append(None if value is None else value.encode())
                else:
                    masked = plan.mask_cell(c, value)
                    cells.append(None if masked is None else masked.encode())
            expected.append(cells)
        recorded: list[MaskingStats] = []
        stream = result(
            [[None if v is None else v.encode() for v in r] for r in rows],
            row_description(SCAN_COLUMNS),
        )
        sent = relay(ResultMasking(masker, "utf-8", recorded.append), stream, cuts)
        assert sent == result(expected, row_description(SCAN_COLUMNS))
        assert _merged(recorded).by_column() == plan.stats.by_column()
        outputs.append(sent)
    assert outputs[0] == outputs[1]


def test_an_anchored_custom_pattern_is_masked_in_every_row() -> None:
    """``^EMP\\d{4}$`` matches a cell alone but never inside a buffer of rows (nor does a
    word boundary behave the same after a cell's length bytes): such a custom detector runs
    on every cell, not behind the buffer scan."""
    profile = Profile.from_dict(
        {
            "name": "custom",
            "custom": [
                {"name": "emp", "pattern": r"^EMP\d{4}$"},
                {"name": "acct", "pattern": r"\bAC\d{4}\b"},
            ],
        }
    )
    masker = Masker(profile)
    # A 65-byte cell: its length field ends in "A", a word character before the next cell.
    values = [b"EMP1234", b"x", b"EMP5678", b"A" * 65, b"AC1234", b"AC1234"]
    rows: list[list[bytes | None]] = [[v] for v in values]
    head = row_description([("note", TEXT)])
    sent = relay(ResultMasking(masker, "utf-8", lambda s: None), result(rows, head))
    assert b"EMP1234" not in sent and b"EMP5678" not in sent and b"AC1234" not in sent
    assert sent.count(b"[EMP]") == 2 and sent.count(b"[ACCT]") == 2


def _copy_stream(lines: Sequence[str | bytes]) -> bytes:
    """COPY TO STDOUT's messages: CopyOutResponse, a CopyData per line, CopyDone, ..."""
    head = encode.message("H", b"\x00" + struct.pack("!hh", 1, 0))
    body = b"".join(
        encode.message("d", line if isinstance(line, bytes) else line.encode()) for line in lines
    )
    done = encode.message("c", b"") + encode.message("C", f"COPY {len(lines)}\x00".encode())
    return head + body + done + encode.message(B_READY_FOR_QUERY, b"I")


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.lists(texts, min_size=1, max_size=3).map(lambda c: "\t".join(c) + "\n"),
             min_size=1, max_size=30),
    st.sampled_from(sorted(PROFILES)),
    st.lists(st.integers(1, 3000), max_size=6),
)  # fmt: skip
def test_copy_rows_are_masked_as_mask_text_masks_each(
    lines: list[str], profile: str, cuts: list[int]
) -> None:
    """COPY TO STDOUT: one buffer scan picks the rows to mask; the others are forwarded as
    they came. Same bytes and counts as masking every row."""
    masker = Masker(PROFILES[profile])
    expected_stats = MaskingStats()
    expected = _copy_stream([masker.mask_text(line, stats=expected_stats) for line in lines])
    recorded: list[MaskingStats] = []
    sent = relay(ResultMasking(masker, "utf-8", recorded.append), _copy_stream(lines), cuts)
    assert sent == expected
    assert _merged(recorded).by_entity() == expected_stats.by_entity()


def test_copy_rows_without_a_trigger_are_not_even_decoded() -> None:
    """As DataRows: a row no trigger hits is forwarded as the bytes that arrived (here, not
    UTF-8); one a trigger hits is decoded and masked, and fails closed if it cannot be."""
    masker = Masker(PROFILES["pii"])
    rows = [b"1\torder \xff shipped\n", b"2\tjane@example.com\n", b"3\t\xff a@b.co\n"]
    sent = relay(ResultMasking(masker, "utf-8", lambda s: None), _copy_stream(rows))
    data = _messages(sent, b"d")
    assert data[0] == encode.message("d", rows[0])  # untouched, undecoded
    assert b"jane@example.com" not in data[1] and b"@example.com" in data[1]
    assert len(data) == 2  # the third could not be decoded: not sent
    (error,) = _messages(sent, b"E")
    assert b"could not mask" in error


def test_a_best_effort_copy_redacts_a_row_it_cannot_read() -> None:
    profile = Profile.from_dict({"name": "b", "best_effort": True})
    rows = [b"1\t\xff jane@example.com\n", b"2\tjane@example.com\n"]
    recorded: list[MaskingStats] = []
    sent = relay(ResultMasking(Masker(profile), "utf-8", recorded.append), _copy_stream(rows))
    data = _messages(sent, b"d")
    assert data[0] == encode.message("d", b"[REDACTED]\n")
    assert b"jane@example.com" not in data[1]
    assert recorded[0].by_column() == {"copy": {"error": 1, "email": 1}}


def test_a_card_copy_is_masked_by_the_kernel_as_by_mask_text() -> None:
    """Rows only the card trigger hits go to the C kernel (when built), the others to
    `mask_text`; a mix of both gives what `mask_text` gives for every row."""
    lines = [f"{n}\tpaid with card 4111 1111 1111 1111\tx\n" for n in range(50)]
    lines += ["51\tcard 4111-1111-1111-1111 and jane@example.com\n", "52\tcafé 4111111111111111\n"]
    for profile in ("pii", "redact"):
        masker = Masker(PROFILES[profile])
        expected_stats = MaskingStats()
        expected = _copy_stream([masker.mask_text(x, stats=expected_stats) for x in lines])
        recorded: list[MaskingStats] = []
        sent = relay(ResultMasking(masker, "utf-8", recorded.append), _copy_stream(lines))
        assert sent == expected
        assert b"4111" not in sent.replace(b"**** 1111", b"").replace(b"*1111", b"")
        assert recorded[0].by_entity() == expected_stats.by_entity()
