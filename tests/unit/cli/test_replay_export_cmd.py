"""``proctor replay`` and ``proctor export``: decrypted events in order, masked rows as the
client saw them, timing; a tampered or undecryptable recording is said to be so."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from proctor.cli import recordings_cmd
from proctor.recording.events import TerminalOutput

from .conftest import Env, rebuild, records, replace

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def test_replay_shows_what_alice_ran_and_saw(env: Env) -> None:
    env.record("s1", at=AT)
    result = env.run("replay", "s1", "--speed", "0")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # verified and sealed: nothing to warn about
    lines = result.stdout.splitlines()
    assert "+    0.000s  START      alice@example.com (groups: eng) on orders/orders" in lines[0]
    assert "from 10.0.0.7:51234" in lines[0]
    expected = [
        "+    1.000s  STATEMENT #1 [allow, rule read] (select) SELECT id, email FROM customers",
        "+    2.000s  RESULT #1 2 rows (id int4, email text); masked email: emailx1",
        "  id | email",
        "  1 | a***@example.com",
        "  2 | NULL",
        "+    2.000s  MASKING #1 email: emailx1",
        "+    3.000s  STATEMENT #2 [review, rule hold] (update) UPDATE payments SET x = 1",
        "+    5.000s  APPROVAL #2 approved by bob: ticket 7",
        "+    6.000s  STATEMENT #3 [deny, rule no-ddl] (ddl) DROP TABLE customers",
        "+    6.000s  ERROR #3 [42501] denied by policy",
        "+    7.000s  END        client-closed: 3 statements, 100 B from client, 2000 B to client",
    ]
    text = "\n".join(line.strip() for line in lines)
    pos = 0
    for want in expected:
        found = text.find(want.strip(), pos)
        assert found >= 0, f"{want!r} not in order in:\n{text}"
        pos = found


def test_replay_keeps_the_timing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.record("s1", at=AT)
    waits: list[float] = []
    monkeypatch.setattr(recordings_cmd.time, "sleep", waits.append)
    assert env.run("replay", "s1", "--speed", "2", "--max-wait", "0.75").exit_code == 0
    # Gaps of 1, 1, 0, 1, 2, 1, 0, 1 s at double speed; the 1 s wait after the approval
    # (2 s gap) is capped at --max-wait.
    assert waits == [0.5, 0.5, 0.5, 0.75, 0.5, 0.5]
    waits.clear()
    assert env.run("replay", "s1", "--speed", "0").exit_code == 0
    assert waits == []


def test_replay_json(env: Env) -> None:
    env.record("s1", at=AT)
    result = env.run("replay", "s1", "--speed", "0", "--json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == [
        "start",
        "statement",
        "result",
        "masking",
        "statement",
        "approval",
        "statement",
        "error",
        "end",
    ]
    assert [e["offset"] for e in events][:3] == [0.0, 1.0, 2.0]
    assert events[3]["counts"] == {"email": {"email": 1}}


def test_export_jsonl(env: Env) -> None:
    env.record("s1", at=AT)
    result = env.run("export", "s1", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 9
    start, stmt, res = events[0], events[1], events[2]
    assert start["type"] == "start" and start["seq"] == 0
    assert start["subject"] == "alice@example.com" and start["groups"] == ["eng"]
    assert start["at"] == AT.isoformat()
    assert stmt == {
        "seq": 1,
        "at": (AT + timedelta(seconds=1)).isoformat(),
        "type": "statement",
        "text": "SELECT id, email FROM customers",
        "kind": "select",
        "verdict": "allow",
        "rule": "read",
        "statement": 1,
    }
    assert res["columns"] == [["id", "int4"], ["email", "text"]]
    assert [[base64.b64decode(c) if c else None for c in row] for row in res["rows"]] == [
        [b"1", b"a***@example.com"],
        [b"2", None],
    ]
    assert res["masked"] == {"email": {"email": 1}}
    assert events[-1]["type"] == "end" and events[-1]["reason"] == "client-closed"


def test_export_to_a_private_file(env: Env) -> None:
    env.record("s1", at=AT)
    out = env.root / "s1.jsonl"
    result = env.run("export", "s1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 9 events of s1" in result.stderr
    assert len(out.read_text().splitlines()) == 9
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_terminal_output_bytes_in_base64(env: Env) -> None:
    env.record("t1", at=AT, events=[TerminalOutput(AT, b"$ ls\r\n\x1b[31mred", "o")])
    result = env.run("export", "t1")
    data = json.loads(result.stdout.splitlines()[1])
    assert data["type"] == "terminal"
    assert base64.b64decode(data["data"]) == b"$ ls\r\n\x1b[31mred"
    shown = env.run("replay", "t1", "--speed", "0").stdout
    assert "\x1b" not in shown and "\\x1b[31mred" in shown  # no escape reaches the terminal


def test_reading_content_needs_the_kek(env: Env) -> None:
    env.record("s1", at=AT)
    (env.keys_dir / "kek.key").unlink()
    result = env.run("export", "s1")
    assert result.exit_code == 1
    assert "cannot decrypt the recording" in result.output
    assert "which was not given" in result.output
    # Verifying still works without it.
    assert env.run("verify", "s1").exit_code == 0


def test_a_tampered_recording_is_flagged_and_read_up_to_the_damage(env: Env) -> None:
    env.record("s1", at=AT)
    key = "sessions/s1/000000.seg"
    raws = records(env.storage.get(key))
    bad = bytearray(raws[4])
    bad[-3] ^= 0x01
    raws[4] = bytes(bad)
    replace(env.storage, key, rebuild(raws))
    result = env.run("replay", "s1", "--speed", "0")
    assert result.exit_code == 1
    assert "WARNING: s1 does not verify: hash-mismatch" in result.stderr
    assert "recording unreadable from here on" in result.stderr
    assert "MASKING #1" in result.stdout  # record 3: before the damage
    assert "STATEMENT #2" not in result.stdout


def test_unknown_session(env: Env) -> None:
    result = env.run("replay", "nope", "--speed", "0")
    assert result.exit_code == 1
    assert "no recording of session 'nope'" in result.output
