"""Whether the compiled framing loops (``walk.py``) can be used, and the module if so.

``make install`` compiles ``walk.py`` with mypyc when a C compiler and the Python headers
are there (``scripts/build-accel.py``); the extension lands next to the source, where the
import system prefers it. It is used only if it was built from the text of ``walk.py`` as
it is now: an edited source with a stale build beside it must not run old code. Without a
usable build, the framing keeps its interpreted loops: same results, slower.

``PROCTOR_PURE_PYTHON=1`` turns the compiled loops off (to compare, or to rule them out).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from types import ModuleType

_SOURCE = Path(__file__).with_name("walk.py")


def source_digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def usable(module: ModuleType, source: bytes | None) -> bool:
    """A compiled ``walk`` stamped with the digest of ``source`` (the current text)."""
    origin = getattr(module, "__file__", None) or ""
    if not origin.endswith((".so", ".pyd")) or source is None:
        return False
    return bool(getattr(module, "BUILT_FROM", "")) and source_digest(source) == module.BUILT_FROM


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get("PROCTOR_PURE_PYTHON", "") not in ("", "0"):
        return None, "turned off by PROCTOR_PURE_PYTHON"
    try:
        module = importlib.import_module("proctor.codecs.pgwire.walk")
    except ImportError as exc:  # a build for another Python, say
        return None, f"compiled module does not load: {exc}"
    try:
        source: bytes | None = _SOURCE.read_bytes()
    except OSError:
        source = None
    if not (getattr(module, "__file__", None) or "").endswith((".so", ".pyd")):
        return None, "not built (make install builds it when a C compiler is available)"
    if not usable(module, source):
        return None, "stale build ignored: walk.py changed since it was compiled"
    return module, "compiled"


WALK, STATUS = _load()
"""The compiled module, or None; and why (for the gateway's start log)."""
