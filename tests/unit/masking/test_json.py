from __future__ import annotations

import json

from proctor.masking import ColumnInfo, Masker, MaskingStats, TypeCategory


def test_keys_are_hints(masker: Masker) -> None:
    doc = {
        "customer": {"name": "Jane", "ssn": "123456789", "phoneNumber": "8062312102"},
        "password": "hunter2",
        "order_id": "123-45-6789",
        "card": {"number": 4111111111111111, "exp": "12/29"},
        "ok": True,
        "n": None,
        "amount": 12.5,
    }
    out = masker.mask_json(doc)
    assert out["customer"] == {"name": "[NAME]", "ssn": "[SSN]", "phoneNumber": "[PHONE]"}
    assert out["password"] == "[SECRET]"
    assert out["order_id"] == "123-45-6789"
    assert out["card"]["number"] is None  # a number stays a number or becomes null
    assert out["ok"] is True and out["n"] is None and out["amount"] == 12.5


def test_text_in_text_out_and_unchanged_identity(masker: Masker) -> None:
    text = '{"a": 1, "b": ["x", "y"]}'
    assert masker.mask_json(text) is text
    masked = masker.mask_json('{"email": "jane@example.com", "list": ["10.0.0.1"]}')
    assert json.loads(masked) == {"email": "[EMAIL]", "list": ["[IP]"]}
    compact = masker.mask_json('{"email":"jane@example.com"}')
    assert compact == '{"email":"[EMAIL]"}'


def test_json_nested_in_strings(masker: Masker) -> None:
    inner = json.dumps({"content": [{"type": "text", "text": json.dumps({"ssn": "123-45-6789"})}]})
    out = masker.mask_json({"result": inner})
    assert "123-45-6789" not in json.dumps(out)
    assert json.loads(json.loads(out["result"])["content"][0]["text"]) == {"ssn": "[SSN]"}


def test_not_json_is_masked_as_text(masker: Masker) -> None:
    assert masker.mask_json("mail jane@example.com {") == "mail [EMAIL] {"


def test_json_column_and_stats(masker: Masker) -> None:
    plan = masker.plan_columns([ColumnInfo("profile", TypeCategory.JSON)])
    out = plan.mask_cell(0, '{"email": "jane@example.com", "note": "call (806) 231-2102"}')
    assert out is not None
    assert json.loads(out) == {"email": "[EMAIL]", "note": "call [PHONE]"}
    assert plan.stats.by_column() == {"profile": {"email": 1, "phone": 1}}
    stats = MaskingStats()
    masker.mask_json('{"ip": "10.0.0.1"}', stats=stats)
    assert stats.by_entity() == {"ip": 1}


def test_deep_json_fails_closed_or_scans(masker: Masker) -> None:
    deep = "[" * 5000 + "]" * 5000
    assert masker.mask_json(deep) == deep  # too deep to parse: scanned as text, nothing found
