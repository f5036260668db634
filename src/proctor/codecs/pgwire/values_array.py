"""Binary -> text for arrays (``array_out``) and inet/cidr (``network_out``).

Array binary form (``array_send``): int32 ndim, int32 has-nulls flag, uint32 element type OID,
then per dimension int32 length and int32 lower bound, then each element in row-major order as
int32 length (-1 = NULL) and the element's own binary form.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

Buf = bytes | bytearray | memoryview
_ARRAY_HEAD = struct.Struct(">iiI")
_DIM = struct.Struct(">ii")
_I32 = struct.Struct(">i")
_INET_HEAD = struct.Struct(">BBBB")
MAXDIM = 6

# An element decoder: (element bytes, encoding) -> text.
ElementOut = Callable[[Buf, str], str]

_QUOTE_TRIGGERS = frozenset('"\\{},\t\n\r\v\f ')


def _quote(text: str) -> str:
    """``array_out`` quoting: empty strings, ``NULL`` in any case, and text holding a quote,
    backslash, brace, comma or whitespace are double-quoted, with ``"`` and ``\\`` escaped."""
    if text and text.upper() != "NULL" and _QUOTE_TRIGGERS.isdisjoint(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_out(
    data: Buf,
    encoding: str,
    element_out: Callable[[int], ElementOut | None],
    expected_elem: int | None,
) -> str | None:
    """The text form, or None when the element type has no decoder."""
    ndim, flags, elem = _ARRAY_HEAD.unpack_from(data)
    if expected_elem is not None and elem != expected_elem:
        raise ValueError("array element type does not match the column type")
    if not 0 <= ndim <= MAXDIM or flags not in (0, 1):
        raise ValueError("malformed array header")
    dec = element_out(elem)
    if dec is None:
        return None
    pos = _ARRAY_HEAD.size
    dims: list[int] = []
    lbounds: list[int] = []
    for _ in range(ndim):
        n, lb = _DIM.unpack_from(data, pos)
        pos += 8
        if n < 0:
            raise ValueError("malformed array dimension")
        dims.append(n)
        lbounds.append(lb)
    count = 1
    for n in dims:
        count *= n
    if ndim == 0 or count == 0:
        if pos != len(data):
            raise ValueError("trailing bytes after array")
        return "{}"
    view = memoryview(data)
    items: list[str] = []
    for _ in range(count):
        (size,) = _I32.unpack_from(data, pos)
        pos += 4
        if size == -1:
            items.append("NULL")
            continue
        if size < 0 or pos + size > len(data):
            raise ValueError("malformed array element")
        items.append(_quote(dec(bytes(view[pos : pos + size]), encoding)))
        pos += size
    if pos != len(data):
        raise ValueError("trailing bytes after array")
    # Group innermost dimension first: {{1,2},{3,4}}.
    level: list[str] = items
    for n in reversed(dims[1:]):
        level = ["{" + ",".join(level[i : i + n]) + "}" for i in range(0, len(level), n)]
    text = "{" + ",".join(level) + "}"
    if any(lb != 1 for lb in lbounds):
        prefix = "".join(f"[{lb}:{lb + n - 1}]" for n, lb in zip(dims, lbounds, strict=True))
        text = prefix + "=" + text
    return text


def _ipv6(addr: bytes) -> str:
    """PostgreSQL's ``inet_net_ntop_ipv6`` (BIND): the first longest run of two or more zero
    words becomes ``::``; ``::a.b.c.d`` and ``::ffff:a.b.c.d`` keep the IPv4 tail."""
    words = struct.unpack(">8H", addr)
    best_base, best_len, cur_base, cur_len = -1, 0, -1, 0
    for i, w in enumerate(words):
        if w == 0:
            if cur_base == -1:
                cur_base, cur_len = i, 1
            else:
                cur_len += 1
        elif cur_base != -1:
            if best_base == -1 or cur_len > best_len:
                best_base, best_len = cur_base, cur_len
            cur_base = -1
    if cur_base != -1 and (best_base == -1 or cur_len > best_len):
        best_base, best_len = cur_base, cur_len
    if best_base != -1 and best_len < 2:
        best_base = -1
    out: list[str] = []
    for i in range(8):
        if best_base != -1 and best_base <= i < best_base + best_len:
            if i == best_base:
                out.append(":")
            continue
        if i != 0:
            out.append(":")
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            out.append(".".join(str(b) for b in addr[12:16]))
            break
        out.append(f"{words[i]:x}")
    if best_base != -1 and best_base + best_len == 8:
        out.append(":")
    return "".join(out)


def inet_out(data: Buf, cidr: bool) -> str:
    family, bits, is_cidr, nb = _INET_HEAD.unpack_from(data)
    if family == 2 and nb == 4 and bits <= 32 and len(data) == 8:
        text = ".".join(str(b) for b in data[4:8])
        full = 32
    elif family == 3 and nb == 16 and bits <= 128 and len(data) == 20:
        text = _ipv6(bytes(data[4:20]))
        full = 128
    else:
        raise ValueError("malformed inet value")
    if is_cidr not in (0, 1):
        raise ValueError("malformed inet value")
    if bits != full or cidr:
        text += f"/{bits}"
    return text
