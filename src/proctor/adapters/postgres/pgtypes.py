"""PostgreSQL type OIDs → the masking engine's type categories.

The table lives with the codec (``proctor.codecs.pgwire.values.category``, which cannot import
the engine); this turns its names into `TypeCategory` members once per OID. Only built-in
types have fixed OIDs; everything else (domains, enums, citext, composite and user types,
arrays) is UNKNOWN, which the engine treats safely: its cells are scanned as text, and a cell
in which anything would be masked is sent as NULL.
"""

from __future__ import annotations

import functools

from proctor.codecs.pgwire import values
from proctor.masking import TypeCategory


@functools.lru_cache(maxsize=1024)
def category(type_oid: int) -> TypeCategory:
    return TypeCategory(values.category(type_oid))
