"""``proctor recordings purge`` and legal holds: expired sessions go with a signed tombstone,
``verify`` then says "deleted by policy"; holds, unreadable, tampered and locked sessions stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from proctor.cli.recordings_purge import Action, purge
from proctor.config.retention import RetentionConfig
from proctor.recording.keystore import keks, public_keys
from proctor.recording.storage.base import BlobStorage
from proctor.store import open_store
from proctor.store.holds import LegalHoldStore

from .conftest import Env, rebuild, records, replace

NOW = datetime.now(UTC)
TODAY = f"{NOW:%Y-%m-%d}"


@pytest.fixture
def sessions(env: Env) -> Env:
    env.record("shop-old", connection="shop", at=NOW - timedelta(days=40))  # 30d: expired
    env.record("shop-new", connection="shop", at=NOW - timedelta(days=10))
    env.record("billing-old", connection="billing", at=NOW - timedelta(days=40))  # prod: 7y
    env.record("orders-old", connection="orders", at=NOW - timedelta(days=500))  # 400d
    env.record("orders-mid", connection="orders", at=NOW - timedelta(days=40))
    return env


def stored(env: Env) -> set[str]:
    return {k.split("/")[1] for k in env.storage.list("sessions/")}


def purged(env: Env, *args: str) -> dict[str, dict[str, str]]:
    result = env.run("recordings", "purge", "--json", *args)
    out = json.loads(result.stdout)
    assert result.exit_code == (0 if out["ok"] else 1), result.output
    return {s["session"]: s for s in out["sessions"]}


def test_purge_deletes_expired_sessions_with_tombstones(sessions: Env) -> None:
    env = sessions
    result = env.run("recordings", "purge")
    assert result.exit_code == 0, result.output
    assert "shop-old: deleted: retention 30d (connections shop) expired on" in result.output
    assert "orders-old: deleted: retention 400d (default) expired on" in result.output
    assert result.output.rstrip().endswith("purge: 2 deleted, 3 kept")
    assert stored(env) == {"shop-new", "billing-old", "orders-mid"}
    verify = env.run("verify", "--all")
    assert verify.exit_code == 0, verify.output
    assert f"shop-old: ok, deleted by policy on {TODAY} (retention 30d" in verify.output
    assert f"orders-old: ok, deleted by policy on {TODAY}" in verify.output
    assert "OK: 5 sessions (3 sealed, 2 deleted)" in verify.output
    status = json.loads(env.run("ledger", "status", "--json").output)
    assert status["tombstones"] == 2 and status["ok"] is True
    # Nothing left to do.
    again = purged(env)
    assert {s["action"] for s in again.values()} == {"kept"}


def test_kept_sessions_say_until_when_and_why(sessions: Env) -> None:
    out = purged(sessions, "--dry-run")
    assert out["billing-old"]["retain"] == "7y"
    assert out["billing-old"]["rule"] == "tags env=prod"
    assert out["shop-new"]["detail"].startswith("retained until ")
    assert out["orders-mid"]["rule"] == "default"
    assert out["orders-mid"]["connection"] == "orders"


def test_dry_run_deletes_nothing(sessions: Env) -> None:
    result = sessions.run("recordings", "purge", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "shop-old: would-delete: retention 30d" in result.output
    assert "dry run: 3 kept, 2 would-delete" in result.output
    assert len(stored(sessions)) == 5
    assert json.loads(sessions.run("ledger", "status", "--json").output)["tombstones"] == 0


def test_legal_hold_on_a_session_or_connection_prevents_purge(sessions: Env) -> None:
    env = sessions
    held = env.run("recordings", "hold", "shop-old", "--reason", "case 42", "--by", "legal")
    assert held.exit_code == 0, held.output
    assert held.output.startswith("hld_") and "legal hold on session shop-old" in held.output
    assert (
        env.run("recordings", "hold", "--connection", "orders", "--reason", "audit").exit_code == 0
    )
    listed = env.run("recordings", "holds")
    assert "session shop-old" in listed.output and "connection orders" in listed.output
    out = purged(env)
    assert out["shop-old"]["action"] == "held"
    assert "on session shop-old by legal: case 42" in out["shop-old"]["detail"]
    assert out["orders-old"]["action"] == "held"
    assert stored(env) >= {"shop-old", "orders-old"}

    released = env.run("recordings", "release", "shop-old")
    assert released.exit_code == 0, released.output
    assert "released the legal hold on session shop-old" in released.output
    assert env.run("recordings", "release", "shop-old").exit_code == 1  # none active now
    out = purged(env)
    assert out["shop-old"]["action"] == "deleted"
    assert out["orders-old"]["action"] == "held"
    history = json.loads(env.run("recordings", "holds", "--all", "--json").output)
    assert [h["released_at"] is not None for h in history] == [True, False]


def test_hold_needs_one_target_and_a_reason(env: Env) -> None:
    assert env.run("recordings", "hold", "--reason", "x").exit_code == 2
    assert (
        env.run("recordings", "hold", "s1", "--connection", "shop", "--reason", "x").exit_code == 2
    )
    assert env.run("recordings", "hold", "s1").exit_code == 2
    assert env.run("recordings", "hold", "s1", "--reason", " ").exit_code == 2


def test_without_the_kek_a_session_is_skipped_not_guessed(sessions: Env) -> None:
    (sessions.keys_dir / "kek.key").unlink()
    result = sessions.run("recordings", "purge", "--dry-run")
    assert result.exit_code == 1
    assert "shop-old: skipped: cannot read its start event" in result.output
    assert "make the key-encryption key available" in result.output
    assert len(stored(sessions)) == 5


def test_a_tampered_expired_session_is_kept_as_evidence(sessions: Env) -> None:
    env = sessions
    key = "sessions/shop-old/000000.seg"
    raws = records(env.storage.get(key))
    raws[-1] = raws[-1][:-1] + bytes([raws[-1][-1] ^ 1])  # the seal's signature
    replace(env.storage, key, rebuild(raws))
    out = purged(env)
    assert out["shop-old"]["action"] == "skipped"
    assert "does not verify, kept as evidence: bad-signature" in out["shop-old"]["detail"]
    assert "shop-old" in stored(env)
    assert out["orders-old"]["action"] == "deleted"


def test_purge_refuses_when_the_ledger_was_rolled_back(sessions: Env) -> None:
    env = sessions
    assert env.run("ledger", "status").exit_code == 0  # remember the head of size 5
    env.storage.delete("ledger/heads/000000000005.sth")
    env.storage.delete("ledger/leaves/000000000004.leaves")
    result = env.run("recordings", "purge")
    assert result.exit_code == 1
    assert "the ledger does not verify (ledger-rolled-back" in result.output
    assert "nothing is deleted" in result.output
    assert len(stored(env)) == 5


def test_unknown_connection_with_rules_by_tag_is_kept(env: Env) -> None:
    env.record("gone-old", connection="gone", at=NOW - timedelta(days=900))
    out = purged(env)
    assert out["gone-old"]["action"] == "kept"
    assert "connection gone is not in the configuration" in out["gone-old"]["detail"]


def test_an_interrupted_purge_is_finished(env: Env) -> None:
    env.record("half", connection="shop", at=NOW - timedelta(days=40))
    ledger = env.ledger()
    ledger.tombstone("half", "retention 30d", "policy", NOW)  # crash before the blobs went
    ledger.commit()
    assert "tombstoned-but-present" in env.run("verify", "half").output
    out = purged(env)
    assert out["half"]["action"] == "finished"
    assert "tombstoned on" in out["half"]["detail"]
    assert stored(env) == set()
    verify = env.run("verify", "--all")
    assert verify.exit_code == 0, verify.output
    assert "half: ok, deleted by policy" in verify.output
    assert json.loads(env.run("ledger", "status", "--json").output)["tombstones"] == 1


def test_a_locked_session_is_skipped_before_any_tombstone(sessions: Env) -> None:
    env = sessions

    def lock(storage: BlobStorage, key: str) -> str | None:
        if key.startswith("sessions/shop-old/"):
            return f"{key} is under COMPLIANCE retention until 2099-01-01T00:00:00Z"
        return None

    with open_store(f"sqlite:///{env.root / 'state.db'}", migrate=True) as store:
        result = purge(
            env.storage,
            public=public_keys(env.keys_dir),
            keks=keks(env.keys_dir),
            retention=RetentionConfig.model_validate(
                {"retain": "400d", "rules": [{"connections": ["shop"], "retain": "30d"}]}
            ),
            connection_tags={"shop": {}, "orders": {}, "billing": {"env": "prod"}},
            holds_on=LegalHoldStore(store).holds_on,
            now=NOW,
            dry_run=False,
            signer=env.signer,
            lock=lock,
        )
    by_id = {i.session_id: i for i in result.items}
    assert by_id["shop-old"].action is Action.LOCKED
    assert "under COMPLIANCE retention until 2099" in by_id["shop-old"].detail
    assert by_id["orders-old"].action is Action.DELETED
    assert result.ok
    assert "shop-old" in stored(env)
    tombstoned = json.loads(env.run("verify", "--all", "--json").output)
    statuses = {s["session"]: s["status"] for s in tombstoned["sessions"]}
    assert statuses["shop-old"] == "sealed"  # no tombstone was written for it
    assert statuses["orders-old"] == "deleted"
