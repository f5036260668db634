"""``proctor token`` and ``proctor sessions`` through click's runner, on a SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from proctor.cli import sessions_cmd, token_cmd
from proctor.cli.sessions_cmd import sessions_group
from proctor.cli.store_open import (
    format_duration,
    format_time,
    open_store_from_config,
    printable,
)
from proctor.cli.token_cmd import Duration, token_group
from proctor.store import SqlStore, open_store

from .store_contract import T0, end, start, stmt

CONFIG = 'version: 1\nstore: {url: "sqlite:///state.db"}\nconnections: []\n'


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "proctor.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def store(config_path: Path) -> Iterator[SqlStore]:
    """The store the commands use (the config's sqlite:///state.db, beside the config)."""
    with open_store(f"sqlite:///{config_path.parent / 'state.db'}", migrate=True) as s:
        yield s


def run(group: click.Group, config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(group, [*args, "--config", str(config_path)])


# -- token create ---------------------------------------------------------------------------


def test_create_prints_the_token_alone_on_stdout(config_path: Path, store: SqlStore) -> None:
    result = run(
        token_group,
        config_path,
        "create",
        "--subject",
        "alice",
        "--group",
        "dba",
        "--group",
        "dev",
        "--connection",
        "shop",
        "--description",
        "laptop",
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert result.stdout == secret + "\n"
    assert secret.startswith("prt_")
    assert "will not be shown again" in result.stderr
    record = store.verify_token(secret)
    assert record is not None
    assert record.id in result.stderr
    assert record.subject == "alice"
    assert record.groups == {"dba", "dev"}
    assert record.connections == {"shop"}
    assert record.description == "laptop"
    assert record.expires_at - record.created_at == timedelta(hours=8)  # the default ttl


def test_create_json(config_path: Path, store: SqlStore) -> None:
    result = run(
        token_group, config_path, "create", "--subject", "ci:deploy", "--ttl", "2d", "--json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"id", "token", "subject", "groups", "expires_at", "connections"}
    assert out["subject"] == "ci:deploy"
    assert out["groups"] == []
    assert out["connections"] == []
    record = store.verify_token(out["token"])
    assert record is not None
    assert record.id == out["id"]
    assert datetime.fromisoformat(out["expires_at"]) == record.expires_at
    assert record.expires_at - record.created_at == timedelta(days=2)


@pytest.mark.parametrize("ttl", ["soon", "0s", "-5m", "8 hours", "1e400d", "9999999999d"])
def test_create_rejects_bad_ttls(config_path: Path, ttl: str) -> None:
    result = run(token_group, config_path, "create", "--subject", "alice", "--ttl", ttl)
    assert result.exit_code == 2
    assert "--ttl" in result.stderr


def test_create_needs_a_subject(config_path: Path) -> None:
    result = run(token_group, config_path, "create")
    assert result.exit_code == 2
    assert "--subject" in result.stderr
    empty = run(token_group, config_path, "create", "--subject", "")
    assert empty.exit_code == 2
    assert "needs a subject" in empty.stderr


def test_create_ttl_past_the_calendar(config_path: Path) -> None:
    result = run(token_group, config_path, "create", "--subject", "a", "--ttl", "3000000d")
    assert result.exit_code == 2
    assert "year 10000" in result.stderr


# -- token list / revoke --------------------------------------------------------------------


def test_list_shows_tokens_but_never_secrets(config_path: Path, store: SqlStore) -> None:
    alice = store.create_token("alice", frozenset({"dba"}), timedelta(hours=1))
    bob = store.create_token("bob", frozenset(), timedelta(hours=1))
    store.revoke_token(bob.record.id)

    result = run(token_group, config_path, "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "SUBJECT", "GROUPS", "CREATED", "EXPIRES", "STATUS"]
    assert len(lines) == 2
    assert lines[1].split()[:3] == [alice.record.id, "alice", "dba"]
    assert lines[1].endswith("active")
    assert format_time(alice.record.expires_at) in lines[1]

    everything = run(token_group, config_path, "list", "--all")
    assert everything.exit_code == 0
    assert [line.split()[-1] for line in everything.stdout.splitlines()[1:]] == [
        "revoked",
        "active",
    ]
    for output in (result.stdout, everything.stdout):
        for issued in (alice, bob):
            assert issued.secret not in output
            assert issued.secret[4:12] not in output


def test_list_json(config_path: Path, store: SqlStore) -> None:
    issued = store.create_token(
        "alice", frozenset({"dba"}), timedelta(hours=1), frozenset({"shop"}), "laptop"
    )
    result = run(token_group, config_path, "list", "--json", "--all")
    assert result.exit_code == 0, result.output
    (out,) = json.loads(result.stdout)
    assert out == {
        "id": issued.record.id,
        "subject": "alice",
        "groups": ["dba"],
        "connections": ["shop"],
        "description": "laptop",
        "created_at": issued.record.created_at.isoformat(),
        "expires_at": issued.record.expires_at.isoformat(),
        "revoked_at": None,
        "status": "active",
    }
    assert issued.secret not in result.stdout


def test_list_empty(config_path: Path, store: SqlStore) -> None:
    result = run(token_group, config_path, "list")
    assert result.exit_code == 0
    assert "No active tokens" in result.stdout
    assert json.loads(run(token_group, config_path, "list", "--json").stdout) == []


def test_revoke(config_path: Path, store: SqlStore) -> None:
    issued = store.create_token("alice", frozenset(), timedelta(hours=1))
    result = run(token_group, config_path, "revoke", issued.record.id)
    assert result.exit_code == 0, result.output
    assert f"Revoked {issued.record.id}" in result.stdout
    assert store.verify_token(issued.secret) is None

    again = run(token_group, config_path, "revoke", issued.record.id)
    assert again.exit_code == 1
    assert "already revoked" in again.stderr

    unknown = run(token_group, config_path, "revoke", "tok_nonexistent")
    assert unknown.exit_code == 1
    assert "no token with id 'tok_nonexistent'" in unknown.stderr


# -- sessions ---------------------------------------------------------------------------------


@pytest.fixture
def recorded(store: SqlStore) -> SqlStore:
    store.session_started(start("s1", "alice", "shop", T0))
    store.session_started(start("s2", "bob", "billing", T0 + timedelta(minutes=1)))
    store.session_started(start("s3", "alice", "billing", T0 + timedelta(minutes=2)))
    store.statements_recorded(
        [
            stmt(2, "s1", text="SELECT *\nFROM orders\nWHERE id = 1"),
            stmt(1, "s1", text="BEGIN"),
            stmt(3, "s1", text="DROP TABLE orders", verdict="deny", error="DROP is denied"),
            stmt(4, "s1", text="SELECT '\x1b[2J'"),
        ]
    )
    store.session_ended(end("s1", ended_at=T0 + timedelta(minutes=5, seconds=3), statements=4))
    return store


def test_sessions_list(config_path: Path, recorded: SqlStore) -> None:
    result = run(sessions_group, config_path, "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "STARTED",
        "DURATION",
        "SUBJECT",
        "CONNECTION",
        "DATABASE",
        "STMTS",
        "END",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["s3", "s2", "s1"]
    assert "5m 3s" in lines[3]
    assert lines[3].endswith("client-closed")
    assert lines[1].endswith("open")

    def ids(*args: str) -> list[str]:
        out = run(sessions_group, config_path, "list", "--json", *args)
        assert out.exit_code == 0, out.output
        return [s["id"] for s in json.loads(out.stdout)]

    assert ids() == ["s3", "s2", "s1"]
    assert ids("--subject", "alice") == ["s3", "s1"]
    assert ids("--connection", "billing") == ["s3", "s2"]
    assert ids("--subject", "alice", "--connection", "shop") == ["s1"]
    assert ids("--limit", "1") == ["s3"]
    assert run(sessions_group, config_path, "list", "--limit", "0").exit_code == 2


def test_sessions_list_json_fields(config_path: Path, recorded: SqlStore) -> None:
    result = run(sessions_group, config_path, "list", "--json", "--subject", "alice")
    ended = json.loads(result.stdout)[1]
    assert ended == {
        "id": "s1",
        "subject": "alice",
        "groups": ["dba", "dev"],
        "connection": "shop",
        "database": "shop",
        "protocol": "postgres",
        "client_addr": "127.0.0.1:50000",
        "token_id": "tok_abcdefabcdef",
        "gateway_version": "0.1.0",
        "started_at": "2025-03-01T12:00:00.123456+00:00",
        "ended_at": "2025-03-01T12:05:03.123456+00:00",
        "end_reason": "client-closed",
        "statements": 4,
        "bytes_from_client": 1234,
        "bytes_to_client": 5_000_000_000,
    }


def test_sessions_list_empty(config_path: Path, store: SqlStore) -> None:
    result = run(sessions_group, config_path, "list")
    assert result.exit_code == 0
    assert result.stdout == "No sessions.\n"


def test_sessions_show(config_path: Path, recorded: SqlStore) -> None:
    result = run(sessions_group, config_path, "show", "s1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Session:    s1" in out
    assert "Subject:    alice (groups: dba, dev)" in out
    assert "client-closed" in out
    assert "5m 3s" in out
    assert "Statements (4):" in out
    body = out[out.index("Statements (4):") :].splitlines()[1:]
    assert [line.split()[0] for line in body if line.lstrip()[:1].isdigit()][:4] == [
        "1",
        "2",
        "3",
        "4",
    ]
    assert body[1].endswith("SELECT *")
    assert body[2].strip() == "FROM orders"
    assert "error: DROP is denied" in out
    # A client's escape sequence is shown, not obeyed.
    assert "\x1b" not in out
    assert "SELECT '\\x1b[2J'" in out


def test_sessions_show_open_session(config_path: Path, recorded: SqlStore) -> None:
    result = run(sessions_group, config_path, "show", "s2")
    assert result.exit_code == 0, result.output
    assert "(open)" in result.stdout
    assert "Statements (0):" in result.stdout


def test_sessions_show_json(config_path: Path, recorded: SqlStore) -> None:
    result = run(sessions_group, config_path, "show", "s1", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["session"]["id"] == "s1"
    assert [s["seq"] for s in out["statements"]] == [1, 2, 3, 4]
    assert out["statements"][2] == {
        "seq": 3,
        "at": "2025-03-01T12:00:03.123456+00:00",
        "kind": "simple",
        "verdict": "deny",
        "rule": None,
        "text": "DROP TABLE orders",
        "error": "DROP is denied",
    }
    assert out["statements"][3]["text"] == "SELECT '\x1b[2J'"


def test_sessions_show_unknown(config_path: Path, store: SqlStore) -> None:
    result = run(sessions_group, config_path, "show", "nope")
    assert result.exit_code == 1
    assert "no session with id 'nope'" in result.stderr


# -- opening the store ------------------------------------------------------------------------


def test_a_bad_config_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "proctor.yaml"
    path.write_text("version: 1\nstore: {url: 42}\nconnections: []\n")
    result = run(token_group, path, "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert str(path) in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_config_is_an_error(tmp_path: Path) -> None:
    result = run(sessions_group, tmp_path / "nowhere.yaml", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")


def test_an_unreachable_store_is_an_error_without_the_password(tmp_path: Path) -> None:
    path = tmp_path / "proctor.yaml"
    url = "postgresql://proctor:hunter2@127.0.0.1:1/proctor"
    path.write_text(f'version: 1\nstore: {{url: "{url}"}}\nconnections: []\n')
    with pytest.raises(click.ClickException) as info:
        open_store_from_config(path)
    assert "cannot open the state store" in info.value.message
    assert "hunter2" not in info.value.message
    result = run(token_group, path, "list")
    assert result.exit_code == 1
    assert "hunter2" not in result.output


def test_the_commands_are_the_exported_groups() -> None:
    assert token_cmd.token_group.name == "token"
    assert sessions_cmd.sessions_group.name == "sessions"
    assert set(token_group.commands) == {"create", "list", "revoke"}
    assert set(sessions_group.commands) == {"list", "show"}


# -- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("8h", timedelta(hours=8)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(minutes=90)),
    ],
)
def test_duration(text: str, expected: timedelta) -> None:
    assert Duration().convert(text, None, None) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=42), "42s"),
        (timedelta(minutes=5, seconds=3), "5m 3s"),
        (timedelta(hours=2, minutes=5, seconds=9), "2h 5m"),
        (timedelta(days=3, hours=4), "3d 4h"),
        (timedelta(days=1, seconds=5), "1d 5s"),
        (timedelta(seconds=-3), "0s"),
    ],
)
def test_format_duration(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


def test_printable() -> None:
    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable("\x1b[31mred\x07\x9b") == "\\x1b[31mred\\x07\\x9b"


def test_format_time_is_utc() -> None:
    assert format_time(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02 03:04:05Z"
    assert format_time(None) == "-"
