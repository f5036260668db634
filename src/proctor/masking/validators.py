"""Validators: pure functions that confirm a pattern's candidate (checksums, number plans,
registries). A pattern alone finds shapes; a validator decides whether the shape is the entity.

Custom detectors may name one of these by ``VALIDATORS`` key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable
from typing import Final

import phonenumbers

from proctor import hotpath

# --- payment cards ---------------------------------------------------------------------------


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


_PLAIN_VALUE = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED_VALUE = bytes.maketrans(b"0123456789", bytes(_DOUBLED))


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of digits."""
    if digits.isascii() and digits.isdigit():
        # Digit values by byte translation, summed in C: no Python call per digit.
        b = digits.encode("ascii")
        total = sum(b[-1::-2].translate(_PLAIN_VALUE)) + sum(b[-2::-2].translate(_DOUBLED_VALUE))
        return total % 10 == 0
    rev = digits[::-1]
    total = sum(map(int, rev[0::2])) + sum(map(_DOUBLED.__getitem__, map(int, rev[1::2])))
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass the Luhn check."""
    for c in "0123456789":
        if luhn_ok(body + c):
            return c
    raise AssertionError("unreachable: one of ten digits always completes a Luhn sum")


def card_brand(digits: str) -> str | None:
    """The card scheme whose issuer ranges and lengths admit ``digits``, or None.

    Ranges: Visa 4; Mastercard 51-55 and 2221-2720; Amex 34/37; Discover 6011, 644-649,
    65, 622126-622925; JCB 35 (3528-3589 assigned, all of 35 accepted) and the old 15-digit
    1800/2131; Diners 300-305, 3095, 36, 38, 39; UnionPay 62; Mir 2200-2204; Maestro 50,
    56-58, 6304, 6390, 67xx, 0604.
    """
    n = len(digits)
    if n < 12 or n > 19:
        return None
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    p2 = int(digits[:2])
    p3 = int(digits[:3])
    p4 = int(digits[:4])
    p6 = int(digits[:6])
    if n == 16 and (51 <= p2 <= 55 or 2221 <= p4 <= 2720):
        return "mastercard"
    if n == 15 and p2 in (34, 37):
        return "amex"
    if 16 <= n <= 19 and (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925):
        return "discover"
    if (16 <= n <= 19 and p2 == 35) or (n == 15 and p4 in (1800, 2131)):
        return "jcb"
    if 14 <= n <= 19 and (300 <= p3 <= 305 or p4 == 3095 or p2 in (36, 38, 39)):
        return "diners"
    if 16 <= n <= 19 and p2 == 62:
        return "unionpay"
    if 16 <= n <= 19 and 2200 <= p4 <= 2204:
        return "mir"
    if p2 in (50, 56, 57, 58, 67) or p4 in (6304, 6390) or digits.startswith("0604"):
        return "maestro"
    return None


def card_ok(digits: str) -> bool:
    """An issuer's range and length, and the Luhn check."""
    n = len(digits)
    if 12 <= n <= 19 and digits.isascii() and digits.isdigit():
        # What every built-in detector passes: `card_brand` and `luhn_ok` inline for the two
        # commonest schemes (Visa; Mastercard 51-55), the same tests in the same order.
        if not (
            (digits[0] == "4" and (n == 16 or n == 13 or n == 19))
            or (n == 16 and "51" <= digits[:2] <= "55")
            or card_brand(digits) is not None
        ):
            return False
        # Undoubled digits summed as bytes (48, the code of 0, too much each), doubled ones
        # as values: one sum over both.
        b = digits.encode("ascii")
        total = sum(b[-1::-2] + b[-2::-2].translate(_DOUBLED_VALUE)) - 48 * ((n + 1) // 2)
        return total % 10 == 0
    return card_brand(digits) is not None and luhn_ok(digits)


def _brand_known(n: int, p6: int) -> bool:
    """`card_brand` is not None, for ``n`` ASCII digits (12 to 19) whose first six are
    ``p6``: the same ranges, read from one integer instead of four slices."""
    p2 = p6 // 10000
    p3 = p6 // 1000
    p4 = p6 // 100
    if p6 // 100000 == 4 and (n == 13 or n == 16 or n == 19):
        return True  # visa
    if n == 16 and (51 <= p2 <= 55 or 2221 <= p4 <= 2720):
        return True  # mastercard
    if n == 15 and (p2 == 34 or p2 == 37):
        return True  # amex
    wide = 16 <= n <= 19
    if wide and (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925):
        return True  # discover
    if (wide and p2 == 35) or (n == 15 and (p4 == 1800 or p4 == 2131)):
        return True  # jcb
    if 14 <= n <= 19 and (300 <= p3 <= 305 or p4 == 3095 or p2 == 36 or p2 == 38 or p2 == 39):
        return True  # diners
    if wide and (p2 == 62 or 2200 <= p4 <= 2204):
        return True  # unionpay, mir
    # maestro; "0604" as the first four digits is p4 == 604
    return p2 in (50, 56, 57, 58, 67) or p4 == 6304 or p4 == 6390 or p4 == 604


# Whether this module runs compiled (proctor/hotpath.py): a walk over characters is cheap
# then, and costs more than C string operations interpreted.
_COMPILED: Final = hotpath.is_extension(__file__)


def card_span_ok(text: str, start: int, end: int) -> bool:
    """``card_ok`` of ``text[start:end]`` with its spaces and dashes removed: a card number
    as written, as the card detector's matches are."""
    if _COMPILED:
        return _card_walk(text, start, end)
    return card_ok(text[start:end].replace(" ", "").replace("-", ""))


def _card_walk(text: str, start: int, end: int) -> bool:
    """`card_span_ok` in one walk over the characters, no string built: compiled it costs a
    fifth of the slicing, replacing and summing (0.5 against 2.9 µs for a written card).
    Anything but ASCII digits, spaces and dashes takes the general path, so the answer is
    always exactly ``card_ok``'s (tests compare the two, compiled and interpreted)."""
    n = 0
    total = 0
    i = end - 1
    while i >= start:  # from the right: Luhn doubles every second digit from the end
        c = ord(text[i])
        if 48 <= c <= 57:
            d = c - 48
            if n & 1:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
            n += 1
        elif c != 32 and c != 45:
            return card_ok(text[start:end].replace(" ", "").replace("-", ""))
        i -= 1
    if n < 12 or n > 19 or total % 10:
        return False
    p6 = 0
    seen = 0
    i = start
    while seen < 6:
        c = ord(text[i])
        if 48 <= c <= 57:
            p6 = p6 * 10 + c - 48
            seen += 1
        i += 1
    return _brand_known(n, p6)


# --- US social security numbers --------------------------------------------------------------


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000."""
    if area == "000" or area == "666" or area[0] == "9":
        return False
    return group != "00" and serial != "0000"


# --- IBAN ------------------------------------------------------------------------------------

# Country code -> total IBAN length (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_mod97(iban: str) -> int:
    """ISO 7064 mod 97-10 of an IBAN (country and check digits moved to the end)."""
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97


def iban_ok(text: str) -> bool:
    """Country known, length right for the country, check digits right (mod 97 == 1)."""
    iban = text.replace(" ", "").upper()
    if not iban.isalnum() or not iban.isascii():
        return False
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is None or len(iban) != expected or not iban[2:4].isdigit():
        return False
    return iban_mod97(iban) == 1


# --- IP addresses ----------------------------------------------------------------------------


def ipv4_ok(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def ipv6_ok(text: str) -> bool:
    # A real address has at least one digit: "a::b", "dead::beef" or a bare "::" are far more
    # often code (C++ scopes, Ruby symbols) than addresses.
    if not any(c.isdigit() for c in text):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def ip_ok(text: str) -> bool:
    return ipv4_ok(text) if ":" not in text else ipv6_ok(text)


# --- email -----------------------------------------------------------------------------------


def email_ok(text: str) -> bool:
    local, sep, domain = text.rpartition("@")
    if not sep or not local or len(local) > 64 or len(domain) > 253:
        return False
    if local[0] == "." or local[-1] == "." or ".." in local:
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not labels[-1].isalpha():
        return False
    return all(lb and lb[0] != "-" and lb[-1] != "-" and len(lb) <= 63 for lb in labels)


# --- JSON Web Tokens -------------------------------------------------------------------------


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_ok(token: str) -> bool:
    """Three base64url parts whose header decodes to a JSON object with an ``alg``."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(b64url_decode(parts[0]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str)


# --- phone numbers ---------------------------------------------------------------------------

# Regions tried for numbers written nationally (leading 0, no country code).
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("GB", "DE", "FR", "IT", "ES", "NL", "AU", "IN", "BR")

_DATE_SHAPE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", re.ASCII)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|#)\s?\d{1,6}$", re.ASCII | re.IGNORECASE)


def phone_digits(text: str) -> str:
    return "".join(c for c in _EXTENSION.sub("", text) if c.isdigit())


def phone_ok(text: str, regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> bool:
    """Is this phone-shaped candidate a possible phone number?

    Rules against look-alikes: a date shape (``01.02.2024``) is never a phone; international
    numbers (``+``/``00``) must be possible for their country code; NANP numbers
    (``806-231-2102``) need area code and exchange starting 2-9; numbers written nationally
    with a leading 0 must be possible in one of ``regions``.
    """
    core = _EXTENSION.sub("", text).strip()
    if _DATE_SHAPE.fullmatch(core):
        return False
    digits = "".join(c for c in core if c.isdigit())
    if not 7 <= len(digits) <= 15:
        return False
    try:
        if core.startswith("+") or core.startswith("00"):
            intl = digits[2:] if core.startswith("00") else digits
            num = phonenumbers.parse("+" + intl, None)
            return bool(phonenumbers.is_possible_number(num))
        if digits[0] == "0":
            for region in regions:
                num = phonenumbers.parse(core, region)
                if phonenumbers.is_possible_number(num):
                    return True
            return False
    except phonenumbers.NumberParseException:
        return False
    nanp = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    return len(nanp) == 10 and nanp[0] in "23456789" and nanp[3] in "23456789"


# --- dates -----------------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def parse_date(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of a date written ISO, m/d/y, d.m.y or with a month name."""
    t = text.strip().rstrip(",")
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?", t, re.ASCII)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    elif m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})", t, re.ASCII):
        mo, d, y = int(m[1]), int(m[2]), int(m[3])
    elif m := re.fullmatch(r"(\d{1,2})[.-](\d{1,2})[.-](\d{4})", t, re.ASCII):
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    elif m := re.fullmatch(r"([A-Za-z]{3})[a-z]*\.? (\d{1,2}),? (\d{4})", t, re.ASCII):
        if m[1].lower() not in _MONTHS:
            return None
        mo, d, y = _MONTHS.index(m[1].lower()) + 1, int(m[2]), int(m[3])
    elif m := re.fullmatch(r"(\d{1,2}) ([A-Za-z]{3})[a-z]*\.?,? (\d{4})", t, re.ASCII):
        if m[2].lower() not in _MONTHS:
            return None
        mo, d, y = _MONTHS.index(m[2].lower()) + 1, int(m[1]), int(m[3])
    else:
        return None
    if y < 100:
        y += 1900
    if not (1 <= mo <= 12 and 1 <= d <= 31 and 1800 <= y <= 2200):
        return None
    return y, mo, d


# --- person names ----------------------------------------------------------------------------


def person_name_ok(text: str) -> bool:
    """Two to five capitalised words of letters (apostrophes, hyphens, dots allowed)."""
    words = text.split()
    if not 2 <= len(words) <= 5:
        return False
    for w in words:
        core = w.replace("'", "").replace("-", "").replace(".", "").replace("\u2019", "")
        if not core or not core.isalpha() or not w[0].isupper():
            return False
    return True


# Validators a custom detector may name in config: each takes the matched text.
VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": lambda s: (d := "".join(c for c in s if c.isdigit())) != "" and luhn_ok(d),
    "card": lambda s: card_ok("".join(c for c in s if c.isdigit())),
    "iban": iban_ok,
    "ssn": lambda s: (
        len(d := "".join(c for c in s if c.isdigit())) == 9 and ssn_ok(d[:3], d[3:5], d[5:])
    ),
    "email": email_ok,
    "ipv4": ipv4_ok,
    "ipv6": ipv6_ok,
    "ip": ip_ok,
    "jwt": jwt_ok,
    "phone": phone_ok,
    "date": lambda s: parse_date(s) is not None,
}
