from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.masking import HAVE_HYPERSCAN, ByteStreamMasker, Masker, Profile, StreamMasker

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "masking" / "labelled.jsonl"
_items = [json.loads(line) for line in CORPUS.read_text().splitlines()]
TEXTS = [i["text"] for i in _items if i["kind"] in ("log", "text")][:400]
MASKERS = {b: Masker(Profile(), backend=b) for b in ("re", *(["hyperscan"] * HAVE_HYPERSCAN))}


def run_chunks(sm: StreamMasker, text: str, cuts: list[int]) -> str:
    out = []
    prev = 0
    for c in sorted(set(cuts)):
        out.append(sm.feed(text[prev:c]))
        prev = c
    out.append(sm.feed(text[prev:]))
    out.append(sm.flush())
    return "".join(out)


documents = st.lists(st.sampled_from(TEXTS), min_size=1, max_size=60).map("\n".join)


@settings(max_examples=40, deadline=None)
@given(documents, st.data())
def test_random_chunkings_equal_one_shot(text: str, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=40))
    for masker in MASKERS.values():
        expected = masker.mask_text(text)
        sm = StreamMasker(masker)
        assert run_chunks(sm, text, cuts) == expected
        assert sm.pending == 0


def test_one_character_at_a_time_with_a_split_pem_key() -> None:
    masker = MASKERS["re"]
    key = (
        "-----BEGIN RSA PRIVATE KEY-----\n"
        + ("QUJD" * 16 + "\n") * 60
        + "-----END RSA PRIVATE KEY-----"
    )
    text = ("log line 10.0.0.1\n" * 300) + key + "\ncard 4111 1111 1111 1111\n" + "x" * 20000
    sm = StreamMasker(masker)
    out = "".join(sm.feed(c) for c in text) + sm.flush()
    assert out == masker.mask_text(text)
    assert "QUJD" not in out and "4111" not in out
    assert sm.window < 9000


def test_bytes_stream_with_split_utf8_and_invalid_bytes() -> None:
    masker = MASKERS["re"]
    text = "héllo jane@example.com \u20ac ".encode() * 500 + b"\xff\xfe tail a@b.io"
    bsm = ByteStreamMasker(masker)
    out = b"".join(bsm.feed(text[i : i + 7]) for i in range(0, len(text), 7)) + bsm.flush()
    expected = masker.mask_text(text.decode("utf-8", "surrogateescape"))
    assert out == expected.encode("utf-8", "surrogateescape")
    assert b"\xff\xfe" in out and b"jane@" not in out


def test_flush_emits_everything_and_memory_is_bounded() -> None:
    masker = MASKERS["re"]
    sm = StreamMasker(masker, max_pending=10)
    assert sm.feed("mail jane@example.com") == ""  # held back: may continue
    assert sm.flush() == "mail [EMAIL]"
    big = "1 " * 200000  # back-to-back candidates never give a sync point... bounded anyway
    out = sm.feed(big)
    assert sm.pending <= sm.max_pending
    assert out + sm.flush() == big
