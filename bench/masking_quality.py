"""Masking quality: precision, recall and F1 per entity on a labelled, Faker-generated set.

    .venv/bin/python -m bench.masking_quality                  # report (Markdown)
    .venv/bin/python -m bench.masking_quality --n 4000 --seed 7
    .venv/bin/python -m bench.masking_quality --backend re     # the pure-Python scanner
    .venv/bin/python -m bench.masking_quality --write-corpus tests/corpora/masking/labelled.jsonl

Items are cells (a value under a column name), log lines, free-text sentences and JSON
documents, with hard negatives that must not be touched: order ids, ``BUILD-555-1234``, UUIDs,
timestamps, non-Luhn 16-digit numbers, 9-digit ids, version strings, hashes, amounts.

Scoring. Text items: a gold span counts as found only if a detection of the same entity
covers all of it (a partial cover leaks, so it is a miss); a detection that matches no gold
span of its entity is a false positive. JSON items: per leaf value, the entities whose label
appears in the masked leaf against the entities the leaf holds; a leaf whose original value
survives verbatim is a miss. A hard negative is "touched" when any detection overlaps it.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import random
import re
import string
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faker import Faker

from proctor.masking import Masker, Profile
from proctor.masking.engine import MaskingStats

ENTITIES = ("card", "ssn", "email", "phone", "iban", "ip", "secret", "dob", "name", "address")
GOALS = {  # entity -> (precision, recall)
    "card": (0.98, 0.99),
    "ssn": (0.98, 0.99),
    "email": (0.98, 0.99),
    "iban": (0.98, 0.99),
    "ip": (0.98, 0.99),
    "secret": (0.98, 0.99),
    "phone": (0.95, 0.95),
}
HARD_NEGATIVE_GOAL = 0.005


@dataclass
class Item:
    kind: str  # cell | log | text | json
    text: str  # the text, or the JSON document as text
    hints: list[str] = field(default_factory=list)
    gold: list[tuple[int, int, str]] = field(default_factory=list)  # text items
    negatives: list[tuple[int, int]] = field(default_factory=list)  # text items
    leaves: dict[str, list[str]] = field(default_factory=dict)  # json: path -> entities
    neg_leaves: list[str] = field(default_factory=list)  # json: paths of hard negatives

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v or k in ("kind", "text")}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Item:
        item = cls(d["kind"], d["text"], d.get("hints", []))
        item.gold = [(int(g[0]), int(g[1]), str(g[2])) for g in d.get("gold", [])]
        item.negatives = [(int(n[0]), int(n[1])) for n in d.get("negatives", [])]
        item.leaves = d.get("leaves", {})
        item.neg_leaves = d.get("neg_leaves", [])
        return item


# --- value generators ----------------------------------------------------------------------


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.f = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
        self.f.seed_instance(seed)
        self.us = Faker("en_US")
        self.us.seed_instance(seed + 1)

    def pick(self, seq: Sequence[Any]) -> Any:
        return self.r.choice(seq)

    # positives
    def card(self) -> str:
        kind = self.pick(["visa16", "visa13", "visa19", "mastercard", "amex", "discover",
                          "jcb16", "diners", "maestro", "jcb15"])  # fmt: skip
        num = self.us.credit_card_number(card_type=kind)
        style = self.r.random()
        if len(num) == 16 and style < 0.3:
            return " ".join(num[i : i + 4] for i in range(0, 16, 4))
        if len(num) == 16 and style < 0.5:
            return "-".join(num[i : i + 4] for i in range(0, 16, 4))
        if len(num) == 15 and style < 0.4 and num[:2] in ("34", "37"):
            return f"{num[:4]} {num[4:10]} {num[10:]}"
        return num

    def ssn(self) -> str:
        return str(self.us.ssn())

    def email(self) -> str:
        return str(self.pick([self.f.email, self.f.company_email, self.f.free_email])())

    def phone(self) -> str:
        return str(self.f.phone_number())

    def iban(self) -> str:
        loc = self.pick(["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL"])
        iban = str(Faker(loc).iban())
        if self.r.random() < 0.35:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def ip(self) -> str:
        c = self.r.random()
        if c < 0.5:
            return str(self.f.ipv4())
        if c < 0.65:
            return str(self.f.ipv4_private())
        addr = ipaddress.IPv6Address(self.f.ipv6())
        return addr.compressed if c < 0.85 else addr.exploded

    def _rand(self, alphabet: str, n: int) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def jwt(self) -> str:
        def b64(obj: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        header = b64({"alg": self.pick(["HS256", "RS256", "ES256"]), "typ": "JWT"})
        payload = b64({"sub": self.f.uuid4(), "name": self.f.name(), "iat": 1700000000})
        sig = self._rand(string.ascii_letters + string.digits + "-_", self.pick([43, 86, 342]))
        return f"{header}.{payload}.{sig}"

    def pem(self) -> str:
        kind = self.pick(["RSA ", "EC ", "", "OPENSSH "])
        body = "\n".join(
            self._rand(string.ascii_letters + string.digits + "+/", 64)
            for _ in range(self.r.randint(3, 25))
        )
        return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"

    def token(self) -> str:
        up, al = string.ascii_uppercase + string.digits, string.ascii_letters + string.digits
        return str(
            self.pick(
                [
                    lambda: "AKIA" + self._rand(up, 16),
                    lambda: "ASIA" + self._rand(up, 16),
                    lambda: "ghp_" + self._rand(al, 36),
                    lambda: "gho_" + self._rand(al, 36),
                    lambda: "github_pat_" + self._rand(al + "_", 82),
                    lambda: "glpat-" + self._rand(al + "-_", 20),
                    lambda: (
                        "xoxb-"
                        + "-".join(self._rand(string.digits, 12) for _ in range(2))
                        + "-"
                        + self._rand(al, 24)
                    ),
                    lambda: "sk_live_" + self._rand(al, 24),
                    lambda: "rk_live_" + self._rand(al, 24),
                    lambda: "sk-proj-" + self._rand(al + "-_", 48) + "1a",
                    lambda: "sk-" + self._rand(al, 46) + "9Z",
                    self.jwt,
                ]
            )()
        )

    def aws_secret(self) -> str:
        s = self._rand(string.ascii_letters + string.digits + "/+", 38)
        return s + str(self.pick("AbCd")) + str(self.pick("0123456789"))

    def password(self) -> str:
        return self._rand(string.ascii_letters + string.digits + "!#%^*_", self.r.randint(8, 20))

    def dob(self) -> str:
        d = self.us.date_of_birth(minimum_age=18, maximum_age=90)
        return str(self.pick([d.isoformat(), d.strftime("%m/%d/%Y"), d.strftime("%B %d, %Y")]))

    def name(self) -> str:
        return str(self.us.name())

    def address(self) -> str:
        return str(self.us.street_address())

    # hard negatives
    def order_id(self) -> str:
        return str(
            self.pick(
                [
                    lambda: f"ORD-{self.r.randint(2019, 2025)}-{self.r.randint(0, 999999):06d}",
                    lambda: f"INV-{self.r.randint(0, 99999999):08d}",
                    lambda: f"PO{self.r.randint(10**7, 10**8 - 1)}",
                    lambda: (
                        f"A-{self.r.randint(100, 999)}-{self.r.randint(10, 99)}-"
                        f"{self.r.randint(1000, 9999)}"
                    ),
                ]
            )()
        )

    def build(self) -> str:
        return f"BUILD-{self.r.randint(100, 999)}-{self.r.randint(1000, 9999)}"

    def uuid(self) -> str:
        return str(self.f.uuid4())

    def timestamp(self) -> str:
        dt = self.f.date_time_between(start_date="-5y", end_date="now")
        return str(
            self.pick(
                [
                    dt.isoformat() + "Z",
                    dt.strftime("%Y-%m-%d %H:%M:%S"),
                    dt.strftime("%Y-%m-%d %H:%M:%S.%f+00"),
                    dt.strftime("%Y-%m-%dT%H:%M:%S.%f-05:00"),
                    str(int(dt.timestamp() * 1000)),
                    str(int(dt.timestamp())),
                    dt.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                ]
            )
        )

    def non_luhn16(self) -> str:
        while True:
            digits = self.pick("3456") + self._rand(string.digits, 15)
            from proctor.masking.validators import luhn_ok

            if not luhn_ok(digits):
                return str(digits)

    def id9(self) -> str:
        return str(self.r.randint(10**8, 10**9 - 1))

    def version(self) -> str:
        a, b, c = self.r.randint(0, 20), self.r.randint(0, 30), self.r.randint(0, 200)
        return str(self.pick([f"{a}.{b}.{c}", f"v{a}.{b}.{c}", f"{a}.{b}.{c}-rc.{b}",
                              f"{a}.{b}", f"{a}.{b}.{c}.{self.r.randint(1000, 99999)}"]))  # fmt: skip  # noqa: E501

    def hash(self) -> str:
        n = self.pick([32, 40, 64, 7, 12])
        return self._rand("0123456789abcdef", n)

    def amount(self) -> str:
        return f"{self.r.randint(0, 99999)}.{self.r.randint(0, 99):02d}"

    def negative(self) -> str:
        return str(
            self.pick(
                [
                    self.order_id,
                    self.build,
                    self.uuid,
                    self.timestamp,
                    self.non_luhn16,
                    self.id9,
                    self.version,
                    self.hash,
                    self.amount,
                ]
            )()
        )


# --- item builders ---------------------------------------------------------------------------


class Builder:
    """Builds a text from literal parts, labelled positives and hard negatives."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.gold: list[tuple[int, int, str]] = []
        self.negatives: list[tuple[int, int]] = []
        self.pos = 0

    def lit(self, s: str) -> Builder:
        self.parts.append(s)
        self.pos += len(s)
        return self

    def pos_(self, value: str, entity: str) -> Builder:
        self.gold.append((self.pos, self.pos + len(value), entity))
        return self.lit(value)

    def neg(self, value: str) -> Builder:
        self.negatives.append((self.pos, self.pos + len(value)))
        return self.lit(value)

    def item(self, kind: str, hints: Iterable[str] = ()) -> Item:
        return Item(kind, "".join(self.parts), list(hints), self.gold, self.negatives)


CELL_COLUMNS = {  # entity -> column names (hints) a value of it appears under
    "card": ["card_number", "cc", "pan", "payment_card", "notes", "card"],
    "ssn": ["ssn", "social_security_number", "notes", "tax_id"],
    "email": ["email", "customer_email", "contact", "notes", "login"],
    "phone": ["phone", "mobile", "phone_number", "contact", "notes"],
    "iban": ["iban", "bank_account", "notes", "payout_account"],
    "ip": ["ip_address", "client_ip", "remote_addr", "host", "notes"],
    "secret": ["api_key", "token", "notes", "credentials", "config"],
    "dob": ["dob", "date_of_birth", "birthdate"],
    "name": ["full_name", "first_name", "customer_name", "cardholder"],
    "address": ["address", "street_address", "billing_address"],
}
NEG_COLUMNS = ["order_id", "reference", "build", "version", "request_id", "created_at",
               "sha", "notes", "external_id", "amount", "id", "label"]  # fmt: skip


def gen_cells(g: Gen, n: int) -> list[Item]:
    out = []
    for _ in range(n):
        if g.r.random() < 0.3:
            col = g.pick(NEG_COLUMNS)
            value = g.negative()
            if g.r.random() < 0.15:  # SSN- and phone-shaped ids where the column says "id"
                col = g.pick(["order_id", "reference", "build", "tracking_number", "sku"])
                value = g.pick([g.ssn(), f"{g.r.randint(200, 999)}-{g.r.randint(200, 999)}-"
                                f"{g.r.randint(1000, 9999)}", g.id9()])  # fmt: skip
            out.append(Builder().neg(value).item("cell", [col]))
            continue
        entity = g.pick(ENTITIES)
        col = g.pick(CELL_COLUMNS[entity])
        value = {
            "card": g.card,
            "ssn": g.ssn,
            "email": g.email,
            "phone": g.phone,
            "iban": g.iban,
            "ip": g.ip,
            "secret": g.token,
            "dob": g.dob,
            "name": g.name,
            "address": g.address,
        }[entity]()
        if entity == "ssn" and col in ("ssn", "tax_id") and g.r.random() < 0.4:
            value = value.replace("-", "")
        if entity == "phone" and col in ("phone", "mobile") and g.r.random() < 0.2:
            value = "".join(c for c in value if c.isdigit())
        if entity == "phone" and value.isdigit():
            col = g.pick(["phone", "mobile", "phone_number"])  # bare digits: only with a hint
        out.append(Builder().pos_(value, entity).item("cell", [col]))
    return out


def gen_logs(g: Gen, n: int) -> list[Item]:
    out = []
    levels = ["INFO", "WARN", "ERROR", "DEBUG"]
    for _ in range(n):
        b = Builder().neg(g.timestamp()).lit(f" {g.pick(levels)} ")
        t = g.r.randrange(12)
        if t == 0:
            b.lit("login user=").pos_(g.email(), "email").lit(" ip=").pos_(g.ip(), "ip")
            b.lit(" request_id=").neg(g.uuid())
        elif t == 1:
            b.lit("payment failed card=").pos_(g.card(), "card").lit(" order=").neg(g.order_id())
            b.lit(" amount=").neg(g.amount())
        elif t == 2:
            b.lit("deploy ").neg(g.build()).lit(" version=").neg(g.version())
            b.lit(" commit=").neg(g.hash())
        elif t == 3:
            pw = g.password()
            b.lit("connect postgres://app_user:").pos_(pw, "secret")
            b.lit(f"@db{g.r.randint(1, 9)}.internal:5432/shop took ").neg(g.amount()).lit("ms")
        elif t == 4:
            b.lit("env AWS_ACCESS_KEY_ID=").pos_(
                "AKIA" + g._rand(string.ascii_uppercase + string.digits, 16), "secret"
            )
            b.lit(" aws_secret_access_key=").pos_(g.aws_secret(), "secret")
        elif t == 5:
            b.lit("GET /api/v1/orders/").neg(g.id9()).lit(" Authorization: Bearer ")
            b.pos_(g.jwt(), "secret")
        elif t == 6:
            b.lit("sms sent to ").pos_(g.phone(), "phone").lit(" ticket=").neg(g.uuid())
        elif t == 7:
            b.lit("kyc check ssn=").pos_(g.ssn(), "ssn").lit(" dob=").pos_(
                g.us.date_of_birth().isoformat(), "dob"
            )
        elif t == 8:
            b.lit("payout iban=").pos_(g.iban(), "iban").lit(" batch=").neg(g.id9())
        elif t == 9:
            b.lit("config password=").pos_(g.password(), "secret").lit(" retries=3 build=")
            b.neg(g.build())
        elif t == 10:
            b.lit('profile updated name="').pos_(g.name(), "name").lit('" address="')
            b.pos_(g.address(), "address").lit('"')
        else:
            b.lit("token rotated: ").pos_(g.token(), "secret").lit(" checksum=").neg(g.hash())
            b.lit(" txn=").neg(g.non_luhn16())
        out.append(b.item("log"))
    return out


def gen_texts(g: Gen, n: int) -> list[Item]:
    out = []
    for _ in range(n):
        b = Builder()
        t = g.r.randrange(10)
        if t == 0:
            b.lit("Please charge my card ").pos_(g.card(), "card").lit(" for order ")
            b.neg(g.order_id()).lit(".")
        elif t == 1:
            b.lit("You can reach me at ").pos_(g.phone(), "phone").lit(" or ")
            b.pos_(g.email(), "email").lit(", thanks!")
        elif t == 2:
            b.lit("My SSN is ").pos_(g.ssn(), "ssn").lit(" and I was born on ")
            b.pos_(g.dob(), "dob").lit(".")
        elif t == 3:
            b.lit("Wire the refund to ").pos_(g.iban(), "iban").lit(", reference ")
            b.neg(g.order_id()).lit(".")
        elif t == 4:
            b.lit("The server at ").pos_(g.ip(), "ip").lit(" still runs version ")
            b.neg(g.version()).lit(" since ").neg(g.timestamp()).lit(".")
        elif t == 5:
            b.lit("Here is the deploy key:\n").pos_(g.pem(), "secret").lit("\nRotate it after ")
            b.neg(g.build()).lit(".")
        elif t == 6:
            b.lit("Call ").pos_(g.phone(), "phone").lit(" about ticket ").neg(g.uuid())
            b.lit(" (build ").neg(g.build()).lit(").")
        elif t == 7:
            b.lit("Customer id ").neg(g.id9()).lit(" paid with ").neg(g.non_luhn16())
            b.lit("? No, that was ").pos_(g.card(), "card").lit(".")
        elif t == 8:
            b.lit("Push with token ").pos_(g.token(), "secret").lit(" from commit ")
            b.neg(g.hash()).lit(".")
        else:
            b.lit("Contact ").pos_(g.email(), "email").lit(" from ").pos_(g.ip(), "ip")
            b.lit(" at ").neg(g.timestamp()).lit(", order ").neg(g.order_id()).lit(".")
        out.append(b.item("text"))
    return out


def gen_json(g: Gen, n: int) -> list[Item]:
    out = []
    for _ in range(n):
        leaves: dict[str, list[str]] = {}
        negs: list[str] = []

        def put(
            path: str,
            value: Any,
            entity: str | None,
            leaves: dict[str, list[str]] = leaves,
            negs: list[str] = negs,
        ) -> Any:
            if entity is None:
                negs.append(path)
            else:
                leaves[path] = [entity]
            return value

        customer = {
            "name": put("customer.name", g.name(), "name"),
            "email": put("customer.email", g.email(), "email"),
            "phone": put("customer.phone", g.phone(), "phone"),
            "ssn": put("customer.ssn", g.ssn(), "ssn"),
            "address": put("customer.address", g.address(), "address"),
            "dob": put("customer.dob", g.us.date_of_birth().isoformat(), "dob"),
        }
        doc: dict[str, Any] = {
            "order_id": put("order_id", g.order_id(), None),
            "customer": customer,
            "payment": {
                "card_number": put("payment.card_number", g.card(), "card"),
                "iban": put("payment.iban", g.iban(), "iban"),
                "amount": 12.5,
            },
            "meta": {
                "request_id": put("meta.request_id", g.uuid(), None),
                "build": put("meta.build", g.build(), None),
                "version": put("meta.version", g.version(), None),
                "created_at": put("meta.created_at", g.timestamp(), None),
                "client_ip": put("meta.client_ip", g.ip(), "ip"),
                "sha": put("meta.sha", g.hash(), None),
            },
            "notes": put("notes", f"call me at {g.r.randint(1, 9)}pm", None),
        }
        if g.r.random() < 0.5:
            inner = {"api_key": g.token(), "status": "ok", "trace": g.uuid()}
            leaves["tool_result"] = ["secret"]
            doc["tool_result"] = json.dumps(inner)
        out.append(Item("json", json.dumps(doc), leaves=leaves, neg_leaves=negs))
    return out


def generate(seed: int = 1, n: int = 4000) -> list[Item]:
    g = Gen(seed)
    q = n // 4
    return (
        gen_cells(g, 2 * q)
        + gen_logs(g, q // 2 + q // 4)
        + gen_texts(g, q // 2)
        + (gen_json(g, q // 4))
    )


# --- scoring ---------------------------------------------------------------------------------


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    negatives: int = 0
    touched: int = 0
    examples: list[str] = field(default_factory=list)

    def precision(self, e: str) -> float:
        d = self.tp[e] + self.fp[e]
        return self.tp[e] / d if d else 1.0

    def recall(self, e: str) -> float:
        d = self.tp[e] + self.fn[e]
        return self.tp[e] / d if d else 1.0

    def f1(self, e: str) -> float:
        p, r = self.precision(e), self.recall(e)
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def touched_fraction(self) -> float:
        return self.touched / self.negatives if self.negatives else 0.0

    def failures(self) -> list[str]:
        bad = []
        for e, (p, r) in GOALS.items():
            if self.precision(e) < p or self.recall(e) < r:
                bad.append(f"{e}: precision {self.precision(e):.3f} recall {self.recall(e):.3f}")
        if self.touched_fraction >= HARD_NEGATIVE_GOAL:
            bad.append(f"hard negatives touched {self.touched_fraction:.4f}")
        return bad

    def markdown(self) -> str:
        lines = [
            "| entity | support | precision | recall | F1 | goal (P / R) |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for e in ENTITIES:
            support = self.tp[e] + self.fn[e]
            goal = GOALS.get(e)
            g = f"{goal[0]:.2f} / {goal[1]:.2f}" if goal else "-"
            lines.append(
                f"| {e} | {support} | {self.precision(e):.3f} | {self.recall(e):.3f} | "
                f"{self.f1(e):.3f} | {g} |"
            )
        lines.append("")
        lines.append(
            f"Hard negatives touched: {self.touched} of {self.negatives} "
            f"({100 * self.touched_fraction:.2f}%, goal < {100 * HARD_NEGATIVE_GOAL:.1f}%)"
        )
        return "\n".join(lines)


_LABEL = re.compile(r"\[([A-Z_]+)\]")


def _leaf_paths(node: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaf_paths(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix, node


def evaluate(masker: Masker, items: Sequence[Item], examples: int = 0) -> Score:
    score = Score()
    for item in items:
        if item.kind == "json":
            _score_json(masker, item, score, examples)
        else:
            _score_text(masker, item, score, examples)
    return score


def _score_text(masker: Masker, item: Item, score: Score, examples: int) -> None:
    found = masker.detect(item.text, item.hints)
    matched: set[int] = set()
    for gs, ge, ge_ent in item.gold:
        hit = next(
            (
                k
                for k, (s, e, ent) in enumerate(found)
                if ent == ge_ent and s <= gs and e >= ge and k not in matched
            ),
            None,
        )
        if hit is None:
            score.fn[ge_ent] += 1
            if len(score.examples) < examples:
                score.examples.append(f"FN {ge_ent}: {item.text[gs:ge]!r} in {item.text!r}")
        else:
            matched.add(hit)
            score.tp[ge_ent] += 1
    for k, (s, e, ent) in enumerate(found):
        if k in matched:
            continue
        # A detection overlapping a gold span of another entity, or covering part of one,
        # is still a false positive for its entity.
        score.fp[ent] += 1
        if len(score.examples) < examples:
            score.examples.append(f"FP {ent}: {item.text[s:e]!r} in {item.text!r}")
    for ns, ne in item.negatives:
        score.negatives += 1
        if any(s < ne and e > ns for s, e, _ in found):
            score.touched += 1
            if len(score.examples) < examples:
                score.examples.append(f"HN touched: {item.text[ns:ne]!r} in {item.text!r}")


def _score_json(masker: Masker, item: Item, score: Score, examples: int) -> None:
    before = dict(_leaf_paths(json.loads(item.text)))
    masked = masker.mask_json(item.text, item.hints, stats=MaskingStats())
    after = dict(_leaf_paths(json.loads(masked)))
    for path, value in after.items():
        original = before[path]
        gold = set(item.leaves.get(path, []))
        predicted = {m.lower() for m in _LABEL.findall(str(value))} if value != original else set()
        if value is None and original is not None:
            predicted = gold or {"unknown"}
        for e in gold:
            leaked = isinstance(original, str) and original in str(value)
            if e in predicted and not leaked:
                score.tp[e] += 1
            else:
                score.fn[e] += 1
                if len(score.examples) < examples:
                    score.examples.append(f"FN json {e}: {path}={original!r} -> {value!r}")
        for e in predicted - gold:
            score.fp[e] += 1
            if len(score.examples) < examples:
                score.examples.append(f"FP json {e}: {path}={original!r} -> {value!r}")
        if path in item.neg_leaves:
            score.negatives += 1
            if value != original:
                score.touched += 1
                if len(score.examples) < examples:
                    score.examples.append(f"HN json touched: {path}={original!r}")


def load_corpus(path: Path) -> list[Item]:
    return [Item.from_json(json.loads(line)) for line in path.read_text().splitlines() if line]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000, help="about how many items")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--backend", default="auto", choices=["auto", "hyperscan", "re"])
    ap.add_argument("--corpus", type=Path, help="score a stored corpus instead of generating")
    ap.add_argument("--write-corpus", type=Path, help="write the generated items as JSONL")
    ap.add_argument("--examples", type=int, default=0, help="print up to N errors")
    args = ap.parse_args(argv)
    items = load_corpus(args.corpus) if args.corpus else generate(args.seed, args.n)
    if args.write_corpus:
        args.write_corpus.write_text(
            "".join(json.dumps(i.to_json(), ensure_ascii=False) + "\n" for i in items)
        )
    masker = Masker(Profile(), backend=args.backend)
    score = evaluate(masker, items, args.examples)
    kinds = Counter(i.kind for i in items)
    print(f"## Masking quality ({len(items)} items: " + ", ".join(
        f"{n} {k}s" for k, n in sorted(kinds.items())) + f"; seed {args.seed}; "
        f"backend {masker.backend})\n")  # fmt: skip
    print(score.markdown())
    for ex in score.examples:
        print(ex)
    bad = score.failures()
    if bad:
        print("\nGoals not met: " + "; ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
