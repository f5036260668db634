"""The store's behaviour, as one suite every backend runs.

A backend's test module subclasses ``StoreContract`` and provides a ``blank_url`` fixture: the
URL of an empty database, new for each test. ``test_sqlite_store`` runs it on SQLite;
``tests/integration/store/test_postgres_store`` runs it on a real PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from proctor.model import SessionEnd, SessionStart, StatementRecord
from proctor.store import SessionRow, SqlStore, StoreError, UnknownSessionError, open_store
from proctor.store.migrate import head_revision
from proctor.store.schema import metadata

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
IDENTITY_TABLES = {"login_states", "saml_assertions", "refresh_grants"}
APPROVAL_TABLES = {"approval_decisions"}
HOLD_TABLES = {"legal_holds"}
EVIDENCE_TABLES = {"config_versions"}
OUR_TABLES = {
    "tokens",
    "sessions",
    "statements",
    "access_grants",
    "approval_requests",
    *IDENTITY_TABLES,
    *APPROVAL_TABLES,
    *HOLD_TABLES,
    *EVIDENCE_TABLES,
}


def start(
    session_id: str = "ses_1",
    subject: str = "alice",
    connection: str = "shop",
    started_at: datetime = T0,
    **kw: Any,
) -> SessionStart:
    values: dict[str, Any] = {
        "groups": frozenset({"dba", "dev"}),
        "database": "shop",
        "protocol": "postgres",
        "client_addr": "127.0.0.1:50000",
        "token_id": "tok_abcdefabcdef",
        "gateway_version": "0.1.0",
    }
    values.update(kw)
    return SessionStart(
        id=session_id, subject=subject, connection=connection, started_at=started_at, **values
    )


def stmt(seq: int, session_id: str = "ses_1", **kw: Any) -> StatementRecord:
    values: dict[str, Any] = {
        "at": T0 + timedelta(seconds=seq),
        "text": f"SELECT {seq}",
        "kind": "simple",
    }
    values.update(kw)
    return StatementRecord(session_id=session_id, seq=seq, **values)


def end(session_id: str = "ses_1", **kw: Any) -> SessionEnd:
    values: dict[str, Any] = {
        "ended_at": T0 + timedelta(minutes=5),
        "reason": "client-closed",
        "statements": 3,
        "bytes_from_client": 1234,
        "bytes_to_client": 5_000_000_000,  # past 2**32: the columns are 64-bit
    }
    values.update(kw)
    return SessionEnd(id=session_id, **values)


def schema_diff(store: SqlStore) -> list[Any]:
    with store._engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def flat(diffs: list[Any]) -> list[Any]:
    """compare_metadata nests column modifications in lists; flatten to one tuple per change."""
    out: list[Any] = []
    for d in diffs:
        out.extend(d if isinstance(d, list) else [d])
    return out


def table_names(store: SqlStore) -> set[str]:
    return set(sa.inspect(store._engine).get_table_names())


class StoreContract:
    @pytest.fixture
    def store(self, blank_url: str) -> Iterator[SqlStore]:
        with open_store(blank_url, migrate=True) as s:
            yield s

    @pytest.fixture
    def another_store(self, blank_url: str, store: SqlStore) -> Iterator[SqlStore]:
        """A second store on the same database: what a second gateway process would have."""
        with open_store(blank_url) as s:
            yield s

    # -- tokens -------------------------------------------------------------------------------

    def test_create_token_mints_a_256_bit_secret_and_a_record(self, store: SqlStore) -> None:
        before = datetime.now(UTC)
        issued = store.create_token(
            "alice",
            frozenset({"dba"}),
            timedelta(hours=8),
            connections=frozenset({"shop"}),
            description="laptop",
        )
        assert issued.secret.startswith("prt_")
        raw = base64.urlsafe_b64decode(issued.secret[4:] + "=")
        assert len(raw) == 32
        record = issued.record
        assert re.fullmatch(r"tok_[A-Za-z0-9_-]{12}", record.id)
        assert record.subject == "alice"
        assert record.groups == frozenset({"dba"})
        assert record.connections == frozenset({"shop"})
        assert record.description == "laptop"
        assert record.revoked_at is None
        assert before <= record.created_at <= datetime.now(UTC)
        assert record.expires_at - record.created_at == timedelta(hours=8)
        assert issued.secret not in repr(issued)

    def test_tokens_are_unique(self, store: SqlStore) -> None:
        issued = [store.create_token("alice", frozenset(), timedelta(hours=1)) for _ in range(20)]
        assert len({i.secret for i in issued}) == 20
        assert len({i.record.id for i in issued}) == 20

    def test_verify_and_get_return_the_stored_record(self, store: SqlStore) -> None:
        issued = store.create_token("alice", frozenset({"a", "b"}), timedelta(hours=1))
        verified = store.verify_token(issued.secret)
        assert verified == issued.record
        assert store.get_token(issued.record.id) == issued.record
        assert verified is not None
        assert verified.created_at.tzinfo is UTC
        assert verified.expires_at.tzinfo is UTC

    @pytest.mark.parametrize(
        "presented",
        [
            "",
            "prt_",
            "not-a-token",
            "prt_" + "A" * 43,
            "x" * 10_000,
        ],
    )
    def test_verify_rejects_unknown_secrets(self, store: SqlStore, presented: str) -> None:
        store.create_token("alice", frozenset(), timedelta(hours=1))
        assert store.verify_token(presented) is None

    def test_verify_rejects_a_secret_off_by_one_character(self, store: SqlStore) -> None:
        secret = store.create_token("alice", frozenset(), timedelta(hours=1)).secret
        last = "A" if secret[-1] != "A" else "B"
        assert store.verify_token(secret[:-1] + last) is None

    def test_verify_rejects_expired_tokens(self, store: SqlStore) -> None:
        issued = store.create_token("alice", frozenset(), timedelta(hours=1))
        expires = issued.record.expires_at
        assert store.verify_token(issued.secret, now=expires - timedelta(microseconds=1))
        assert store.verify_token(issued.secret, now=expires) is None
        assert store.verify_token(issued.secret, now=expires + timedelta(days=1)) is None
        # Any timezone names the same instant.
        assert store.verify_token(issued.secret, now=expires.astimezone(CEST)) is None

    def test_verify_refuses_naive_now(self, store: SqlStore) -> None:
        issued = store.create_token("alice", frozenset(), timedelta(hours=1))
        with pytest.raises(ValueError, match="timezone-aware"):
            store.verify_token(issued.secret, now=datetime(2025, 1, 1))

    def test_revoke_token(self, store: SqlStore) -> None:
        issued = store.create_token("alice", frozenset(), timedelta(hours=1))
        other = store.create_token("bob", frozenset(), timedelta(hours=1))
        assert store.revoke_token(issued.record.id) is True
        assert store.verify_token(issued.secret) is None
        revoked = store.get_token(issued.record.id)
        assert revoked is not None
        assert revoked.revoked_at is not None
        assert revoked.revoked_at.tzinfo is UTC
        assert store.revoke_token(issued.record.id) is False
        assert store.revoke_token("tok_nonexistent") is False
        assert store.verify_token(other.secret) == other.record

    def test_create_token_validates(self, store: SqlStore) -> None:
        with pytest.raises(ValueError, match="ttl"):
            store.create_token("alice", frozenset(), timedelta(0))
        with pytest.raises(ValueError, match="ttl"):
            store.create_token("alice", frozenset(), timedelta(seconds=-1))
        with pytest.raises(ValueError, match="subject"):
            store.create_token("", frozenset(), timedelta(hours=1))
        with pytest.raises(ValueError, match="ttl"):
            store.create_token("alice", frozenset(), timedelta.max)
        assert store.list_tokens(include_inactive=True) == []

    def test_get_unknown_token(self, store: SqlStore) -> None:
        assert store.get_token("tok_nonexistent") is None

    def test_list_tokens_hides_inactive_unless_asked(self, store: SqlStore) -> None:
        short = store.create_token("alice", frozenset(), timedelta(minutes=5)).record
        revoked = store.create_token("bob", frozenset(), timedelta(hours=1)).record
        active = store.create_token("carol", frozenset({"ops"}), timedelta(hours=1)).record
        store.revoke_token(revoked.id)

        assert [t.id for t in store.list_tokens()] == [active.id, short.id]
        later = short.expires_at + timedelta(seconds=1)
        assert [t.id for t in store.list_tokens(now=later)] == [active.id]
        everything = store.list_tokens(include_inactive=True, now=later)
        assert [t.id for t in everything] == [active.id, revoked.id, short.id]
        assert everything[0] == active

    def test_only_the_hash_of_the_secret_is_stored(self, store: SqlStore) -> None:
        issued = store.create_token("alice", frozenset(), timedelta(hours=1))
        with store._engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM tokens")).mappings().all()
        assert len(rows) == 1
        row = dict(rows[0])
        assert row["secret_hash"] == hashlib.sha256(issued.secret.encode()).hexdigest()
        assert not any(issued.secret in str(value) for value in row.values())
        assert not any(issued.secret[4:20] in str(value) for value in row.values())

    # -- sessions -----------------------------------------------------------------------------

    def test_session_lifecycle(self, store: SqlStore) -> None:
        s = start()
        store.session_started(s)
        assert store.get_session("ses_1") == SessionRow(s, None)

        e = end()
        store.session_ended(e)
        row = store.get_session("ses_1")
        assert row == SessionRow(s, e)
        assert row is not None
        assert row.id == "ses_1"
        assert row.start.started_at.tzinfo is UTC
        assert row.end is not None
        assert row.end.ended_at.tzinfo is UTC

    def test_session_optional_fields_round_trip(self, store: SqlStore) -> None:
        s = start(groups=frozenset(), database=None, token_id=None, gateway_version="")
        store.session_started(s)
        row = store.get_session(s.id)
        assert row is not None
        assert row.start == s

    def test_timestamps_in_any_zone_come_back_in_utc(self, store: SqlStore) -> None:
        local = T0.astimezone(CEST)
        store.session_started(start(started_at=local))
        store.statements_recorded([stmt(1, at=local)])
        row = store.get_session("ses_1")
        assert row is not None
        assert row.start.started_at == T0
        assert row.start.started_at.tzinfo is UTC
        assert store.get_statements("ses_1")[0].at == T0

    def test_naive_timestamps_are_refused(self, store: SqlStore) -> None:
        naive = datetime(2025, 1, 1)
        with pytest.raises(ValueError, match="timezone-aware"):
            store.session_started(start(started_at=naive))
        store.session_started(start())
        with pytest.raises(ValueError, match="timezone-aware"):
            store.statements_recorded([stmt(1, at=naive)])
        with pytest.raises(ValueError, match="timezone-aware"):
            store.session_ended(end(ended_at=naive))

    def test_a_session_starts_once(self, store: SqlStore) -> None:
        store.session_started(start())
        with pytest.raises(StoreError, match="already recorded"):
            store.session_started(start())

    def test_session_end_first_one_wins(self, store: SqlStore) -> None:
        store.session_started(start())
        first = end(reason="client-closed")
        store.session_ended(first)
        store.session_ended(end(reason="gateway-shutdown", statements=99))
        row = store.get_session("ses_1")
        assert row is not None
        assert row.end == first

    def test_end_of_unknown_session(self, store: SqlStore) -> None:
        with pytest.raises(UnknownSessionError):
            store.session_ended(end("ses_nope"))

    def test_statements_in_seq_order(self, store: SqlStore) -> None:
        store.session_started(start())
        store.session_started(start("ses_2"))
        first = [stmt(2), stmt(1, verdict="deny", error="DROP is not allowed"), stmt(3)]
        store.statements_recorded(first)
        store.statements_recorded([stmt(4, kind="parse", text="SELECT $1")])
        store.statements_recorded([stmt(1, session_id="ses_2")])
        got = store.get_statements("ses_1")
        assert [r.seq for r in got] == [1, 2, 3, 4]
        assert got[0] == stmt(1, verdict="deny", error="DROP is not allowed")
        assert got[3] == stmt(4, kind="parse", text="SELECT $1")
        assert store.get_statements("ses_2") == [stmt(1, session_id="ses_2")]

    def test_a_batch_mixing_errors_and_rules_keeps_each_row(self, store: SqlStore) -> None:
        """Rows with and without an error or a rule in one batch (SQLite writes them in
        groups, by which are NULL): each comes back as written, and a batch with a repeated
        seq in any group records none of its rows."""
        store.session_started(start())
        batch = [
            stmt(1),
            stmt(2, verdict="deny", error="no", rule="no-drop"),
            stmt(3, rule="reads"),
            stmt(4, verdict="deny", error="refused"),
            stmt(5),
        ]
        store.statements_recorded(batch)
        assert store.get_statements("ses_1") == batch
        with pytest.raises(StoreError):
            store.statements_recorded([stmt(6), stmt(7, rule="r"), stmt(2, error="again")])
        assert store.get_statements("ses_1") == batch

    def test_empty_and_zero_like_errors_and_rules_are_not_null(self, store: SqlStore) -> None:
        """SQLite binds a missing error or rule as the integer 0 and lets the INSERT turn it
        into NULL: text that looks like nothing, or like 0, must come back as it was."""
        store.session_started(start())
        batch = [
            stmt(1, error="", rule=""),
            stmt(2, error="0", rule="0"),
            stmt(3, error=" ", rule="NULL"),
            stmt(4),
            stmt(5, text="0", kind="0", verdict="0"),
        ]
        store.statements_recorded(batch)
        assert store.get_statements("ses_1") == batch

    def test_rows_made_then_inserted_in_long_batches(self, store: SqlStore) -> None:
        """The two steps a writer thread uses (``statement_row`` where it is recorded,
        ``insert_statement_rows`` later), over more rows than one INSERT takes (SQLite
        writes ~100 rows per statement) and a batch that fails as a whole."""
        store.session_started(start())
        batch = [
            stmt(n, error=None if n % 3 else f"e{n}", rule=None if n % 5 else f"r{n}")
            for n in range(1, 1002)
        ]
        store.insert_statement_rows([store.statement_row(r) for r in batch])
        assert store.get_statements("ses_1") == batch
        again = [store.statement_row(stmt(n)) for n in range(1002, 1300)]
        again.append(store.statement_row(stmt(7)))  # a repeated seq, in the last INSERT
        with pytest.raises(StoreError):
            store.insert_statement_rows(again)
        assert store.get_statements("ses_1") == batch
        with pytest.raises(ValueError, match="timezone-aware"):
            store.statement_row(stmt(2000, at=datetime(2025, 1, 1)))

    def test_statement_text_is_stored_verbatim(self, store: SqlStore) -> None:
        store.session_started(start())
        text = "SELECT 'naïve ☃', E'\\x00', $$ ; -- $$\n\tFROM t WHERE x = '%s'" + "x" * 100_000
        store.statements_recorded([stmt(1, text=text)])
        assert store.get_statements("ses_1")[0].text == text

    def test_unstorable_characters_do_not_stop_recording(self, store: SqlStore) -> None:
        store.session_started(start())
        store.statements_recorded(
            [
                stmt(1, text="SELECT '\x00'", error="bad \x00 byte"),
                stmt(2, text="SELECT '\udcff'", error="bad \udcff byte"),
            ]
        )
        got = store.get_statements("ses_1")
        assert [(s.text, s.error) for s in got] == [
            ("SELECT '\ufffd'", "bad \ufffd byte"),
            ("SELECT '\\udcff'", "bad \\udcff byte"),
        ]

    def test_no_statements(self, store: SqlStore) -> None:
        store.statements_recorded([])
        assert store.get_statements("ses_1") == []

    def test_statements_need_their_session(self, store: SqlStore) -> None:
        with pytest.raises(StoreError, match="not recorded"):
            store.statements_recorded([stmt(1, session_id="ses_nope")])

    def test_a_batch_is_all_or_nothing(self, store: SqlStore) -> None:
        store.session_started(start())
        store.statements_recorded([stmt(1)])
        with pytest.raises(StoreError):
            store.statements_recorded([stmt(2), stmt(3), stmt(1)])
        assert [r.seq for r in store.get_statements("ses_1")] == [1]

    def test_unknown_session(self, store: SqlStore) -> None:
        assert store.get_session("ses_nope") is None
        assert store.get_statements("ses_nope") == []

    def test_list_sessions_newest_first_with_filters(self, store: SqlStore) -> None:
        specs = [
            ("s1", "alice", "shop"),
            ("s2", "bob", "shop"),
            ("s3", "alice", "billing"),
            ("s4", "alice", "shop"),
        ]
        for i, (sid, subject, conn) in enumerate(specs):
            store.session_started(start(sid, subject, conn, T0 + timedelta(minutes=i)))
        store.session_ended(end("s2"))

        def ids(rows: Any) -> list[str]:
            return [r.start.id for r in rows]

        assert ids(store.list_sessions()) == ["s4", "s3", "s2", "s1"]
        assert ids(store.list_sessions(limit=2)) == ["s4", "s3"]
        assert ids(store.list_sessions(subject="alice")) == ["s4", "s3", "s1"]
        assert ids(store.list_sessions(connection="shop")) == ["s4", "s2", "s1"]
        assert ids(store.list_sessions(subject="alice", connection="shop", limit=1)) == ["s4"]
        assert store.list_sessions(subject="nobody") == []
        listed = {r.start.id: r for r in store.list_sessions()}
        assert listed["s2"].end == end("s2")
        assert listed["s1"].end is None
        with pytest.raises(ValueError, match="limit"):
            store.list_sessions(limit=0)

    # -- concurrency --------------------------------------------------------------------------

    def test_concurrent_use_from_threads_and_two_stores(
        self, store: SqlStore, another_store: SqlStore
    ) -> None:
        workers, rounds = 8, 15
        barrier = threading.Barrier(workers)

        def work(n: int) -> list[str]:
            s = store if n % 2 else another_store
            sid = f"ses_{n}"
            barrier.wait()
            s.session_started(start(sid))
            secrets = []
            for i in range(rounds):
                issued = s.create_token(f"user{n}", frozenset(), timedelta(hours=1))
                assert s.verify_token(issued.secret) == issued.record
                secrets.append(issued.secret)
                s.statements_recorded([stmt(2 * i, sid), stmt(2 * i + 1, sid)])
                s.list_sessions(limit=5)
            assert s.revoke_token(issued.record.id)
            s.session_ended(end(sid, statements=2 * rounds))
            return secrets

        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(work, range(workers)))

        assert len(store.list_tokens()) == workers * (rounds - 1)
        assert len(store.list_tokens(include_inactive=True)) == workers * rounds
        assert all(another_store.verify_token(s) for r in results for s in r[:-1])
        for n in range(workers):
            assert len(store.get_statements(f"ses_{n}")) == 2 * rounds
            row = another_store.get_session(f"ses_{n}")
            assert row is not None
            assert row.end is not None

    def test_concurrent_migrations_upgrade_once(self, blank_url: str) -> None:
        stores = [SqlStore(blank_url) for _ in range(4)]
        barrier = threading.Barrier(len(stores))

        def migrate(s: SqlStore) -> None:
            barrier.wait()
            s.migrate()

        try:
            with ThreadPoolExecutor(len(stores)) as pool:
                list(pool.map(migrate, stores))
            assert all(s.schema_revision() == head_revision() for s in stores)
            assert schema_diff(stores[0]) == []
        finally:
            for s in stores:
                s.close()

    # -- schema -------------------------------------------------------------------------------

    def test_migrated_schema_matches_the_metadata(self, store: SqlStore) -> None:
        assert store.schema_revision() == head_revision() == "0008"
        assert table_names(store) >= OUR_TABLES
        assert schema_diff(store) == []

    def test_migrate_is_idempotent_and_keeps_data(self, store: SqlStore) -> None:
        issued = store.create_token("alice", frozenset(), timedelta(hours=1))
        store.migrate()
        assert store.verify_token(issued.secret) == issued.record

    def test_migrations_round_trip(self, blank_url: str) -> None:
        with SqlStore(blank_url) as store:
            assert store.schema_revision() is None
            store.migrate("0001")
            assert store.schema_revision() == "0001"
            assert {"tokens", "sessions", "statements"} <= table_names(store)
            assert not {"access_grants", "approval_requests"} & table_names(store)
            store.migrate()
            assert schema_diff(store) == []
            store.downgrade("0002")
            assert any(
                d[0] == "add_column" and d[3].name == "rule" for d in flat(schema_diff(store))
            )
            store.downgrade("0001")
            assert not {"access_grants", "approval_requests"} & table_names(store)
            # The comparison is not vacuous: the missing tables show up as differences.
            added = {d[1].name for d in flat(schema_diff(store)) if d[0] == "add_table"}
            assert added == {
                "access_grants",
                "approval_requests",
                *IDENTITY_TABLES,
                *APPROVAL_TABLES,
                *HOLD_TABLES,
                *EVIDENCE_TABLES,
            }
            store.downgrade("base")
            assert not OUR_TABLES & table_names(store)
            assert store.schema_revision() is None
            store.migrate()
            assert store.schema_revision() == "0008"
            assert schema_diff(store) == []
            issued = store.create_token("alice", frozenset(), timedelta(hours=1))
            assert store.verify_token(issued.secret) == issued.record
