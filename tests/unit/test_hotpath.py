"""The compiled hot path is used only while it matches the sources (proctor/hotpath.py).

``make test`` builds the group (scripts/build-accel.py) and sets PROCTOR_REQUIRE_ACCEL=1:
then every module of the group must really be the compiled one, and a copy of the tree with
one source edited must run that module, and the rest of the group, from source.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import proctor
from proctor import hotpath

SRC = Path(proctor.__file__).resolve().parent.parent
REQUIRED = os.environ.get("PROCTOR_REQUIRE_ACCEL", "") not in ("", "0")
SUFFIX = hotpath.extension_suffix()


def _fake_tree(root: Path) -> Path:
    """A tree with every module of the group, an 'extension' beside each, and the stamp a
    build of it writes."""
    for module in hotpath.MODULES:
        source = root / module
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(f"# {module}\n")
        source.with_suffix(SUFFIX).write_bytes(b"not really compiled")
    stamp = root / "compiled.json"
    stamp.write_text(json.dumps(hotpath.stamp_for(root)))
    return stamp


def test_a_build_matching_every_source_is_used(tmp_path: Path) -> None:
    stamp = _fake_tree(tmp_path)
    decision = hotpath.decide(tmp_path, stamp, {})
    assert decision.compiled, decision.reason


def test_one_edited_source_turns_the_whole_group_off(tmp_path: Path) -> None:
    stamp = _fake_tree(tmp_path)
    edited = tmp_path / hotpath.MODULES[3]
    edited.write_text(edited.read_text() + "x = 1\n")
    decision = hotpath.decide(tmp_path, stamp, {})
    assert not decision.compiled
    assert "stale" in decision.reason and hotpath.MODULES[3] in decision.reason


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("no stamp", "not built"),
        ("garbage stamp", "unreadable"),
        ("other python", "another Python"),
        ("other modules", "another list of modules"),
        ("missing extension", "no compiled extension"),
        ("turned off", "PROCTOR_PURE_PYTHON"),
    ],
)
def test_anything_short_of_a_current_build_runs_interpreted(
    tmp_path: Path, damage: str, expected: str
) -> None:
    stamp = _fake_tree(tmp_path)
    env: dict[str, str] = {}
    recorded = json.loads(stamp.read_text())
    if damage == "no stamp":
        stamp.unlink()
    elif damage == "garbage stamp":
        stamp.write_text("{not json")
    elif damage == "other python":
        recorded["suffix"] = ".cpython-39-x86_64-linux-gnu.so"
        stamp.write_text(json.dumps(recorded))
    elif damage == "other modules":
        del recorded["modules"][hotpath.MODULES[0]]
        stamp.write_text(json.dumps(recorded))
    elif damage == "missing extension":
        (tmp_path / hotpath.MODULES[-1]).with_suffix(SUFFIX).unlink()
    else:
        env["PROCTOR_PURE_PYTHON"] = "1"
    decision = hotpath.decide(tmp_path, stamp, env)
    assert not decision.compiled
    assert expected in decision.reason


def test_the_finder_loads_the_source_whatever_lies_beside_it(tmp_path: Path) -> None:
    package = tmp_path / "hotpathpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fast.py").write_text("WHERE = 'source'\n")
    # An "extension" that would fail to load: the finder must never try it.
    (package / f"fast{SUFFIX}").write_bytes(b"\x7fELF broken")
    finder = hotpath.SourceOnly(frozenset({"hotpathpkg.fast"}))
    sys.path.insert(0, str(tmp_path))
    sys.meta_path.insert(0, finder)
    try:
        import hotpathpkg.fast as fast  # type: ignore[import-not-found]

        assert fast.WHERE == "source"
        assert fast.__file__.endswith("fast.py")
        assert finder.find_spec("hotpathpkg.other", [str(package)]) is None
    finally:
        sys.meta_path.remove(finder)
        sys.path.remove(str(tmp_path))
        for name in ("hotpathpkg.fast", "hotpathpkg"):
            sys.modules.pop(name, None)


def _where(src: Path, env: dict[str, str]) -> dict[str, str]:
    """Which file each module of the group is loaded from, in a fresh interpreter on
    ``src``."""
    script = (
        "import importlib, json, proctor; from proctor import hotpath\n"
        "print(json.dumps({n: importlib.import_module(n).__file__ for n in sorted(hotpath.NAMES)}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(src), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, str] = json.loads(proc.stdout)
    return result


def _current_build() -> bool:
    return hotpath.decide(SRC, hotpath.STAMP, {}).compiled


def test_the_group_runs_compiled_where_the_build_is_required() -> None:
    if not REQUIRED:
        pytest.skip("PROCTOR_REQUIRE_ACCEL not set (make test sets it)")
    assert proctor.HOT_PATH.compiled, proctor.HOT_PATH.reason
    files = _where(SRC, {"PROCTOR_PURE_PYTHON": ""})
    interpreted = [name for name, path in files.items() if not path.endswith(SUFFIX)]
    assert interpreted == []
    turned_off = _where(SRC, {"PROCTOR_PURE_PYTHON": "1"})
    assert all(path.endswith(".py") for path in turned_off.values())


def test_an_edited_checkout_runs_the_group_from_source(tmp_path: Path) -> None:
    if not _current_build():
        if REQUIRED:
            pytest.fail(f"no current build: {hotpath.decide(SRC, hotpath.STAMP, {}).reason}")
        pytest.skip("no current compiled build here")
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    assert all(p.endswith(SUFFIX) for p in _where(copy, {"PROCTOR_PURE_PYTHON": ""}).values())
    edited = copy / "proctor" / "masking" / "validators.py"
    edited.write_text(edited.read_text() + "\n# edited after the build\n")
    files = _where(copy, {"PROCTOR_PURE_PYTHON": ""})
    assert all(path.endswith(".py") for path in files.values()), files
    assert files["proctor.masking.validators"] == str(edited)


# Dataclasses of the group that are built once per setup (a policy, a profile, a result
# shape) or per recording batch, never per message: compiled, a dataclass keeps the
# ``__init__`` the dataclasses module generates, interpreted (~0.5 µs a call, more than the
# rest of a small message's handling). Classes built per message are plain classes.
SETUP_TIME_DATACLASSES = {
    "proctor.adapters.postgres.relay.Refusal",
    "proctor.masking.detectors.Detector",
    "proctor.masking.engine.ColumnInfo",
    "proctor.masking.strategies.Strategy",
    "proctor.policy.engine.Explanation",
    "proctor.policy.engine.RuleTrace",
    "proctor.policy.engine._Outcome",
    "proctor.recording.format.Frame",
    "proctor.recording.format.Record",
    "proctor.recording.session_writer.Flush",
}


def test_the_group_builds_no_dataclass_per_message() -> None:
    import dataclasses
    import importlib
    import inspect

    found = set()
    for path in hotpath.MODULES:
        name = hotpath.module_name(path)
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            is_class = inspect.isclass(value) and value.__module__ == name
            if is_class and dataclasses.is_dataclass(value):
                found.add(f"{name}.{attr}")
    assert found == SETUP_TIME_DATACLASSES


def test_decoded_messages_compare_hash_and_show_by_their_fields() -> None:
    from proctor.codecs.pgwire import decode
    from proctor.codecs.pgwire.framing import FramedMessage, Message

    assert decode.Parse("s", "select 1", (23,)) == decode.Parse("s", "select 1", (23,))
    assert decode.Parse("s", "select 1", (23,)) != decode.Parse("s", "select 2", (23,))
    assert decode.Target("S", "x") != decode.Execute("S", 0)  # another type: never equal
    assert len({decode.Target("S", "x"), decode.Target("S", "x"), decode.Target("P", "x")}) == 2
    assert repr(decode.Execute("p", 5)) == "Execute(portal='p', max_rows=5)"
    assert Message(0x51, b"x") == Message(0x51, b"x") != Message(0x51, b"y")
    assert FramedMessage(0x44, b"", 0, 9, [9]) == FramedMessage(0x44, b"", 0, 9, [9])
    assert "ends=[9]" in repr(FramedMessage(0x44, b"", 0, 9, [9]))
    if REQUIRED:  # compiled, Final fields are read-only at run time too
        with pytest.raises(AttributeError):
            decode.Parse("s", "q", ()).query = "drop table x"  # type: ignore[misc]


# -- the hand-written C extensions (hotpath.NATIVE) -------------------------------------------


def _fake_native(root: Path) -> tuple[str, Path]:
    source = hotpath.NATIVE[0]
    path = root / source
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("/* glue */\n")
    path.with_suffix(SUFFIX).write_bytes(b"not really built")
    stamp = root / "native.json"
    stamp.write_text(json.dumps(hotpath.native_stamp_for(root, [source])))
    return source, stamp


def test_a_c_extension_is_loaded_only_while_it_matches_its_source(tmp_path: Path) -> None:
    source, stamp = _fake_native(tmp_path)
    assert hotpath.native_current(source, tmp_path, stamp, {})
    assert not hotpath.native_current(source, tmp_path, stamp, {"PROCTOR_PURE_PYTHON": "1"})
    (tmp_path / source).write_text("/* glue, edited */\n")
    assert not hotpath.native_current(source, tmp_path, stamp, {})


@pytest.mark.parametrize("damage", ["no stamp", "garbage", "other python", "no extension"])
def test_a_c_extension_short_of_a_current_build_is_not_loaded(tmp_path: Path, damage: str) -> None:
    source, stamp = _fake_native(tmp_path)
    if damage == "no stamp":
        stamp.unlink()
    elif damage == "garbage":
        stamp.write_text("{not json")
    elif damage == "other python":
        stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "suffix": ".cpython-39.so"}))
    else:
        (tmp_path / source).with_suffix(SUFFIX).unlink()
    assert not hotpath.native_current(source, tmp_path, stamp, {})


def test_the_c_extensions_are_loaded_where_the_build_is_required() -> None:
    if not REQUIRED or os.environ.get("PROCTOR_PURE_PYTHON", "") not in ("", "0"):
        pytest.skip("PROCTOR_REQUIRE_ACCEL not set (make test sets it)")
    from proctor.masking import native_hits

    assert all(hotpath.native_current(s) for s in hotpath.NATIVE)
    assert native_hits.NATIVE is not None
