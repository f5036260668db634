"""JSON: walk a document, using each key as a hint for its value.

- A key's context (``"ssn"``, ``"password"``, ``"phoneNumber"``) applies to its value; a key
  that says nothing inherits its parent's (``{"card": {"number": "4111…"}}``), and the parent
  key serves as the "table" for a bare ``name`` (``{"customer": {"name": "Jane"}}``).
- Strings that hold JSON (``"{\\"email\\": …}"``, as MCP tool results do) are parsed, masked
  and re-serialised in place, up to `MAX_NESTED_STRINGS` levels deep.
- Type safety inside JSON: numbers stay numbers (keyed digits) or become null; strings stay
  strings (or null under the ``null`` strategy); booleans and null are never touched.
- Unchanged documents come back as the very same text (no re-serialisation).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from proctor.masking.errors import MaskingError
from proctor.masking.hints import Context, context_of_name

if TYPE_CHECKING:
    from proctor.masking.engine import Masker, MaskingStats

MAX_DEPTH = 200
MAX_NESTED_STRINGS = 4


def mask_json_text(
    masker: Masker, text: str, ctx: Context, stats: MaskingStats | None, where: str
) -> str:
    """JSON text in, JSON text out; text that is not JSON is masked as text."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        out = masker.mask_value(text, ctx, stats=stats, where=where)
        return out if out is not None else "null"
    new, changed = walk(masker, doc, ctx, None, stats, where, 0, 0)
    if not changed:
        return text
    return _dumps(new, text)


def _dumps(doc: Any, original: str) -> str:
    compact = '": ' not in original and ", " not in original
    if compact:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(doc, ensure_ascii=False)


def walk(
    masker: Masker,
    node: Any,
    ctx: Context,
    parent_key: str | None,
    stats: MaskingStats | None,
    where: str,
    depth: int,
    nested: int,
) -> tuple[Any, bool]:
    """(new node, changed)."""
    if depth > MAX_DEPTH:
        raise MaskingError("JSON nested too deeply to mask")
    if isinstance(node, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, value in node.items():
            own = context_of_name(key, parent_key) if isinstance(key, str) else ctx
            kctx = ctx if own.neutral else own
            new, c = walk(masker, value, kctx, key, stats, where, depth + 1, nested)
            out[key] = new
            changed = changed or c
        return (out, True) if changed else (node, False)
    if isinstance(node, list):
        changed = False
        items = []
        for value in node:
            new, c = walk(masker, value, ctx, parent_key, stats, where, depth + 1, nested)
            items.append(new)
            changed = changed or c
        return (items, True) if changed else (node, False)
    if isinstance(node, str):
        return _string(masker, node, ctx, parent_key, stats, where, depth, nested)
    if isinstance(node, bool) or node is None:
        return node, False
    if isinstance(node, int):
        out_num = masker.mask_number(str(node), ctx, stats, where)
        if out_num == str(node):
            return node, False
        return (None if out_num is None else int(out_num)), True
    if isinstance(node, float) and ctx.whole is not None:
        if stats is not None:
            stats.add(where, ctx.whole)
        return None, True
    return node, False


def _string(
    masker: Masker,
    s: str,
    ctx: Context,
    parent_key: str | None,
    stats: MaskingStats | None,
    where: str,
    depth: int,
    nested: int,
) -> tuple[Any, bool]:
    stripped = s.strip()
    if (
        nested < MAX_NESTED_STRINGS
        and len(stripped) >= 2
        and stripped[0] in "{["
        and stripped[-1] in "}]"
    ):
        try:
            inner = json.loads(stripped)
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, dict | list):
            new, changed = walk(masker, inner, ctx, parent_key, stats, where, depth + 1, nested + 1)
            return (_dumps(new, stripped), True) if changed else (s, False)
    out = masker.mask_value(s, ctx, stats=stats, where=where)
    return (out, True) if out is not s else (s, False)
