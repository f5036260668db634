"""Key paths: how a location inside the YAML document is held and shown.

A path is a tuple of mapping keys (str) and list indexes (int), the same shape pydantic uses
for error locations, so a validation error can be matched with where the YAML put the value.
"""

from __future__ import annotations

import json
import re
from typing import TypeAlias

KeyPath: TypeAlias = tuple[str | int, ...]

# Keys shown with a dot; anything else is quoted in brackets so "a.b" or "2" cannot be
# mistaken for two keys or for a list index.
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def render_path(path: KeyPath) -> str:
    """``("connections", 2, "port")`` -> ``connections[2].port``."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _PLAIN_KEY.fullmatch(segment):
            text += f".{segment}" if text else segment
        else:
            text += f"[{json.dumps(segment, ensure_ascii=False)}]"
    return text
