"""Whether the compiled framing loops (``walk.py``) are in use, and the module if so.

``walk.py`` belongs to the group of modules ``make install`` compiles with mypyc when a C
compiler and the Python headers are there (``proctor/hotpath.py``, which also keeps a stale
build from running). Its loops are written for the compiler: interpreted, they are slower
than the ``struct``-based ones in ``framing.py``, so the framing uses them only compiled.

``PROCTOR_PURE_PYTHON=1`` turns the compiled group off (to compare, or to rule it out).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from proctor import hotpath


def _load() -> tuple[ModuleType | None, str]:
    decision = hotpath.guard()
    if not decision.compiled:
        return None, decision.reason
    module = importlib.import_module("proctor.codecs.pgwire.walk")
    if not hotpath.compiled_module(module):
        return None, "walk.py was loaded from its source"
    return module, "compiled"


WALK, STATUS = _load()
"""The compiled module, or None; and why (for the gateway's start log)."""
