"""Strategies: what a detected value is replaced with.

| kind      | in text                         | whole cell / JSON value | numeric cell            |
|-----------|---------------------------------|-------------------------|-------------------------|
| redact    | ``[CARD]``                      | ``[CARD]``              | type fallback (0/NULL)  |
| partial   | ``**** **** **** 1111``         | same                    | type fallback           |
| hash      | ``tok_3f9a…`` (HMAC-SHA256)     | same                    | keyed digits, same len  |
| null      | ``[CARD]`` (no NULL inside text)| NULL                    | NULL                    |
| fpe       | same shape, keyed; cards stay   | same                    | keyed digits, same len  |
|           | Luhn-valid, IBANs mod-97-valid  |                         | (cards Luhn-valid)      |
| keep      | unchanged (an explicit allow)   | unchanged               | unchanged               |

Keyed strategies (hash, fpe) are deterministic for a key, so joins and GROUP BY on masked
values still line up. The hash key comes from the profile; without one, ``fpe`` uses a
random per-process key (stable within the process only) and ``hash`` is refused at load.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from proctor.masking import validators as v
from proctor.masking.entities import Entity, label
from proctor.masking.errors import ProfileError


class Kind(enum.StrEnum):
    REDACT = "redact"
    PARTIAL = "partial"
    HASH = "hash"
    NULL = "null"
    FPE = "fpe"
    KEEP = "keep"


_ALIASES = {
    "redact": Kind.REDACT,
    "mask": Kind.REDACT,
    "partial": Kind.PARTIAL,
    "hash": Kind.HASH,
    "pseudonym": Kind.HASH,
    "null": Kind.NULL,
    "fpe": Kind.FPE,
    "format-preserving": Kind.FPE,
    "format_preserving": Kind.FPE,
    "keep": Kind.KEEP,
    "none": Kind.KEEP,
}
_PARTIAL_LAST = re.compile(r"partial[-_]last[-_](\d{1,2})")


@dataclass(frozen=True, slots=True)
class Strategy:
    kind: Kind
    keep: int = 4  # partial: characters/digits kept at the end

    @classmethod
    def parse(cls, spec: object, where: str) -> Strategy:
        """``"redact"``, ``"partial-last-4"``, ``{"strategy": "partial", "keep": 2}``..."""
        keep = 4
        if isinstance(spec, Mapping):
            raw_keep = spec.get("keep", 4)
            if (
                not isinstance(raw_keep, int)
                or isinstance(raw_keep, bool)
                or not 0 <= raw_keep <= 32
            ):
                raise ProfileError(f"{where}: keep must be an integer 0-32")
            keep = raw_keep
            spec = spec.get("strategy")
        if not isinstance(spec, str):
            raise ProfileError(f"{where}: strategy must be a string")
        name = spec.strip().lower()
        m = _PARTIAL_LAST.fullmatch(name)
        if m:
            return cls(Kind.PARTIAL, int(m[1]))
        kind = _ALIASES.get(name)
        if kind is None:
            raise ProfileError(
                f"{where}: unknown strategy {spec!r} "
                "(redact, partial, partial-last-N, hash, null, fpe, keep)"
            )
        return cls(kind, keep)


REDACT = Strategy(Kind.REDACT)

_HEX = "0123456789abcdef"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(.*)", re.ASCII | re.DOTALL)
_SECRET_PREFIX = re.compile(r"(?:[A-Za-z]{2,10}[_-]){1,3}|AKIA|ASIA|eyJ|-----BEGIN", re.ASCII)


class _Stream:
    """Keyed pseudo-random bytes: HMAC-SHA256(key, tag || counter)."""

    __slots__ = ("_buf", "_counter", "_key", "_pos", "_tag")

    def __init__(self, key: bytes, tag: bytes) -> None:
        self._key = key
        self._tag = tag
        self._counter = 0
        self._buf = b""
        self._pos = 0

    def byte(self) -> int:
        if self._pos >= len(self._buf):
            self._buf = hmac.new(
                self._key, self._tag + self._counter.to_bytes(4, "big"), hashlib.sha256
            ).digest()
            self._counter += 1
            self._pos = 0
        b = self._buf[self._pos]
        self._pos += 1
        return b

    def below(self, n: int) -> int:
        """Uniform in [0, n): rejection sampling over as many bytes as n needs."""
        nbytes = max(1, (n.bit_length() + 7) // 8)
        space = 1 << (8 * nbytes)
        limit = space - space % n
        while True:
            x = 0
            for _ in range(nbytes):
                x = (x << 8) | self.byte()
            if x < limit:
                return x % n


def _normalize(entity: str, value: str) -> str:
    if entity in (Entity.CARD, Entity.SSN, Entity.PHONE):
        return "".join(c for c in value if c.isdigit())
    if entity == Entity.IBAN:
        return value.replace(" ", "").upper()
    if entity == Entity.EMAIL:
        return value.strip().lower()
    return value


class Replacer:
    """Turns (entity, strategy, value) into the replacement. Holds keys, never values."""

    def __init__(
        self,
        hash_key: bytes | None,
        fpe_key: bytes,
        labels: Mapping[str, str],
        numeric_fallback: str,
        date_fallback: str,
    ) -> None:
        self._hash_key = hash_key
        self._fpe_key = fpe_key
        self._labels = dict(labels)
        self.numeric_fallback = numeric_fallback
        self.date_fallback = date_fallback

    def label(self, entity: str) -> str:
        return self._labels.get(entity) or label(entity)

    # -- text ---------------------------------------------------------------------------------

    def text(self, entity: str, strategy: Strategy, value: str) -> str:
        """Replacement inside text (NULL is impossible there: it redacts)."""
        kind = strategy.kind
        if kind is Kind.REDACT or kind is Kind.NULL:
            return self.label(entity)
        if kind is Kind.PARTIAL:
            return self._partial(entity, value, strategy.keep)
        if kind is Kind.HASH:
            return self.token(entity, value)
        if kind is Kind.FPE:
            return self._fpe(entity, value)
        return value

    def text_replacer(self, entity: str, strategy: Strategy) -> Callable[[str], str]:
        """``lambda value: self.text(entity, strategy, value)``, with what depends on the
        entity and strategy only decided now (partial digits go straight to the masking)."""
        if strategy.kind is Kind.PARTIAL and entity in (Entity.CARD, Entity.SSN, Entity.PHONE):
            return functools.partial(_star_digits, strategy.keep)
        return functools.partial(self.text, entity, strategy)

    def whole(self, entity: str, strategy: Strategy, value: str) -> str | None:
        """Replacement of a whole text value (a cell, a JSON string): NULL allowed."""
        if strategy.kind is Kind.NULL:
            return None
        return self.text(entity, strategy, value)

    def token(self, entity: str, value: str) -> str:
        if self._hash_key is None:  # refused at profile load; kept as a guard
            raise ProfileError("hash strategy needs hash_key")
        msg = entity.encode() + b"\0" + _normalize(entity, value).encode("utf-8", "surrogatepass")
        return "tok_" + hmac.new(self._hash_key, msg, hashlib.sha256).hexdigest()[:16]

    # -- typed cells ----------------------------------------------------------------------------

    def numeric(self, entity: str, strategy: Strategy, value: str) -> str | None:
        """A numeric cell: digits in, a valid number (or NULL) out, never text."""
        kind = strategy.kind
        if kind is Kind.KEEP:
            return value
        if kind is Kind.HASH or kind is Kind.FPE:
            sign = "-" if value.startswith("-") else ""
            digits = "".join(c for c in value if c.isdigit())
            if not digits:
                return None
            key = self._hash_key if kind is Kind.HASH and self._hash_key else self._fpe_key
            stream = _Stream(key, b"num\0" + entity.encode() + b"\0" + digits.encode())
            if entity == Entity.CARD and len(digits) >= 12:
                out = self._card_digits(digits, stream)
            else:
                out = str(1 + stream.below(9)) + "".join(str(stream.below(10)) for _ in digits[1:])
            return sign + out
        return "0" if self.numeric_fallback == "zero" else None

    def date(self, entity: str, strategy: Strategy, value: str) -> str | None:
        """A date/timestamp cell (ISO output style): a valid date (or NULL) out."""
        kind = strategy.kind
        if kind is Kind.KEEP:
            return value
        if kind is Kind.NULL:
            return None
        m = _ISO_DATE.fullmatch(value)
        if m is None:
            return None  # other DateStyles: NULL is the only replacement sure to be valid
        year, rest = m[1], re.sub(r"\d", "0", m[4])
        if kind is Kind.PARTIAL:
            return f"{year}-01-01{rest}"
        if kind is Kind.HASH or kind is Kind.FPE:
            key = self._hash_key if kind is Kind.HASH and self._hash_key else self._fpe_key
            stream = _Stream(key, b"date\0" + value[:10].encode())
            return f"{year}-{1 + stream.below(12):02d}-{1 + stream.below(28):02d}{rest}"
        return f"1900-01-01{rest}" if self.date_fallback == "fixed" else None

    # -- partial --------------------------------------------------------------------------------

    def _partial(self, entity: str, value: str, keep: int) -> str:
        if entity == Entity.EMAIL:
            local, _, domain = value.rpartition("@")
            return (local[:1] + "***@" + domain) if local else self.label(entity)
        if entity in (Entity.CARD, Entity.SSN, Entity.PHONE):
            return _star_digits(keep, value)
        if entity == Entity.IBAN:
            return _mask_alnum(value, keep, head=2)
        if entity == Entity.IP:
            if ":" in value:
                return value.split(":", 1)[0] + ":" + "*" * 4 + "::"
            return value.split(".", 1)[0] + ".*.*.*"
        if entity == Entity.DOB:
            parsed = v.parse_date(value)
            return f"{parsed[0]}-**-**" if parsed else self.label(entity)
        if entity == Entity.NAME:
            return " ".join(w[:1] + "." for w in value.split() if w)
        if entity == Entity.SECRET:
            m = _SECRET_PREFIX.match(value)
            prefix = m.group() if m and m.end() < len(value) else ""
            return prefix + "****"
        if entity == Entity.ADDRESS:
            return self.label(entity)
        return _mask_alnum(value, keep, head=0)

    # -- format-preserving ---------------------------------------------------------------------

    def _fpe(self, entity: str, value: str) -> str:
        stream = _Stream(self._fpe_key, b"fpe\0" + entity.encode() + b"\0" + value.encode())
        if entity == Entity.CARD:
            digits = "".join(c for c in value if c.isdigit())
            return _reshape(value, self._card_digits(digits, stream))
        if entity == Entity.SSN:
            area = 1 + stream.below(899)
            area = 667 if area == 666 else area
            new = f"{area:03d}{1 + stream.below(99):02d}{1 + stream.below(9999):04d}"
            return _reshape(value, new)
        if entity == Entity.IBAN:
            compact = value.replace(" ", "").upper()
            bban = _shuffle_classes(compact[4:], stream)
            check = 98 - v.iban_mod97(compact[:2] + "00" + bban)
            return _reshape(value, f"{compact[:2]}{check:02d}{bban}")
        if entity == Entity.EMAIL:
            local, _, domain = value.rpartition("@")
            return _shuffle_classes(local, stream) + "@" + domain
        if entity == Entity.IP:
            if ":" in value:
                return "".join(
                    _HEX[stream.below(16)] if c in _HEX or c in _HEX.upper() else c
                    for c in value.lower()
                )
            return ".".join(str(1 + stream.below(223)) for _ in range(4))
        if entity == Entity.PHONE:
            # Keep the country code (``+1``/``001``) and the first national digit.
            m = re.match(r"(?:\+|00)\d{1,3}[ .-]?|\D*\d", value)
            head = m.group() if m else ""
            return head + _shuffle_classes(value[len(head) :], stream)
        if entity == Entity.DOB:
            parsed = v.parse_date(value)
            if parsed is None:
                return _shuffle_classes(value, stream)
            m2 = _ISO_DATE.fullmatch(value)
            mo, d = 1 + stream.below(12), 1 + stream.below(28)
            if m2:
                return f"{m2[1]}-{mo:02d}-{d:02d}{m2[4]}"
            return f"{parsed[0]}-{mo:02d}-{d:02d}"
        if entity == Entity.SECRET:
            if value.startswith("-----BEGIN"):
                return self.label(entity)
            m = _SECRET_PREFIX.match(value)
            head = m.group() if m else ""
            return head + _shuffle_classes(value[len(head) :], stream)
        return _shuffle_classes(value, stream)

    @staticmethod
    def _card_digits(digits: str, stream: _Stream) -> str:
        """Same length, same issuer prefix (first 6, or fewer for short numbers), a keyed
        middle, and a Luhn check digit: the result is still a valid-looking card."""
        head = min(6, len(digits) - 7)
        body = digits[:head] + "".join(str(stream.below(10)) for _ in range(len(digits) - head - 1))
        return body + v.luhn_check_digit(body)


def _reshape(template: str, chars: str) -> str:
    """Put ``chars`` into the alphanumeric positions of ``template`` (keeps separators)."""
    it = iter(chars)
    return "".join(next(it) if c.isalnum() else c for c in template)


def _shuffle_classes(value: str, stream: _Stream) -> str:
    out = []
    for c in value:
        if "0" <= c <= "9":
            out.append(chr(48 + stream.below(10)))
        elif "a" <= c <= "z":
            out.append(_LOWER[stream.below(26)])
        elif "A" <= c <= "Z":
            out.append(_UPPER[stream.below(26)])
        elif c.isalpha():
            out.append(_LOWER[stream.below(26)] if c.islower() else _UPPER[stream.below(26)])
        elif c.isdigit():
            out.append(chr(48 + stream.below(10)))
        else:
            out.append(c)
    return "".join(out)


_ASCII_DIGITS = b"0123456789"
_STAR_DIGITS = bytes.maketrans(_ASCII_DIGITS, b"*" * 10)


def _mask_digits(value: str, keep: int) -> str:
    return _star_digits(keep, value)


def _star_digits(keep: int, value: str) -> str:
    """`_mask_digits` with the value last: ``functools.partial(_star_digits, keep)`` is a
    replacement function called without keywords."""
    if value.isascii():
        # The same result by byte operations in C: count the digits, find where the kept
        # ones begin, star every digit before that.
        b = value.encode("ascii")
        n = len(b)
        half = (n - len(b.translate(None, _ASCII_DIGITS))) // 2
        if keep > half:
            keep = half
        cut = n - keep
        if keep > 0 and not b[cut:].isdigit():  # separators among the kept digits
            cut = len(b)
            while keep > 0:
                cut -= 1
                if 48 <= b[cut] <= 57:
                    keep -= 1
        return (b[:cut].translate(_STAR_DIGITS) + b[cut:]).decode("ascii")
    total = sum(1 for c in value if c.isdigit())
    keep = min(keep, total // 2)  # never reveal most of a value, however short
    seen = 0
    out = []
    for c in value:
        if c.isdigit():
            seen += 1
            out.append(c if seen > total - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def _mask_alnum(value: str, keep: int, head: int) -> str:
    total = sum(1 for c in value if c.isalnum())
    keep = min(keep, (total - head) // 2)
    seen = 0
    out = []
    for c in value:
        if c.isalnum():
            seen += 1
            out.append(c if seen <= head or seen > total - keep else "*")
        else:
            out.append(c)
    return "".join(out)
