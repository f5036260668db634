"""Helpers: a validated configuration with an ``identity:`` section, issuers with static keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proctor.config import ProctorConfig
from proctor.store import SqlStore, open_store

CONNECTIONS = [
    {
        "name": name,
        "protocol": "postgres",
        "host": "127.0.0.1",
        "port": 5432,
        "credential": {"username": "app"},
        "tags": tags,
    }
    for name, tags in (("shop", {"env": "test"}), ("pg-prod", {"env": "prod"}), ("pg-dev", {}))
]


def make_config(identity: dict[str, Any], tmp: Path | None = None) -> ProctorConfig:
    data = {"version": 1, "connections": CONNECTIONS, "identity": identity}
    context = {"config_path": (tmp or Path.cwd()) / "proctor.yaml"}
    return ProctorConfig.model_validate(data, context=context)


@pytest.fixture
def store() -> Iterator[SqlStore]:
    with open_store("sqlite:///:memory:", migrate=True) as s:
        yield s
