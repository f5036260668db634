"""Built-in detectors: a candidate pattern, a trigger, bounds, a priority and a check.

Theory of operation
-------------------
A detector finds candidates with a Python regex (``pattern``, may use lookarounds) and
confirms each with ``check(match) -> masked span | None`` (checksums, number plans, context
words). Between candidates of different detectors that overlap, the higher ``priority`` wins
(then the longer, then the earlier): a password inside a URI beats the e-mail look-alike
``pass@host``.

Every detector also has a ``trigger``: a simpler ASCII regex, free of lookarounds and
back-references, that Hyperscan (or a bytes regex) can run over a whole buffer. Contract, kept
by tests: **every match of ``pattern`` contains a match of ``trigger``** (so no trigger hit
means no candidate), and every match is at most ``max_len`` characters long and looks at most
``LOOKAHEAD`` characters past its end. That lets the scanner run Python only in windows around
trigger hits, and lets the gateway skip whole rows without a hit.

Patterns are compiled with ``re.ASCII`` (``\\d`` is 0-9, ``\\s`` is ASCII space) so that they
mean the same as their triggers do in Hyperscan. A detector with ``needs`` runs only where the
context boosts that entity (relaxed detectors for ``ssn``/``phone``/``card`` columns and keys).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from proctor.masking import validators as v
from proctor.masking.entities import Entity

Span = tuple[int, int]
Check = Callable[[re.Match[str], Span], Span | None]

LOOKAHEAD = 16  # no pattern looks further than this past its match
CONTEXT_LEFT = 120  # no check reads further than this before its match
CONTEXT_RIGHT = 16  # ... or after it


@dataclass(frozen=True, slots=True, eq=False)
class Detector:
    name: str
    entity: str
    pattern: re.Pattern[str]
    trigger: str | None  # None: no usable trigger, the pattern always runs
    max_len: int
    priority: int
    check: Check | None = None
    groups: tuple[str, ...] = ()  # the first of these that took part is the masked span
    needs: str | None = None  # active only when the context boosts this entity
    windowed: bool = True  # trigger hits bound matches (built-ins); custom: gate only
    trigger_caseless: bool = False
    lead: int = 0  # every match has a trigger end within this of its start (0: max_len)
    # The candidate is always the whole match (no groups; the check returns the span it is
    # given, or None). Lets the scanner skip such a detector where all its trigger hits
    # lie inside candidates of higher priority (`Scanner.find`).
    keeps_span: bool = False

    def span(self, m: re.Match[str]) -> Span:
        for g in self.groups:
            s = m.start(g)
            if s >= 0:
                return s, m.end(g)
        return m.span()


def _rx(pattern: str, flags: int = re.ASCII) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.VERBOSE)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _text(m: re.Match[str], span: Span) -> str:
    return m.string[span[0] : span[1]]


# --- checks ----------------------------------------------------------------------------------


def _card(m: re.Match[str], span: Span) -> Span | None:
    return span if v.card_span_ok(m.string, span[0], span[1]) else None


def _ssn(m: re.Match[str], span: Span) -> Span | None:
    return span if v.ssn_ok(m["a"], m["g"], m["n"]) else None


def _email(m: re.Match[str], span: Span) -> Span | None:
    return span if v.email_ok(_text(m, span)) else None


def _phone(m: re.Match[str], span: Span) -> Span | None:
    return span if v.phone_ok(_text(m, span)) else None


def _phone_relaxed(m: re.Match[str], span: Span) -> Span | None:
    t = _text(m, span)
    n = len(v.phone_digits(t))
    if not 7 <= n <= 15 or v.parse_date(t) is not None:
        return None
    return span


def _phone_kw(m: re.Match[str], span: Span) -> Span | None:
    d = _digits(_text(m, span))
    return span if 7 <= len(d) <= 15 and len(set(d)) > 2 else None


def _iban(m: re.Match[str], span: Span) -> Span | None:
    return span if v.iban_ok(_text(m, span)) else None


def _ipv4(m: re.Match[str], span: Span) -> Span | None:
    return span if v.ipv4_ok(_text(m, span)) else None


def _ipv6(m: re.Match[str], span: Span) -> Span | None:
    return span if v.ipv6_ok(_text(m, span).split("%", 1)[0]) else None


def _jwt(m: re.Match[str], span: Span) -> Span | None:
    return span if v.jwt_ok(_text(m, span)) else None


def _vendor_token(m: re.Match[str], span: Span) -> Span | None:
    t = _text(m, span)
    if t.startswith("sk-") and not (
        len(t) >= 24 and any(c.isdigit() for c in t) and any(c.isalpha() for c in t[3:])
    ):
        return None
    return span


def _aws_secret(m: re.Match[str], span: Span) -> Span | None:
    t = _text(m, span)
    if not (any(c.isupper() for c in t) and any(c.islower() for c in t)):
        return None  # hex digests and other single-case strings are not secret keys
    if not any(c.isdigit() or c in "/+" for c in t):
        return None
    return span


# Last words of a key that make ``key=value`` not a secret (``token_count=5``).
_KV_NOT_SECRET = _wordset(
    "count id ids len length size used type name names expires expiry expiration at ttl "
    "url uri path file endpoint version limit max min enabled required set field policy "
    "format prompt hint label header kind mode rotation created updated"
)
# Keys that measure or configure secrets rather than hold one (``max_tokens``).
_KV_MEASURE = _wordset("max min num total tokens secrets passwords")
_PLACEHOLDERS = _wordset(
    "true false null none nil yes no undefined redacted *** ****** <redacted> [secret] "
    "[redacted] xxx changeme"
)
_KEY_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _kv_secret(m: re.Match[str], span: Span) -> Span | None:
    words = [w.lower() for w in _KEY_WORDS.findall(m["k"])]
    if words and (words[-1] in _KV_NOT_SECRET or _KV_MEASURE & set(words)):
        return None
    value = _text(m, span)
    low = value.lower()
    if low in _PLACEHOLDERS or set(value) <= {"*", "x", "X", "•"}:
        return None
    if value.startswith(("${", "{{", "%(", "$(", "<%")) or m.string.startswith("{", span[1]):
        return None  # a template reference (``${DB_PASSWORD}``), not a secret
    return span


def _dob(m: re.Match[str], span: Span) -> Span | None:
    return span if v.parse_date(_text(m, span)) is not None else None


def _capitalised_prefix(m: re.Match[str], span: Span, min_words: int) -> Span | None:
    """Keep the leading run of capitalised words (``Jane Doe logged in`` -> ``Jane Doe``)."""
    text = _text(m, span)
    end = 0
    count = 0
    pos = 0
    for part in text.split(" "):
        core = part.rstrip(".,;")
        if (
            not core
            or not core[0].isupper()
            or not core.replace("'", "")
            .replace("-", "")
            .replace(".", "")
            .replace("\u2019", "")
            .isalpha()
        ):
            break
        count += 1
        end = pos + len(core)
        pos += len(part) + 1
    if count < min_words:
        return None
    return span[0], span[0] + end


def _person_name(m: re.Match[str], span: Span) -> Span | None:
    key = m["k"].lower().replace("_", " ").replace("-", " ")
    single_ok = any(w in key for w in ("first", "last", "given", "family", "sur", "middle"))
    return _capitalised_prefix(m, span, 1 if single_ok else 2)


_ADDRESS_TAIL = re.compile(r"\s+[A-Za-z_]+\s*[=:].*$|\s+$", re.ASCII)


def _address(m: re.Match[str], span: Span) -> Span | None:
    text = _text(m, span)
    cut = _ADDRESS_TAIL.search(text)
    end = span[0] + (cut.start() if cut else len(text))
    return (span[0], end) if end - span[0] >= 4 else None


# --- patterns --------------------------------------------------------------------------------

_CARD = r"""
(?<![\w-])
(?: \d{12,19}
  | \d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{3})?
  | \d{4}(?P<t>[ -])\d{6}(?P=t)\d{4,5}
)
(?![\w-]|\.\d)
"""
_CARD_TRIGGER = r"\d{4}[ -]?\d{4}[ -]?\d{4}|\d{4}[ -]\d{6}[ -]\d{4}"

_CARD_RELAXED = r"(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w-]|\.\d)"

_SSN = r"(?<![\w./-])(?P<a>\d{3})(?P<s>[- ])(?P<g>\d{2})(?P=s)(?P<n>\d{4})(?![\w/-]|\.\d)"
_SSN_KW = r"""
(?i:\b(?:ssn|ss\#|social[ _-]?security(?:[ _-]?(?:number|no\.?|\#))?))
["']?[ \t]{0,3}(?:[:=\#]|is|was)?[ \t]{0,3}["']?
(?P<v>\d{3}[- ]?\d{2}[- ]?\d{4})(?![\w-])
"""
_SSN_RELAXED = r"(?<![\w-])\d{3}[- .]?\d{2}[- .]?\d{4}(?![\w-])"

_EMAIL = r"""
(?<![\w.%+-])
[A-Za-z0-9_%+-][A-Za-z0-9._%+-]{0,63}
@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}
(?![\w-]|\.[A-Za-z0-9])
"""

_PHONE = r"""
(?<![\w+./@-])
(?: \+[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\(\d{1,5}\))?[ .-]?\d(?:[ .-]?\d){5,13}
  | 00[1-9]\d{0,2}[ .-]\d{3}(?:[ .-]?\d{1,8}){1,4}
  | (?:1[ .-]?)?\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}
  | (?:1[ .-])?\d{3}[ .-]\d{3}[ .-]\d{4}
  | \(0\d{1,5}\)[ -]?\d{2,8}(?:[ -]\d{2,8}){0,3}
  | 0\d[ .]\d{2}[ .]\d{2}[ .]\d{2}[ .]\d{2}
  | 0\d{1,4}[ -]\d{3,8}(?:[ -]\d{2,8}){0,4}
)
(?:[ ]?(?i:x|ext\.?|\#)[ ]?\d{1,6})?
(?![\w/@-]|\.\d)
"""
_PHONE_TRIGGER = "|".join(
    (
        r"\+[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\(\d{1,5}\))?[ .-]?\d(?:[ .-]?\d){5}",
        r"00[1-9]\d{0,2}[ .-]\d{3}",
        r"\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}",
        r"\d{3}[ .-]\d{3}[ .-]\d{4}",
        r"\(0\d{1,5}\)",
        r"0\d[ .]\d{2}[ .]\d{2}[ .]\d{2}[ .]\d{2}",
        r"0\d{1,4}[ -]\d{3}",
    )
)
_PHONE_KW_WORDS = r"phone|tel|telephone|mobile|cell|fax|call|sms|whatsapp|contact|reach"
_PHONE_KW = rf"""
(?i:\b(?:{_PHONE_KW_WORDS})\b)
(?:[ \t]{{0,3}}(?i:me|us|him|her|them|at|on|no\.?|number|\#|is|sent|to|via|from|was)\b){{0,3}}
[ \t]{{0,3}}[:=]?[ \t]{{0,3}}["']?
(?P<v>\+?\d{{7,15}})(?![\w-])
"""
_PHONE_RELAXED = r"(?<![\w.-])\+?\(?\d[\d ().-]{5,22}\d(?![\w-])"

_IBAN = r"""
(?<![A-Za-z0-9])
[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?
(?![A-Za-z0-9])
"""

_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)"
_H = r"[0-9A-Fa-f]{1,4}"
_V4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_IPV6 = rf"""
(?<![\w:.])
(?: (?:{_H}:){{7}}{_H}
  | (?:{_H}:){{6}}{_V4}
  | (?:{_H}(?::{_H}){{0,6}})?::(?:(?:{_H}:){{0,5}}{_V4}|{_H}(?::{_H}){{0,6}})?
)
(?:%[A-Za-z0-9_.]{{1,15}})?
(?![\w:]|\.\d)
"""

_VENDOR = r"""
(?<![A-Za-z0-9_-])
(?: (?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{16}
  | gh[pousr]_[A-Za-z0-9]{36,255}
  | github_pat_[A-Za-z0-9_]{22,255}
  | glpat-[A-Za-z0-9_-]{20,64}
  | xox[abposr]-[A-Za-z0-9-]{10,250}
  | (?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,250}
  | whsec_[A-Za-z0-9]{24,128}
  | sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,250}
  | AIza[0-9A-Za-z_-]{35}
  | npm_[A-Za-z0-9]{36}
  | SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}
)
(?![A-Za-z0-9_-])
"""
_VENDOR_TRIGGER = "|".join(
    (
        r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{8}",
        r"gh[pousr]_[A-Za-z0-9]{8}",
        r"github_pat_",
        r"glpat-",
        r"xox[abposr]-",
        r"[sr]k_(?:live|test)_",
        r"whsec_",
        r"sk-[A-Za-z0-9_-]{8}",
        r"AIza[0-9A-Za-z_-]{8}",
        r"npm_[A-Za-z0-9]{8}",
        r"SG\.[A-Za-z0-9_-]{8}",
    )
)
_SLACK_HOOK = (
    r"hooks\.slack\.com/services/(?P<v>[A-Za-z0-9]{6,16}/[A-Za-z0-9]{6,16}/[A-Za-z0-9]{16,64})"
)

# A 40-character secret access key, after "aws"/"secret" or an access key id on its line.
_AWS_KEY40 = r"""
(?:(?i:aws|secret)|(?:AKIA|ASIA)[A-Z0-9]{16})[^\n]{0,100}?
(?<![A-Za-z0-9/+=])(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])
"""

_JWT = r"""
(?<![\w-])eyJ[A-Za-z0-9_-]{5,1000}\.[A-Za-z0-9_-]{2,6000}\.[A-Za-z0-9_-]{0,1000}(?![\w-])
"""

PEM_MAX_BODY = 8192
_PEM_BODY = r"[A-Za-z0-9+/=\s\\:,.-]"
_PEM = rf"""
-----BEGIN[ ](?:[A-Z0-9]{{1,12}}[ ]){{0,3}}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----
(?: {_PEM_BODY}{{0,{PEM_MAX_BODY}}}?
    -----END[ ](?:[A-Z0-9]{{1,12}}[ ]){{0,3}}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----
  | [A-Za-z0-9+/=\s\\:,.]{{0,{PEM_MAX_BODY}}}
)
"""

_URI_CREDENTIAL = r"""
(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/@?\#]{0,128}:
(?P<v>[^\s/]{1,256})@[A-Za-z0-9\[\]._-]{1,253}
"""

_KV_WORDS = (
    r"passw(?:or)?d|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|client[_-]?secret|credentials?|auth[_-]?token"
)
_KV_SECRET = rf"""
(?<![A-Za-z0-9_.-])
(?P<k>[A-Za-z0-9_.-]{{0,40}}?(?i:{_KV_WORDS})[A-Za-z0-9_.-]{{0,30}})
["']?[ \t]{{0,3}}(?:=|:(?!//))[ \t]{{0,3}}
(?: (?P<q>["'])(?P<v1>[^"'\r\n]{{1,256}})(?P=q)
  | (?P<v2>[^\s"'&;,<>(){{}}\[\]]{{1,256}})
)
"""
_KV_TRIGGER = _KV_WORDS

_AUTH = r"""
(?: (?i:\b(?:proxy-)?authorization)["']?[ \t]{0,3}[:=][ \t]{0,3}["']?
    (?:(?i:bearer|basic|token|digest|negotiate)[ \t]{1,3})?(?P<v1>[A-Za-z0-9._~+/=-]{8,4096})
  | (?<![\w-])(?i:bearer)[ \t]{1,3}(?P<v2>[A-Za-z0-9._~+/-]{16,4096}={0,2})
)
"""
_AUTH_TRIGGER = r"authorization[\"']?[ \t]{0,3}[:=]|bearer[ \t]{1,3}[A-Za-z0-9._~+/-]{16}"

_CLI_FLAG = r"""
(?<![\w-])--(?i:password|passwd|token|secret|api-key|apikey|access-key)[ =]
(?P<v>[^\s"'-][^\s"']{0,255})
"""

_DATE = r"""
(?: \d{4}-\d{2}-\d{2}
  | \d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}
  | (?i:[A-Z][a-z]{2,8})\.?[ ]\d{1,2},?[ ]\d{4}
  | \d{1,2}[ ](?i:[A-Z][a-z]{2,8})\.?,?[ ]\d{4}
)
"""
_DOB_WORDS = r"dob|d\.o\.b|date[ _-]?of[ _-]?birth|birth[ _-]?date|birthday|born"
_DOB_KW = rf"""
(?i:\b(?:{_DOB_WORDS})\.?(?:[ _]on)?)
["']?[ \t]{{0,3}}[:=]?[ \t]{{0,3}}["']?
(?P<v>{_DATE})(?![\w-])
"""

_NAME_KEYS = (
    r"full[ _-]?name|first[ _-]?name|last[ _-]?name|given[ _-]?name|family[ _-]?name"
    r"|middle[ _-]?name|surname|customer(?:[ _-]?name)?|patient(?:[ _-]?name)?"
    r"|card[ _-]?holder(?:[ _-]?name)?|contact[ _-]?name|holder[ _-]?name|name"
)
_NAME_KW = rf"""
(?<![A-Za-z0-9_])(?P<k>(?ai:{_NAME_KEYS}))
["']?[ \t]{{0,3}}[:=][ \t]{{0,3}}["']?
(?P<v>[^\W\d_](?:[^\W\d_]|['\u2019.-]){{0,30}}
  (?:[ ][^\W\d_](?:[^\W\d_]|['\u2019.-]){{0,30}}){{0,4}})
"""
_NAME_TRIGGER = r"(?:name|customer|patient|holder)[\"']?[ \t]{0,3}[:=]"

_ADDRESS_KEYS = (
    r"(?:street|postal|mailing|home|billing|shipping|residential|delivery)[ _-]?address"
    r"|address(?:[ _-]?line[ _-]?[12])?|addr|street"
)
_ADDRESS_KW = rf"""
(?<![A-Za-z0-9_])(?i:{_ADDRESS_KEYS})
["']?[ \t]{{0,3}}[:=][ \t]{{0,3}}
(?: (?P<q>["'])(?P<v1>[^"'\r\n]{{4,200}})(?P=q)
  | (?P<v2>\d{{1,6}}[A-Za-z]?[ ][^\r\n;|"=]{{3,150}})
)
"""
_ADDRESS_TRIGGER = r"(?:address|addr|street)(?:[ _-]?line[ _-]?[12])?[\"']?[ \t]{0,3}[:=]"


# Checks that return the span they are given, or None.
_SPAN_KEEPING = frozenset(
    {None, _card, _ssn, _email, _phone, _phone_relaxed, _iban, _ipv4, _ipv6, _jwt, _vendor_token}
)


def _d(
    name: str,
    entity: str,
    pattern: str,
    trigger: str,
    max_len: int,
    priority: int,
    check: Check | None = None,
    groups: tuple[str, ...] = (),
    needs: str | None = None,
    caseless: bool = False,
    flags: int = re.ASCII,
    lead: int = 0,
) -> Detector:
    return Detector(
        name=name,
        entity=entity,
        pattern=_rx(pattern, flags),
        trigger=trigger,
        max_len=max_len,
        priority=priority,
        check=check,
        groups=groups,
        needs=needs,
        trigger_caseless=caseless,
        lead=lead,
        keeps_span=not groups and check in _SPAN_KEEPING,
    )


E = Entity
BUILTIN: tuple[Detector, ...] = (
    _d("pem_private_key", E.SECRET, _PEM, r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY",
       PEM_MAX_BODY + 200, 100, lead=64),
    _d("jwt", E.SECRET, _JWT, r"eyJ[A-Za-z0-9_-]{5}", 8100, 95, _jwt, lead=9),
    _d("uri_password", E.SECRET, _URI_CREDENTIAL, r"://[^\s:/@?#]{0,128}:", 700, 92,
       groups=("v",), lead=170),
    _d("vendor_token", E.SECRET, _VENDOR, _VENDOR_TRIGGER, 270, 90, _vendor_token, lead=24),
    _d("slack_webhook", E.SECRET, _SLACK_HOOK, r"hooks\.slack\.com/services/", 140, 90,
       groups=("v",), lead=30),
    _d("auth_header", E.SECRET, _AUTH, _AUTH_TRIGGER, 4200, 88, groups=("v1", "v2"),
       caseless=True, lead=48),
    _d("kv_secret", E.SECRET, _KV_SECRET, _KV_TRIGGER, 400, 85, _kv_secret,
       groups=("v1", "v2"), caseless=True, lead=120),
    _d("cli_secret", E.SECRET, _CLI_FLAG,
       r"--(?:password|passwd|token|secret|api-key|apikey|access-key)[ =]", 280, 85,
       groups=("v",), caseless=True, lead=28),
    _d("aws_secret_key", E.SECRET, _AWS_KEY40, r"aws|secret|AKIA|ASIA", 160, 80, _aws_secret,
       groups=("v",), caseless=True, lead=24),
    _d("card", E.CARD, _CARD, _CARD_TRIGGER, 23, 70, _card),
    _d("card_relaxed", E.CARD, _CARD_RELAXED, r"\d(?:[ -]?\d){11}", 37, 69, needs=E.CARD),
    _d("iban", E.IBAN, _IBAN, r"[A-Z]{2}\d{2}[ ]?[A-Z0-9]{4}[ ]?[A-Z0-9]{4}", 50, 75, _iban, lead=14),  # noqa: E501
    _d("ssn", E.SSN, _SSN, r"\d{3}[- ]\d{2}[- ]\d{4}", 11, 60, _ssn),
    _d("ssn_context", E.SSN, _SSN_KW, r"ssn|ss#|social[ _-]?security", 60, 60,
       groups=("v",), caseless=True, lead=30),
    _d("ssn_relaxed", E.SSN, _SSN_RELAXED, r"\d{3}[- .]?\d{2}[- .]?\d{4}", 11, 59,
       needs=E.SSN),
    _d("email", E.EMAIL, _EMAIL, r"[A-Za-z0-9._%+-]@[A-Za-z0-9]", 620, 55, _email, lead=70),
    _d("ipv6", E.IP, _IPV6, r"::|(?:[0-9A-Fa-f]{1,4}:){6}", 110, 51, _ipv6),
    _d("ipv4", E.IP, _IPV4, r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", 15, 50, _ipv4),
    _d("phone", E.PHONE, _PHONE, _PHONE_TRIGGER, 80, 40, _phone),
    _d("phone_context", E.PHONE, _PHONE_KW,
       _PHONE_KW_WORDS, 90, 40, _phone_kw, groups=("v",),
       caseless=True, lead=16),
    _d("phone_relaxed", E.PHONE, _PHONE_RELAXED, r"\d[\d ().-]{5,22}\d", 26, 39,
       _phone_relaxed, needs=E.PHONE),
    _d("dob_context", E.DOB, _DOB_KW, _DOB_WORDS, 60, 35, _dob, groups=("v",),
       caseless=True, lead=30),
    _d("name_context", E.NAME, _NAME_KW, _NAME_TRIGGER, 220, 30, _person_name,
       groups=("v",), caseless=True, flags=0, lead=40),
    _d("address_context", E.ADDRESS, _ADDRESS_KW, _ADDRESS_TRIGGER, 240, 25, _address,
       groups=("v1", "v2"), caseless=True, lead=40),
)  # fmt: skip

BY_NAME: dict[str, Detector] = {d.name: d for d in BUILTIN}
