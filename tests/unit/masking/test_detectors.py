"""Detectors: what each finds and leaves alone, and the trigger/bounds contract."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from proctor.masking import HAVE_HYPERSCAN, Masker
from proctor.masking.detectors import BUILTIN, LOOKAHEAD

sre_parse = importlib.import_module("re._parser")

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "masking"

POSITIVES = [
    ("card", "pay with 4111 1111 1111 1111 today", "4111 1111 1111 1111"),
    ("card", "card=5555-5555-5555-4444;", "5555-5555-5555-4444"),
    ("card", "mc2 2223000048400011 ok", "2223000048400011"),
    ("card", "amex 3782 822463 10005.", "3782 822463 10005"),
    ("card", "(6011111111111117)", "6011111111111117"),
    ("ssn", "SSN 123-45-6789.", "123-45-6789"),
    ("ssn", "ssn: 123456789", "123456789"),
    ("ssn", "social security number is 078 05 1120", "078 05 1120"),
    ("email", "mail jane.doe+tag@mail.example.co.uk now", "jane.doe+tag@mail.example.co.uk"),
    ("phone", "call (806) 231-2102 now", "(806) 231-2102"),
    ("phone", "tel:+1-806-231-2102x123", "+1-806-231-2102x123"),
    ("phone", "ring +44 20 7946 0958", "+44 20 7946 0958"),
    ("phone", "office 01632 960 123", "01632 960 123"),
    ("phone", "phone: 8062312102", "8062312102"),
    ("phone", "sms sent to 07700900123", "07700900123"),
    ("iban", "to DE89 3704 0044 0532 0130 00 now", "DE89 3704 0044 0532 0130 00"),
    ("iban", "iban=GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("ip", "from 192.168.10.20:5432", "192.168.10.20"),
    ("ip", "peer [2001:db8::8a2e:370:7334]:443", "2001:db8::8a2e:370:7334"),
    ("ip", "addr fe80::1%eth0 up", "fe80::1%eth0"),
    ("secret", "key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("secret", "t=ghp_" + "a1B2" * 9, "ghp_" + "a1B2" * 9),
    ("secret", "glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789"),
    ("secret", "xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF"),
    ("secret", "sk_live_abcdefghijklmnop1234", "sk_live_abcdefghijklmnop1234"),
    ("secret", "OPENAI=sk-proj-abcdefghijklmnopqrstuvwxyz123456", "sk-proj-abcdefghijklmnopqrstuvwxyz123456"),  # noqa: E501
    ("secret", "postgres://admin:s3cr3t@db.example.com:5432/app", "s3cr3t"),
    ("secret", "redis://:p@ss@cache:6379", "p@ss"),
    ("secret", "password=hunter2 retries=3", "hunter2"),
    ("secret", 'secret: "two words"', "two words"),
    ("secret", '{"apiKey": "abc123def456"}', "abc123def456"),
    ("secret", "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345"),  # noqa: E501
    ("secret", "mysql --password=hunter2 -h db", "hunter2"),
    ("secret", "POST https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx", "T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx"),  # noqa: E501
    ("secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),  # noqa: E501
    ("secret", "AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),  # noqa: E501
    ("secret", "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),  # noqa: E501
    ("secret", "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA==\n-----END RSA PRIVATE KEY-----\ny", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA==\n-----END RSA PRIVATE KEY-----"),  # noqa: E501
    ("secret", "-----BEGIN PRIVATE KEY-----\nMIIEow\nAAAA", "-----BEGIN PRIVATE KEY-----\nMIIEow\nAAAA"),  # noqa: E501
    ("dob", "DOB: 05/17/1990 ok", "05/17/1990"),
    ("dob", "born on May 17, 1990", "May 17, 1990"),
    ("name", 'name="Jane Doe" logged in', "Jane Doe"),
    ("name", "first_name: Jane, age 4", "Jane"),
    ("address", "address: 123 Main St, Springfield; zip ok", "123 Main St, Springfield"),
]  # fmt: skip

NEGATIVES = [
    "BUILD-555-1234",
    "build 555-1234 passed",
    "order ORD-2024-000123 shipped",
    "id 123456789 and 987654321",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "at 2024-01-15T10:30:00.123456Z and 2024-01-15 10:30:00+00",
    "ts 2024-01-15 10:30:00.123456-05:00",
    "epoch 1705314600000",
    "txn 4111111111111112",  # fails Luhn
    "version 1.2.3 and v10.15.7 and 2.0.0-rc.1 and 10.0.19041.1",
    "sha 5f4dcc3b5aa765d61d8327deb882cf99 and 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
    "amount 1234.56 USD, 99999.99",
    "std::vector<int> and Foo::Bar",
    "max_tokens=512 token_count=9 password_policy=strict",
    "mac 00:1a:2b:3c:4d:5e",
    "time 10:30:45",
    "ABC-123-45-6789",
    "ISBN 978-3-16-148410-0",
    "password=${DB_PASSWORD}",
    "email: not-an-email@ and @handle",
]


@pytest.mark.parametrize(("entity", "text", "value"), POSITIVES, ids=lambda x: str(x)[:30])
def test_positive(masker: Masker, entity: str, text: str, value: str) -> None:
    found = masker.detect(text)
    spans = {(text[s:e], ent) for s, e, ent in found}
    assert (value, entity) in spans, found


@pytest.mark.parametrize("text", NEGATIVES)
def test_negative(masker: Masker, text: str) -> None:
    assert masker.detect(text) == []
    assert masker.mask_text(text) == text


def test_column_context_relaxes_and_suppresses(masker: Masker) -> None:
    assert masker.mask_text("123456789") == "123456789"
    assert masker.mask_text("123456789", hints=["ssn"]) == "[SSN]"
    assert masker.mask_text("900-12-3456", hints=["ssn"]) == "[SSN]"  # borderline, masked
    assert masker.mask_text("123-45-6789", hints=["order_id"]) == "123-45-6789"
    assert masker.mask_text("(806) 231-2102", hints=["reference"]) == "(806) 231-2102"
    assert masker.mask_text("8062312102", hints=["mobile"]) == "[PHONE]"
    # Cards are validated strongly enough to be masked whatever the column says.
    assert masker.mask_text("4111111111111111", hints=["order_id"]) == "[CARD]"


@pytest.mark.parametrize("d", BUILTIN, ids=lambda d: d.name)
def test_max_len_bounds_every_match(d: object) -> None:
    from proctor.masking.detectors import Detector

    assert isinstance(d, Detector)
    _, hi = sre_parse.parse(d.pattern.pattern, d.pattern.flags).getwidth()
    assert hi <= d.max_len, f"{d.name} can match {hi} > max_len {d.max_len}"


def _corpus_texts() -> list[str]:
    import json

    lines = (CORPUS / "labelled.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    return texts + [t for _, t, _ in POSITIVES] + NEGATIVES


@pytest.mark.parametrize("d", [d for d in BUILTIN if d.trigger], ids=lambda d: d.name)
def test_every_match_contains_a_trigger_match(d: object) -> None:
    """The contract the windowed scan and the row prefilter rely on."""
    from proctor.masking.detectors import Detector

    assert isinstance(d, Detector) and d.trigger is not None
    trigger = re.compile(d.trigger, re.ASCII | (re.IGNORECASE if d.trigger_caseless else 0))
    seen = 0
    lead = d.lead or d.max_len
    for text in _corpus_texts():
        for m in d.pattern.finditer(text):
            seen += 1
            assert trigger.search(m.group()), (d.name, m.group())
            # ... and one ends within ``lead`` of the match's start.
            first_end = min(
                t.end() for k in range(len(m.group())) if (t := trigger.match(m.group(), k))
            )
            assert first_end <= lead, (d.name, first_end, m.group())
    assert seen or d.needs, f"corpus never exercises {d.name}"


@pytest.mark.skipif(not HAVE_HYPERSCAN, reason="hyperscan not installed")
def test_hyperscan_and_re_backends_agree() -> None:
    hs, rx = Masker(backend="hyperscan"), Masker(backend="re")
    for text in _corpus_texts():
        assert hs.detect(text) == rx.detect(text), text
        # The windowed scan must equal finditer from any start position too (streams).
        act = hs.active(hs.context(()))
        for pos in (0, 1, len(text) // 2):
            a = sorted((i, m.span()) for i, m in hs.scanner.raw(text, act, pos))
            b = sorted((i, m.span()) for i, m in rx.scanner.raw(text, act, pos))
            assert a == b, text


def test_lookahead_bound_is_respected() -> None:
    # A pattern's lookahead reads at most LOOKAHEAD characters: keep the constant honest.
    assert LOOKAHEAD >= 2
