"""Binary <-> text for float4/float8 and numeric, exactly as PostgreSQL prints them.

Floats: PostgreSQL 12+ prints the shortest digit string that reads back to the same value
(Ryu; ``extra_float_digits`` >= 1, the default), in fixed notation when the decimal exponent
``e`` of the first digit satisfies ``-4 <= e < 15`` (float8) or ``< 6`` (float4), otherwise as
``d.ddde+XX``. Python's ``repr`` gives the same shortest digits for a double; for a float4 the
shortest digits are searched with ``%.Ne`` and a float4 round trip.

Numeric (``numeric_send``): int16 ndigits, int16 weight, uint16 sign, uint16 dscale, then
ndigits base-10000 digits; the value is sum(digit[i] * 10000^(weight - i)).
"""

from __future__ import annotations

import math
import re
import struct

Buf = bytes | bytearray | memoryview
_F4 = struct.Struct(">f")
_F8 = struct.Struct(">d")
_F4I = struct.Struct(">I")
_NUM_HEAD = struct.Struct(">hhHH")

NUMERIC_POS = 0x0000
NUMERIC_NEG = 0x4000
NUMERIC_NAN = 0xC000
NUMERIC_PINF = 0xD000
NUMERIC_NINF = 0xF000
_NUMERIC_DSCALE_MAX = 0x3FFF
_NUMERIC_SPECIAL = {NUMERIC_NAN: "NaN", NUMERIC_PINF: "Infinity", NUMERIC_NINF: "-Infinity"}


# -- floats ---------------------------------------------------------------------------------------


def _split(shortest: str) -> tuple[str, int]:
    """``'1.25e-07'`` / ``'125.0'`` (no sign, not zero) -> (significant digits, exponent of the
    first digit)."""
    mant, _, ex = shortest.partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    stripped = digits.lstrip("0")
    exp = (int(ex) if ex else 0) + len(whole) - 1 - (len(digits) - len(stripped))
    return stripped.rstrip("0"), exp


def _layout(neg: bool, digits: str, exp: int, fixed_below: int) -> str:
    sign = "-" if neg else ""
    if -4 <= exp < fixed_below:
        if exp < 0:
            return sign + "0." + "0" * (-exp - 1) + digits
        if len(digits) <= exp + 1:
            return sign + digits + "0" * (exp + 1 - len(digits))
        return sign + digits[: exp + 1] + "." + digits[exp + 1 :]
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _special(v: float) -> str | None:
    if v != v:
        return "NaN"
    if v in (math.inf, -math.inf):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    return None


# (struct, its integer twin, mantissa bits, exponent of the smallest subnormal's unit)
_FORMATS = {8: (_F8, struct.Struct(">Q"), 52, -1074), 4: (_F4, _F4I, 23, -149)}


def _cmp(d: int, k: int, n: int, f: int) -> int:
    """The sign of d * 10**k - n * 2**f, exactly."""
    if k >= 0:
        d *= 10**k
    else:
        n *= 10**-k
    if f >= 0:
        n <<= f
    else:
        d <<= -f
    return (d > n) - (d < n)


def _bounds(bits: int, width: int) -> tuple[int, int, int, int]:
    """The rounding interval of a positive finite float as (lo, lo_exp, hi, hi_exp): the
    midpoints to its neighbours are lo * 2**lo_exp and hi * 2**hi_exp."""
    _, _, mbits, emin = _FORMATS[width]
    frac = bits & ((1 << mbits) - 1)
    ef = bits >> mbits
    if ef == 0:
        m, e = frac, emin
    else:
        m, e = frac | (1 << mbits), emin + ef - 1
    if frac == 0 and ef > 1:  # a power of two: the gap below is half the gap above
        return 4 * m - 1, e - 2, 2 * m + 1, e - 1
    return 2 * m - 1, e - 1, 2 * m + 1, e - 1


def _shortest(v: float, width: int, start: int) -> tuple[str, int]:
    """PostgreSQL's Ryu output for a positive finite float: the fewest significant digits
    whose value lies *strictly* inside the rounding interval (PostgreSQL does not accept the
    bounds), the closest to ``v`` among those."""
    fmt, ints, _, _ = _FORMATS[width]
    lo, lo_e, hi, hi_e = _bounds(ints.unpack(fmt.pack(v))[0], width)
    for prec in range(start, 18):
        digits, exp = _split(f"{v:.{prec - 1}e}")
        d = int(digits.ljust(prec, "0"))
        k = exp - prec + 1
        for cand in (d, d + 1, d - 1):  # the rounded one first; a neighbour at a power of two
            if cand > 0 and _cmp(cand, k, lo, lo_e) > 0 and _cmp(cand, k, hi, hi_e) < 0:
                return _split(f"{cand}e{k}")
    raise AssertionError("unreachable: 17 digits always identify a double")


def float8_out(data: Buf) -> str:
    (v,) = _F8.unpack(data)
    special = _special(v)
    if special is not None:
        return special
    a = abs(v)
    digits, exp = _split(repr(a))  # shortest with the bounds accepted
    k = exp - len(digits) + 1
    # It can only sit on a bound (a dyadic midpoint) if digits * 10**k is dyadic: for k < 0
    # that needs 5**-k to divide the digits (never for k < -24: 5**25 > 10**17); for k >= 0
    # (an integer) the midpoints must be integers, so the gap at least 2: a >= 2**53.
    if k < -24 or (int(digits) % 5**-k if k < 0 else a < 9007199254740992.0):
        return _layout(v < 0, digits, exp, 15)
    return _layout(v < 0, *_shortest(a, 8, len(digits)), 15)


def float4_out(data: Buf) -> str:
    (v,) = _F4.unpack(data)
    special = _special(v)
    if special is not None:
        return special
    return _layout(v < 0, *_shortest(abs(v), 4, 1), 6)


_FLOAT_TEXT = re.compile(
    r"\s*([+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN]))\s*",
    re.ASCII,
)


def _parse_float(text: str) -> float | None:
    m = _FLOAT_TEXT.fullmatch(text)
    if m is None:
        return None
    lit = m[1]
    v = float(lit)
    if "n" in lit or "N" in lit:  # NaN, Infinity
        return v
    if v in (math.inf, -math.inf):
        return None  # overflow: out of range, as PostgreSQL says
    if v == 0 and _NONZERO.search(lit.split("e")[0].split("E")[0]):
        return None  # underflow
    return v


_NONZERO = re.compile("[1-9]")


def float8_in(text: str) -> bytes | None:
    v = _parse_float(text)
    return None if v is None else _F8.pack(v)


def float4_in(text: str) -> bytes | None:
    v = _parse_float(text)
    if v is None:
        return None
    try:
        out = _F4.pack(v)
    except OverflowError:
        return None
    if v != v or v in (math.inf, -math.inf) or v == 0:
        return out
    raw = _F4I.unpack(out)[0]
    bits = raw & 0x7FFFFFFF
    if bits:
        bits = _fix_double_rounding(text, bits)
    if bits == 0 or bits >= 0x7F800000:
        return None  # underflow or overflow: out of range, as PostgreSQL says
    return _F4I.pack(bits | (raw & 0x80000000))


def _fix_double_rounding(text: str, bits: int) -> int:
    """decimal -> double -> float4 rounds twice; PostgreSQL's strtof rounds once. Move to the
    neighbour when the exact decimal lies outside the candidate's interval (ties to even)."""
    m = _FLOAT_TEXT.fullmatch(text)
    assert m is not None
    mant, _, ex = m[1].lstrip("+-").lower().partition("e")
    whole, _, frac = mant.partition(".")
    d, k = int(whole + frac or "0"), int(ex or 0) - len(frac)
    lo, lo_e, hi, hi_e = _bounds(bits, 4)
    below, above = _cmp(d, k, lo, lo_e), _cmp(d, k, hi, hi_e)
    if below < 0 or (below == 0 and bits & 1):
        return bits - 1
    if above > 0 or (above == 0 and bits & 1):
        return bits + 1
    return bits


# -- numeric --------------------------------------------------------------------------------------


def numeric_out(data: Buf) -> str:
    ndigits, weight, sign, dscale = _NUM_HEAD.unpack_from(data)
    special = _NUMERIC_SPECIAL.get(sign)
    if special is not None:  # dscale is not checked: PostgreSQL sends 32 for the infinities
        if ndigits or len(data) != 8:
            raise ValueError("malformed numeric value")
        return special
    if ndigits < 0 or sign not in (NUMERIC_POS, NUMERIC_NEG) or dscale > _NUMERIC_DSCALE_MAX:
        raise ValueError("malformed numeric value")
    if len(data) != 8 + 2 * ndigits:
        raise ValueError("malformed numeric value")
    digits = struct.unpack_from(f">{ndigits}h", data, 8)
    for d in digits:
        if not 0 <= d < 10000:
            raise ValueError("malformed numeric value")
    parts = ["-"] if sign == NUMERIC_NEG else []
    if weight < 0:
        parts.append("0")
    else:
        parts.append(str(digits[0]) if ndigits else "0")
        parts.extend(f"{digits[d]:04d}" if d < ndigits else "0000" for d in range(1, weight + 1))
    if dscale > 0:
        groups = (dscale + 3) // 4
        start = weight + 1
        frac = "".join(
            f"{digits[d]:04d}" if 0 <= d < ndigits else "0000" for d in range(start, start + groups)
        )
        parts.append("." + frac[:dscale])
    return "".join(parts)


_NUMERIC_TEXT = re.compile(
    r"\s*([+-]?)(?:([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]{1,6}))?"
    r"|([nN][aA][nN])|([iI][nN][fF](?:[iI][nN][iI][tT][yY])?))\s*",
    re.ASCII,
)


def numeric_in(text: str) -> bytes | None:
    m = _NUMERIC_TEXT.fullmatch(text)
    if m is None:
        return None
    neg = m[1] == "-"
    if m[5]:
        return None if m[1] else _NUM_HEAD.pack(0, 0, NUMERIC_NAN, 0)
    if m[6]:
        # numeric_send reads the dscale of a short-header special as its header bits
        # (0xD000/0xF000 & 0x1F80) >> 7 = 32; NaN gives 0.
        return _NUM_HEAD.pack(0, 0, NUMERIC_NINF if neg else NUMERIC_PINF, 32)
    whole, frac, exp = m[2], m[3] or "", int(m[4] or 0)
    if not whole and not frac:
        return None
    digits = whole + frac
    point = len(whole) + exp  # decimal point position within digits
    dscale = max(0, len(frac) - exp)
    if dscale > _NUMERIC_DSCALE_MAX:
        return None
    if point < 0:
        digits, point = "0" * -point + digits, 0
    if point > len(digits):
        digits += "0" * (point - len(digits))
    int_part, frac_part = digits[:point], digits[point:]
    int_part = "0" * (-len(int_part) % 4) + int_part
    frac_part += "0" * (-len(frac_part) % 4)
    both = int_part + frac_part
    groups = [int(both[i : i + 4]) for i in range(0, len(both), 4)]
    weight = len(int_part) // 4 - 1
    lead = 0
    while lead < len(groups) and groups[lead] == 0:
        lead += 1
    groups = groups[lead:]
    weight -= lead
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        return _NUM_HEAD.pack(0, 0, NUMERIC_POS, dscale)
    if not -32768 <= weight <= 32767 or len(groups) > 32767:
        return None
    head = _NUM_HEAD.pack(len(groups), weight, NUMERIC_NEG if neg else NUMERIC_POS, dscale)
    return head + struct.pack(f">{len(groups)}h", *groups)
