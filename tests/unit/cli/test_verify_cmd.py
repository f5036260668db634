"""``proctor verify`` and ``proctor ledger status``: exit 0 only when everything verifies;
each tamper case exits 1 and names the first bad event and why."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from proctor.recording.keys import SigningKey
from proctor.recording.storage.local import LocalBlobStorage

from .conftest import Env, rebuild, records, replace

SEG0 = "sessions/s1/000000.seg"
SEG1 = "sessions/s1/000001.seg"


def two_sessions(env: Env) -> None:
    env.record("s1", checkpoint_at=[2])  # two segments: checkpoint after event 2, then seal
    env.record("s2")


def test_good_recordings_verify(env: Env) -> None:
    two_sessions(env)
    result = env.run("verify", "--all")
    assert result.exit_code == 0, result.output
    assert "s1: ok, sealed, 11 records in 2 segments, 2 signatures" in result.output
    assert "s2: ok, sealed" in result.output
    assert "ledger: ok, 3 leaves (2 sessions, 0 tombstones)" in result.output
    assert result.output.rstrip().endswith("OK: 2 sessions (2 sealed)")
    one = env.run("verify", "s2")
    assert one.exit_code == 0, one.output
    assert "s1" not in one.output


def test_json_report(env: Env) -> None:
    two_sessions(env)
    result = env.run("verify", "--all", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] is True
    assert out["ledger"]["size"] == 3
    assert out["ledger"]["head"]["kid"] == env.signer.id.hex()
    s1 = out["sessions"][0]
    assert s1 == {
        **s1,
        "session": "s1",
        "ok": True,
        "status": "sealed",
        "records": 11,
        "verified_through": 10,
        "checkpoints": 2,
        "segments": 2,
        "key_ids": [env.signer.id.hex()],
        "problems": [],
    }


def test_exactly_one_selection(env: Env) -> None:
    assert env.run("verify").exit_code == 2
    assert env.run("verify", "s1", "--all").exit_code == 2
    assert "SESSION_ID" in env.run("verify", "../etc").output


def test_unknown_session_fails(env: Env) -> None:
    two_sessions(env)
    result = env.run("verify", "nope")
    assert result.exit_code == 1
    assert "nope: FAILED, missing-session: no such session in storage" in result.output


# -- tampering ----------------------------------------------------------------------------------


def failing(env: Env, *args: str) -> str:
    result = env.run("verify", *args)
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    return result.output


def test_flip_a_byte(env: Env) -> None:
    two_sessions(env)
    raws = records(env.storage.get(SEG0))
    bad = bytearray(raws[1])
    bad[-3] ^= 0x01  # inside the encrypted body of record 1
    raws[1] = bytes(bad)
    replace(env.storage, SEG0, rebuild(raws))
    out = failing(env, "--all")
    assert (
        "s1: FAILED, hash-mismatch: hash of record 1 does not match the prev of record 2: "
        "record 1 was altered (segment 0, event 1)"
    ) in out
    assert "s2: ok, sealed" in out


def test_drop_an_event(env: Env) -> None:
    two_sessions(env)
    raws = records(env.storage.get(SEG0))
    del raws[2]
    replace(env.storage, SEG0, rebuild(raws))
    out = failing(env, "s1")
    assert "s1: FAILED, dropped: records 2..2 are missing (next stored record is 3)" in out
    assert "(segment 0, event 2)" in out


def test_reorder_two_events(env: Env) -> None:
    two_sessions(env)
    raws = records(env.storage.get(SEG0))
    raws[1], raws[2] = raws[2], raws[1]
    replace(env.storage, SEG0, rebuild(raws))
    assert "s1: FAILED, reordered: record with seq 2 where 1 belongs" in failing(env, "s1")


def test_truncate(env: Env) -> None:
    two_sessions(env)
    blob = env.storage.get(SEG1)
    replace(env.storage, SEG1, blob[:-40])
    out = failing(env, "s1")
    assert "s1: FAILED, truncated:" in out
    assert "segment 1" in out


def test_delete_a_whole_session(env: Env) -> None:
    two_sessions(env)
    for key in list(env.storage.list("sessions/s1/")):
        env.storage.delete(key)
    out = failing(env, "--all")
    assert (
        "s1: FAILED, missing-session: the ledger records this session but storage has none "
        "of it, and there is no tombstone"
    ) in out


def test_replaced_by_a_session_signed_with_another_key(env: Env, tmp_path: Path) -> None:
    two_sessions(env)
    other = LocalBlobStorage(tmp_path / "forged")
    mallory = SigningKey.generate()
    env.record("s1", signer=mallory, storage=other)
    for key in list(env.storage.list("sessions/s1/")):
        env.storage.delete(key)
    for key in other.list("sessions/s1/"):
        env.storage.put(key, other.get(key))
    out = failing(env, "s1")
    assert f"s1: FAILED, unknown-key: seal signed by key {mallory.id.hex()}" in out
    assert "not in the keyring (re-signed by someone else?)" in out
    # Even with the forger's public key among the trusted ones, the ledger catches it.
    (env.keys_dir / "public" / "mallory.pem").write_bytes(mallory.public_pem())
    out = failing(env, "s1")
    assert "s1: FAILED, ledger-mismatch: segment 0 differs from the one the ledger" in out
    assert "the session was replaced" in out


def test_ledger_rollback(env: Env) -> None:
    env.record("s1")
    env.record("s2")
    assert env.run("verify", "--all").exit_code == 0  # remembers the head of size 2
    remembered = json.loads((env.root / "state" / "ledger-head.json").read_text())
    assert remembered["size"] == 2
    # Roll back: the newest batch and head go, and with them s2's blobs.
    env.storage.delete("ledger/leaves/000000000001.leaves")
    env.storage.delete("ledger/heads/000000000002.sth")
    for key in list(env.storage.list("sessions/s2/")):
        env.storage.delete(key)
    out = failing(env, "--all")
    assert (
        "ledger-rolled-back: trusted tree head of size 2 " in out
        and "covers 2 leaves but storage holds only 1: the ledger was rolled back or truncated"
        in out
    )
    # The trusted copy is not overwritten by the shorter ledger.
    assert json.loads((env.root / "state" / "ledger-head.json").read_text())["size"] == 2
    status = env.run("ledger", "status")
    assert status.exit_code == 1
    assert "ledger: FAILED" in status.output


def test_rollback_without_a_remembered_head_still_shows_in_sessions(env: Env) -> None:
    env.record("s1")
    env.record("s2")
    env.storage.delete("ledger/leaves/000000000001.leaves")
    env.storage.delete("ledger/heads/000000000002.sth")
    out = failing(env, "--all", "--no-remember")
    assert "s2: FAILED, not-in-ledger: session s2 has no entry in the ledger" in out


def test_splice_an_event_from_another_session(env: Env) -> None:
    two_sessions(env)
    mine = records(env.storage.get(SEG0))
    theirs = records(env.storage.get("sessions/s2/000000.seg"))
    mine[2] = theirs[2]
    replace(env.storage, SEG0, rebuild(mine))
    out = failing(env, "s1")
    assert "s1: FAILED, foreign-event: record belongs to another session" in out
    assert "(segment 0, event 2)" in out


# -- unsealed sessions ------------------------------------------------------------------------


def test_unsealed_fails_unless_allowed(env: Env) -> None:
    env.record("live", seal=False, checkpoint_at=[3], at=datetime.now(UTC) - timedelta(seconds=30))
    out = failing(env, "live")
    assert "live: FAILED, unsealed (live): records 0..5 verified, last checkpoint" in out
    assert env.run("verify", "live", "--allow-unsealed").exit_code == 0
    live = env.run("verify", "live", "--allow-live")
    assert live.exit_code == 0, live.output
    assert "live: ok, unsealed (live)" in live.output


def test_an_old_unsealed_session_is_a_crash_not_live(env: Env) -> None:
    env.record("crashed", seal=False, checkpoint_at=[3], at=datetime.now(UTC) - timedelta(days=2))
    out = failing(env, "crashed", "--allow-live")
    assert "crashed: FAILED, unsealed (live or crashed)" in out
    assert "1d 23h ago" in out
    assert env.run("verify", "crashed", "--allow-unsealed").exit_code == 0


# -- auditors: public keys and a copy of the recordings, no configuration ---------------------


def test_verify_offline_with_public_keys_only(env: Env, tmp_path: Path) -> None:
    two_sessions(env)
    audit = tmp_path / "audit"
    shutil.copytree(env.keys_dir / "public", audit / "keys")
    shutil.copytree(env.root / "recordings", audit / "recordings")
    args = ["--recordings", str(audit / "recordings"), "--keys", str(audit / "keys")]
    result = env.run_bare("verify", "--all", *args, "--config", str(tmp_path / "none.yaml"))
    assert result.exit_code == 0, result.output
    assert "OK: 2 sessions (2 sealed)" in result.output
    # Nothing private was needed, nothing was remembered (no state dir given).
    assert not (audit / "keys" / "kek.key").exists()
    assert "no remembered head" in result.output
    head = tmp_path / "auditor-head.json"
    again = env.run_bare("verify", "--all", *args, "--trusted-head", str(head))
    assert again.exit_code == 0, again.output
    assert json.loads(head.read_text())["size"] == 3
    replace(LocalBlobStorage(audit / "recordings"), SEG1, b"")
    assert env.run_bare("verify", "s1", *args).exit_code == 1


def test_since(env: Env) -> None:
    now = datetime.now(UTC)
    env.record("old", at=now - timedelta(days=10))
    env.record("new", at=now - timedelta(hours=1))
    result = env.run("verify", "--since", "2d")
    assert result.exit_code == 0, result.output
    assert "new: ok" in result.output and "old:" not in result.output
    day = (now - timedelta(days=11)).date().isoformat()
    assert "OK: 2 sessions" in env.run("verify", "--since", day).output
    assert env.run("verify", "--since", "yesterday-ish").exit_code == 2


# -- ledger status ------------------------------------------------------------------------------


def test_ledger_status(env: Env) -> None:
    two_sessions(env)
    result = env.run("ledger", "status", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] is True
    assert out["size"] == 3
    assert out["head"]["size"] == 3
    assert out["head"]["kid"] == env.signer.id.hex()
    assert out["tombstones"] == 0
    assert out["remembered_head"] is None and out["remembered_updated"] is True
    assert out["remembered_head_file"] == str(env.root / "state" / "ledger-head.json")
    text = env.run("ledger", "status")
    assert text.exit_code == 0
    assert "remembered head: size 3" in text.output and "consistent" in text.output
    assert f"root: {out['root']}" in text.output
    assert oct((env.root / "state" / "ledger-head.json").stat().st_mode & 0o777) == "0o600"


def test_damaged_remembered_head_is_an_error(env: Env) -> None:
    two_sessions(env)
    (env.root / "state").mkdir()
    (env.root / "state" / "ledger-head.json").write_text("{not json")
    result = env.run("ledger", "status")
    assert result.exit_code == 1
    assert "cannot read the remembered ledger head" in result.output


# -- key rotation -------------------------------------------------------------------------------


def test_rotate_key_then_old_sessions_still_verify(env: Env) -> None:
    env.record("before")
    old = env.signer.id.hex()
    rotated = env.run("recordings", "rotate-key")
    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    assert new != old and "restarted" in rotated.stderr
    env.record("after")  # signed with the new current key
    result = env.run("verify", "--all", "--json")
    assert result.exit_code == 0, result.output
    by_id = {s["session"]: s for s in json.loads(result.output)["sessions"]}
    assert by_id["before"]["key_ids"] == [old]
    assert by_id["after"]["key_ids"] == [new]
    keys = env.run("recordings", "keys")
    assert keys.exit_code == 0, keys.output
    assert f"{new}  (current)" in keys.output and f"{old}  (retired)" in keys.output
    assert "key-encryption key: file:" in keys.output
    listed = json.loads(env.run("recordings", "keys", "--json").output)
    assert {k["kid"] for k in listed["public_keys"]} == {old, new}
    assert listed["current"] == new
