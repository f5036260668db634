"""The C hit collector (``_hsnative.c``), when it is built: loading it, and its databases.

The ``hyperscan`` package calls a Python function for every match and takes the GIL back
around each call; on text dense in trigger matches that costs more than the scan. The
collector compiles the same triggers with the system's libhs and gathers the matches in C
(`Prefilter.hits` in ``scanner.py`` decides which of the two scans a buffer). Setup only:
nothing here runs per row. Without the build (no libhs headers, ``PROCTOR_PURE_PYTHON``, an
edited ``.c``), `NATIVE` is None and the package scans alone.
"""

from __future__ import annotations

from typing import Any

from proctor import hotpath

SOURCE = "proctor/masking/_hsnative.c"


NATIVE: Any = hotpath.load_native(SOURCE)

_CACHE: dict[tuple[tuple[int, str, bool], ...], Any] = {}


def database_for(triggers: tuple[tuple[int, str, bool], ...]) -> Any:
    """The collector's database for these (detector, trigger, caseless) triggers, shared by
    scanners with the same ones; None when the collector is not built or its libhs does not
    take one of them (then the package alone scans)."""
    if NATIVE is None or not triggers:
        return None
    if triggers in _CACHE:
        return _CACHE[triggers]
    if len(_CACHE) > 32:
        _CACHE.clear()
    # The card and IBAN triggers are matched by the collector's own C (faster than this
    # libhs on them, the same hits): handed over only when they are the very expressions it
    # emulates.
    emulated = {NATIVE.CARD_TRIGGER: "card", NATIVE.IBAN_TRIGGER: "iban"}
    chosen: dict[str, int] = {}
    rest = []
    for i, t, caseless in triggers:
        kind = None if caseless else emulated.get(t)
        if kind is not None and kind not in chosen:
            chosen[kind] = i
        else:
            rest.append((i, t, caseless))
    try:
        db = NATIVE.Database(
            [t.encode("ascii") for _, t, _ in rest],
            [i for i, _, _ in rest],
            [NATIVE.CASELESS if c else 0 for _, _, c in rest],
            chosen.get("card", -1),
            chosen.get("iban", -1),
        )
    except (ValueError, UnicodeEncodeError):
        db = None
    _CACHE[triggers] = db
    return db
