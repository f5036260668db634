"""Which of Proctor's modules run compiled, and the guard that keeps a stale build from running.

The per-message path (framing, the relay, result tracking and masking, the command gate,
the recorder's hand-off) is plain, fully typed Python that ``make install`` also compiles
with mypyc, as one group (``scripts/build-accel.py``): the same source, run as C, typically
1.5-2x cheaper per message. The extensions land next to the sources, where Python's import
system prefers them over the ``.py`` files. Without a C compiler nothing is built and
everything runs interpreted: same behaviour, slower.

A compiled group is only used while it matches the sources. The build writes
``proctor/compiled.json``: for each module of the group the SHA-256 of the source it was
compiled from, and the extension suffix of the Python it was built for. ``import proctor``
runs `guard`: if any module of the group changed since the build (an edited checkout, a
``git pull`` without ``make install``), an extension is missing, the build is for another
Python, or ``PROCTOR_PURE_PYTHON=1`` is set, a finder placed first on ``sys.meta_path`` loads
every module of the group from its ``.py`` source instead. It is the whole group or none:
compiled modules of a group call each other directly, so one fresh module compiled beside a
stale one would still run the stale one's code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
STAMP = PACKAGE_DIR / "compiled.json"

# The group, as paths under ``src/``. Kept to modules on the per-message path: each costs
# build time (the whole group is one C compilation) and gains only where code runs per
# message or per row.
MODULES: tuple[str, ...] = (
    "proctor/codecs/pgwire/walk.py",
    "proctor/codecs/pgwire/framing.py",
    "proctor/codecs/pgwire/decode.py",
    "proctor/codecs/pgwire/encode.py",
    "proctor/adapters/postgres/relay.py",
    "proctor/adapters/postgres/results.py",
    "proctor/adapters/postgres/rows.py",
    "proctor/masking/scanner.py",
    "proctor/masking/engine.py",
    "proctor/masking/detectors.py",
    "proctor/masking/validators.py",
    "proctor/masking/strategies.py",
    "proctor/pipeline/gate.py",
    "proctor/policy/engine.py",
    "proctor/sql/templates.py",
    "proctor/recording/format.py",
    "proctor/recording/batch.py",
    "proctor/recording/recorder.py",
    "proctor/recording/session_writer.py",
)


# Hand-written C extensions, built beside their sources by the same script when what they
# need is installed (a C library's headers; Python's own for a plain kernel). Each is
# optional: its user falls back to Python without it. ``native.json`` records the digest
# of each built source, so an edited source is never run as its old build.
NATIVE: tuple[str, ...] = ("proctor/masking/_hsnative.c", "proctor/masking/_cardmask.c")
NATIVE_STAMP = PACKAGE_DIR / "native.json"


def native_stamp_for(src: Path, built: Sequence[str]) -> dict[str, object]:
    return {"suffix": extension_suffix(), "sources": {s: digest(src / s) for s in built}}


def native_current(
    path: str,
    src: Path | None = None,
    stamp_path: Path | None = None,
    environ: dict[str, str] | None = None,
) -> bool:
    """Whether the extension built from ``path`` (e.g. ``proctor/masking/_hsnative.c``)
    may be loaded: built for this Python from this very source, and Python-only mode
    (``PROCTOR_PURE_PYTHON``) is not on."""
    env = os.environ if environ is None else environ
    if env.get("PROCTOR_PURE_PYTHON", "") not in ("", "0"):
        return False
    src = PACKAGE_DIR.parent if src is None else src
    try:
        recorded = json.loads((NATIVE_STAMP if stamp_path is None else stamp_path).read_text())
        built = recorded["sources"][path]
        if recorded["suffix"] != extension_suffix():
            return False
        source = src / path
        if not source.with_suffix(extension_suffix()).exists():
            return False
        return bool(built == digest(source))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def load_native(path: str) -> ModuleType | None:
    """The extension built from ``path`` when `native_current` allows it, else None."""
    if not native_current(path):
        return None
    try:
        return importlib.import_module(module_name(path.removesuffix(".c")))
    except ImportError:  # e.g. the C library it links removed after the build
        return None


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


NAMES = frozenset(module_name(p) for p in MODULES)


def extension_suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stamp_for(src: Path) -> dict[str, object]:
    """What the build records: the digest of each module's source, and for which Python."""
    return {
        "suffix": extension_suffix(),
        "modules": {m: digest(src / m) for m in MODULES},
    }


@dataclass(frozen=True)
class Decision:
    compiled: bool
    reason: str


def decide(src: Path, stamp_path: Path, environ: dict[str, str] | None = None) -> Decision:
    """Whether the compiled group under ``src`` may run, and why (or why not)."""
    env = os.environ if environ is None else environ
    if env.get("PROCTOR_PURE_PYTHON", "") not in ("", "0"):
        return Decision(False, "turned off by PROCTOR_PURE_PYTHON")
    try:
        recorded = json.loads(stamp_path.read_text())
    except FileNotFoundError:
        return Decision(False, "not built (make install builds it when a C compiler is there)")
    except (OSError, ValueError):
        return Decision(False, "the build's stamp is unreadable")
    if not isinstance(recorded, dict) or recorded.get("suffix") != extension_suffix():
        return Decision(False, "built for another Python")
    built = recorded.get("modules")
    if not isinstance(built, dict) or set(built) != set(MODULES):
        return Decision(False, "built for another list of modules: run make install")
    suffix = extension_suffix()
    for path in MODULES:
        source = src / path
        if not source.with_suffix(suffix).exists():
            return Decision(False, f"{path}: no compiled extension beside it")
        try:
            current = digest(source)
        except OSError:
            return Decision(False, f"{path}: source unreadable")
        if built[path] != current:
            return Decision(False, f"stale build ignored: {path} changed since it was compiled")
    return Decision(True, f"{len(MODULES)} modules compiled")


class SourceOnly(importlib.abc.MetaPathFinder):
    """Loads the group's modules from their ``.py`` files, whatever is beside them."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        leaf = fullname.rpartition(".")[2] + ".py"
        for entry in path or sys.path:
            candidate = Path(entry) / leaf
            if candidate.is_file():
                return importlib.util.spec_from_file_location(fullname, candidate)
        return None


_decision: Decision | None = None


def guard() -> Decision:
    """Run by ``import proctor``, before any module of the group can be imported; later
    calls return the same decision."""
    global _decision
    if _decision is None:
        _decision = decide(PACKAGE_DIR.parent, STAMP)
        if not _decision.compiled and not any(isinstance(f, SourceOnly) for f in sys.meta_path):
            sys.meta_path.insert(0, SourceOnly(NAMES))
    return _decision


def is_extension(path: str | None) -> bool:
    """Whether a module's ``__file__`` is a compiled extension."""
    return (path or "").endswith((".so", ".pyd"))


def compiled_module(module: ModuleType | None) -> bool:
    return is_extension(getattr(module, "__file__", None))
