"""Context hints: what a column name, JSON key or variable name says about its values.

A name is split into lower-case words (``customerEmail`` -> customer, email;
``AWS_SECRET_ACCESS_KEY`` -> aws, secret, access, key) and read from its end, the way English
puts the head noun last: ``phone_number`` is a phone, ``phone_verified`` is not;
``password_changed_at`` is a timestamp, not a password.

A `Context` says one of:
- ``whole``: every value is the entity (``password``, ``first_name``, ``dob``): the whole value
  is masked without looking at it (``weak``: only if the value looks like it, for a bare
  ``name`` whose table says nothing);
- ``boost``: values of this entity are expected; relaxed detectors run (a ``ssn`` column masks
  ``123456789`` that text without context would leave alone);
- ``suppress``: values look like ids, not phone numbers or SSNs (``order_id``, ``build``,
  ``version``, ``sha256``); the phone and SSN detectors do not run.

Only names reach this module, never values (so its caches hold no data).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from proctor.masking.entities import Entity

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


@dataclass(frozen=True, slots=True)
class Context:
    whole: str | None = None
    weak: bool = False
    boost: frozenset[str] = frozenset()
    suppress: frozenset[str] = frozenset()

    @property
    def neutral(self) -> bool:
        return self.whole is None and not self.boost and not self.suppress


NEUTRAL = Context()


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_S, _P, _C, _E = Entity.SSN, Entity.PHONE, Entity.CARD, Entity.EMAIL
_SECRET, _DOB, _NAME, _ADDR = Entity.SECRET, Entity.DOB, Entity.NAME, Entity.ADDRESS

# Tail phrases (last words of a name) whose values are wholly the entity.
WHOLE: dict[tuple[str, ...], str] = {
    **{(w,): _SECRET for w in ("password", "passwd", "pwd", "passphrase", "secret", "token",
                              "apikey", "credential", "credentials", "pin", "otp", "cvv",
                              "cvc", "cvv2", "totp", "mfa")},
    ("api", "key"): _SECRET, ("access", "key"): _SECRET, ("secret", "key"): _SECRET,
    ("private", "key"): _SECRET, ("signing", "key"): _SECRET, ("encryption", "key"): _SECRET,
    ("password", "hash"): _SECRET, ("password", "digest"): _SECRET, ("pass", "word"): _SECRET,
    ("secret", "access", "key"): _SECRET, ("connection", "string"): _SECRET,
    ("security", "code"): _SECRET,
    **{(w,): _DOB for w in ("dob", "birthdate", "birthday", "born")},
    ("birth", "date"): _DOB, ("date", "of", "birth"): _DOB, ("born", "on"): _DOB,
    ("birth", "day"): _DOB,
    **{(w,): _NAME for w in ("surname", "firstname", "lastname", "fullname", "forename",
                            "cardholder", "middlename", "givenname", "maidenname")},
    **{(w, "name"): _NAME for w in ("first", "last", "full", "middle", "given", "family",
                                   "maiden", "customer", "contact", "holder", "cardholder",
                                   "patient", "employee", "person", "recipient", "sender",
                                   "billing", "shipping", "legal", "real", "client", "member",
                                   "account", "owner", "guardian", "beneficiary", "payee",
                                   "applicant", "student", "nick", "display", "sur", "fore")},
    ("card", "holder"): _NAME, ("account", "holder"): _NAME,
    **{(w,): _ADDR for w in ("address", "addr", "street", "zip", "zipcode", "postcode",
                            "postalcode", "address1", "address2")},
    ("zip", "code"): _ADDR, ("postal", "code"): _ADDR, ("post", "code"): _ADDR,
    ("address", "line"): _ADDR, ("street", "address"): _ADDR, ("street", "name"): _ADDR,
    **{("address", "line", n): _ADDR for n in ("1", "2", "3")},
    **{("address", n): _ADDR for n in ("1", "2", "3")},
    **{("line", n): _ADDR for n in ("1", "2")},
}  # fmt: skip

# Tail phrases whose values are expected to contain the entity (relaxed detection).
BOOST: dict[tuple[str, ...], str] = {
    **{(w,): _S for w in ("ssn", "ssns", "sin", "itin", "tin")},
    ("social", "security"): _S, ("social", "security", "number"): _S,
    ("social", "security", "no"): _S, ("tax", "id"): _S, ("ssn", "number"): _S,
    **{(w,): _P for w in ("phone", "phones", "mobile", "cell", "telephone", "tel", "fax",
                         "msisdn", "cellphone", "phonenumber", "landline", "contact")},
    **{(w, "number"): _P for w in ("phone", "mobile", "cell", "telephone", "tel", "fax",
                                  "contact", "whatsapp")},
    **{(w, "no"): _P for w in ("phone", "mobile", "tel")},
    **{(w,): _E for w in ("email", "emails", "mail", "e-mail")},
    ("e", "mail"): _E, ("email", "address"): _E, ("mail", "address"): _E,
    **{(w,): _C for w in ("pan", "cc", "ccnum", "ccn", "card", "cards", "creditcard",
                         "cardnumber")},
    **{(w, "number"): _C for w in ("card", "cc", "credit", "debit")},
    **{(w, "num"): _C for w in ("card", "cc")},
    **{(w, "no"): _C for w in ("card", "cc")},
    ("credit", "card"): _C, ("debit", "card"): _C, ("card", "pan"): _C,
    ("credit", "card", "number"): _C, ("primary", "account", "number"): _C,
    ("iban",): Entity.IBAN, ("bank", "account"): Entity.IBAN,
    ("ip",): Entity.IP, ("ip", "address"): Entity.IP, ("ip", "addr"): Entity.IP,
    ("remote", "addr"): Entity.IP, ("ipv4",): Entity.IP, ("ipv6",): Entity.IP,
    ("client", "address"): Entity.IP, ("remote", "address"): Entity.IP, ("inet",): Entity.IP,
}  # fmt: skip

# Words that make a name an identifier/measure, not a person's data (suppress phone/SSN).
NEGATIVE_WORDS = _wordset(
    "id ids uuid guid sku ref reference order orders invoice build version ver revision "
    "rev commit sha sha1 sha256 sha512 md5 hash checksum digest etag tracking serial "
    "transaction txn batch lot ticket request trace span correlation sequence seq count "
    "qty quantity amount total price cost size port timestamp ts epoch duration ms millis "
    "nanos bytes offset limit index idx code number num no key"
)
# ``number``/``no``/``key``/``code`` only act when no positive phrase matched above.

# Table-name words that make a bare ``name`` column a person's name.
PERSON_TABLES = _wordset(
    "customer customers user users person persons people employee employees patient "
    "patients contact contacts member members client clients student students staff "
    "account accounts cardholder cardholders subscriber subscribers applicant applicants "
    "author authors passenger passengers guest guests"
)
NONPERSON_NAME_HEADS = _wordset(
    "file host table column schema product company business brand category app domain "
    "database db index type event field key bucket queue topic server service cluster "
    "branch tag project repo role group team org organization organisation city country "
    "state region street"
)

# ``address`` preceded by these is not a postal address.
_NOT_POSTAL = _wordset(
    "email mail e ip mac remote server host wallet web url contract hardware memory "
    "bitcoin btc eth ethereum public local bind listen client peer proxy gateway network "
    "net ipv4 ipv6 inet"
)


def words(name: str) -> tuple[str, ...]:
    """``customerEmailAddress`` -> ("customer", "email", "address")."""
    return tuple(w.lower() for w in _WORD.findall(name))


def _singular(w: str) -> str:
    if len(w) > 4 and w.endswith("es") and w[:-2] in ("address",):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


@functools.lru_cache(maxsize=4096)
def context_of_name(name: str, table: str | None = None) -> Context:
    """The context one name gives (the cache holds names only, never values)."""
    ws = words(name)
    if not ws:
        return NEUTRAL
    tail = (*ws[:-1], _singular(ws[-1]))
    for n in (3, 2, 1):
        for cand in (tail[-n:], ws[-n:]):
            if len(cand) != n:
                continue
            ent = WHOLE.get(cand)
            if ent is not None:
                if ent == _ADDR and len(ws) > n and ws[-n - 1] in _NOT_POSTAL:
                    return Context(boost=frozenset({Entity.IP})) if ws[-n - 1] in (
                        "ip", "ipv4", "ipv6", "remote", "client", "peer", "inet"
                    ) else NEUTRAL  # fmt: skip
                return Context(whole=ent)
            ent = BOOST.get(cand)
            if ent is not None:
                return Context(boost=frozenset({ent}))
    head = tail[-1]
    if head == "name" and (len(ws) == 1 or ws[-2] not in NONPERSON_NAME_HEADS):
        table_words = set(words(table.rsplit(".", 1)[-1])) if table else set()
        if table_words & PERSON_TABLES or (len(ws) > 1 and ws[-2] in PERSON_TABLES):
            return Context(whole=_NAME)
        if not table_words or len(ws) > 1:
            return Context(whole=_NAME, weak=True)
        return NEUTRAL
    if head in NEGATIVE_WORDS or (head.isdigit() and len(ws) > 1 and ws[-2] in NEGATIVE_WORDS):
        return Context(suppress=frozenset({_P, _S}))
    return NEUTRAL


def context_of(names: Iterable[str | None], table: str | None = None) -> Context:
    """The context of several names for one value (output name, source column, key path):
    the first name that says something decides; boosts add up."""
    found: Context | None = None
    boost: set[str] = set()
    for name in names:
        if not name:
            continue
        ctx = context_of_name(name, table)
        boost |= ctx.boost
        if found is None and not ctx.neutral:
            found = ctx
    if found is None:
        return Context(boost=frozenset(boost)) if boost else NEUTRAL
    if boost - found.boost:
        return Context(found.whole, found.weak, found.boost | boost, found.suppress - boost)
    return found
