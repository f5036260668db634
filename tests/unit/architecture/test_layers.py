"""The dependency rules of DESIGN.md §2, checked by parsing every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src" / "proctor"

# A package may import only packages at its level or below (and never `cli`).
LAYERS: dict[str, int] = {
    "model": 0,
    "codecs": 1,
    "sql": 1,
    "config": 1,
    "store": 2,
    "policy": 3,
    "masking": 3,
    "recording": 3,
    "identity": 3,
    "approvals": 3,
    "evidence": 3,
    "pipeline": 4,
    "adapters": 5,
    "server": 6,
    "api": 6,
    "demo": 6,
    "cli": 7,
}
NO_IO = {"codecs", "sql", "model", "policy", "masking", "config"}
# DESIGN §2: the middle layer has "no sockets, no asyncio" (approvals and recording may use the
# store's interfaces and threads, but network I/O lives in server/).
NO_SOCKETS = {"approvals", "recording", "identity", "evidence"}
IO_MODULES = {"asyncio", "socket", "ssl", "selectors", "uvloop", "aiohttp", "smtplib"}


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def package_of(path: Path) -> str | None:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else None


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_respect_layers(path: Path) -> None:
    own = package_of(path)
    if own is None:
        return
    assert own in LAYERS, f"package {own!r} is not placed in a layer"
    for name in imports_of(path):
        parts = name.split(".")
        if parts[0] == "proctor" and len(parts) > 1 and parts[1] in LAYERS:
            other = parts[1]
            assert other != "cli" or own == "cli", f"{path}: nothing imports cli"
            assert LAYERS[other] <= LAYERS[own], (
                f"{path.relative_to(SRC)} ({own}) imports {name} ({other}): upward dependency"
            )
        if own in NO_IO or own in NO_SOCKETS:
            assert parts[0] not in IO_MODULES, f"{path}: {own} must do no I/O ({name})"
        if own in NO_IO:
            assert not (parts[0] == "proctor" and len(parts) > 1 and parts[1] == "store"), (
                f"{path}: {own} must not import the store"
            )


def test_codecs_are_independent_of_each_other_and_of_sql() -> None:
    for path in (SRC / "codecs").rglob("*.py"):
        codec = path.relative_to(SRC / "codecs").parts[0]
        for name in imports_of(path):
            parts = name.split(".")
            if parts[:2] == ["proctor", "sql"]:
                pytest.fail(f"{path}: codecs never import sql")
            if (
                parts[:2] == ["proctor", "codecs"]
                and len(parts) > 2
                and codec.endswith(".py") is False
            ):
                assert parts[2] == codec, f"{path}: codec {codec} imports codec {parts[2]}"
