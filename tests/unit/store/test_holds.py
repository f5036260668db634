"""Legal holds in the store: on a session or a connection, released with history kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from proctor.store import SqlStore, open_store
from proctor.store.holds import LegalHoldStore

from .store_contract import T0


@pytest.fixture
def holds(tmp_path: Path) -> Iterator[LegalHoldStore]:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", migrate=True) as store:
        yield LegalHoldStore(store)


def test_hold_on_a_session_and_on_a_connection(holds: LegalHoldStore) -> None:
    a = holds.hold(reason="case 1", created_by="legal", session_id="s1", at=T0)
    b = holds.hold(reason="case 2", created_by="legal", connection="shop", at=T0)
    assert a.id.startswith("hld_") and a.active and a.target == "session s1"
    assert b.target == "connection shop"
    assert holds.holds_on("s1", "orders") == [a]
    assert holds.holds_on("s2", "shop") == [b]
    assert {h.id for h in holds.holds_on("s1", "shop")} == {a.id, b.id}
    assert holds.holds_on("s2", None) == []
    assert holds.list() == [a, b]


def test_release_keeps_history(holds: LegalHoldStore) -> None:
    a = holds.hold(reason="case 1", created_by="legal", session_id="s1", at=T0)
    released = holds.release(released_by="dpo", session_id="s1", at=T0 + timedelta(days=1))
    assert [h.id for h in released] == [a.id]
    assert released[0].released_by == "dpo" and not released[0].active
    assert released[0].released_at == T0 + timedelta(days=1)
    assert holds.holds_on("s1", None) == []
    assert holds.release(released_by="dpo", session_id="s1") == []
    assert holds.list() == []
    assert holds.list(include_released=True) == released


def test_one_target_and_a_reason(holds: LegalHoldStore) -> None:
    with pytest.raises(ValueError, match="either a session or a connection"):
        holds.hold(reason="x", created_by="y")
    with pytest.raises(ValueError, match="either a session or a connection"):
        holds.hold(reason="x", created_by="y", session_id="s", connection="c")
    with pytest.raises(ValueError, match="needs a reason"):
        holds.hold(reason=" ", created_by="y", session_id="s")
    with pytest.raises(ValueError, match="one hold id"):
        holds.release(released_by="y")


def test_the_store_migrates_to_the_holds_revision(tmp_path: Path) -> None:
    with SqlStore(f"sqlite:///{tmp_path / 'db'}") as store:
        store.migrate("0005")
        store.migrate("0006")
        assert store.schema_revision() == "0006"
        store.downgrade("0005")
        assert store.schema_revision() == "0005"
