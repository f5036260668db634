"""Masking profiles: per-entity strategies, column rules, custom detectors, deny lists.

A profile is plain data (a dict, e.g. from YAML); `Profile.from_dict` validates it all at load
time, so a typo fails the configuration, not a query. Shape (every key optional)::

    name: support-agents
    best_effort: false            # true: a cell that fails to mask is fully redacted, not an error
    hash_key: "…32+ random bytes…"  # needed by `hash`; makes `fpe` stable across processes
    default_strategy: redact
    entities:                     # entity -> strategy
      card: partial               # **** **** **** 1111
      email: {strategy: partial}  # j***@example.com
      ssn: hash                   # tok_… (joins still work)
      ip: keep                    # do not mask
    disable: [phone_context]      # built-in detectors (or whole entities) switched off
    columns:                      # first match wins; parts match from the right, * globs
      shop.customers.ssn: partial-last-4
      "*.notes": scan             # scan (the default for text)
      shop.orders.reference: keep # never masked
      payments.card_token: {strategy: hash, entity: card}
    custom:
      - name: employee_id
        pattern: 'EMP-\\d{6}'
        entity: employee_id       # default: the name
        validator: luhn           # optional, see validators.VALIDATORS
        strategy: hash            # optional, else entities/default_strategy
        max_length: 64            # longest match (bounds the streaming window), default 256
    deny:
      - entity: project
        terms: [Bluebird, Project Falcon]
        case_sensitive: false
    type_fallback: {numeric: "null", date: "null"}  # numeric: null|zero; date: null|fixed
    phone_regions: [GB, DE, FR]   # regions for numbers written nationally (leading 0)
    labels: {card: "[PAN]"}
"""

from __future__ import annotations

import fnmatch
import importlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from proctor.masking import validators as v
from proctor.masking.detectors import BUILTIN, BY_NAME, Detector, Span
from proctor.masking.entities import BUILTIN_ENTITIES
from proctor.masking.errors import ProfileError
from proctor.masking.scanner import hyperscan_accepts
from proctor.masking.strategies import REDACT, Kind, Strategy

_ENTITY_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TOP_KEYS = frozenset(
    {
        "name", "best_effort", "hash_key", "default_strategy", "entities", "disable",
        "columns", "custom", "deny", "type_fallback", "phone_regions", "labels",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """``pattern`` parts (lower-case, fnmatch) -> action: ``skip``, ``scan`` or ``mask``."""

    pattern: tuple[str, ...]
    action: str
    strategy: Strategy = REDACT
    entity: str | None = None

    def matches(self, qualified: Sequence[str]) -> bool:
        """Parts match from the right: the column, then the table right before it, then any
        further parts (schema, database/connection) in order but possibly skipping some, so
        ``shop.customers.ssn`` matches ``shop.public.customers.ssn``."""
        p = self.pattern
        q = [x.lower() for x in qualified]
        if len(p) > len(q) or not fnmatch.fnmatchcase(q[-1], p[-1]):
            return False
        if len(p) >= 2 and not fnmatch.fnmatchcase(q[-2], p[-2]):
            return False
        rest, k = p[:-2], 0
        avail = q[:-2]
        for part in rest:
            while k < len(avail) and not fnmatch.fnmatchcase(avail[k], part):
                k += 1
            if k == len(avail):
                return False
            k += 1
        return True


@dataclass(frozen=True)
class Profile:
    name: str = "default"
    best_effort: bool = False
    hash_key: bytes | None = None
    default: Strategy = REDACT
    strategies: Mapping[str, Strategy] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()
    columns: tuple[ColumnRule, ...] = ()
    custom: tuple[Detector, ...] = ()
    numeric_fallback: str = "null"
    date_fallback: str = "null"
    phone_regions: tuple[str, ...] = v.DEFAULT_PHONE_REGIONS
    labels: Mapping[str, str] = field(default_factory=dict)

    def strategy(self, entity: str) -> Strategy:
        return self.strategies.get(entity, self.default)

    def detectors(self) -> tuple[Detector, ...]:
        """Enabled built-ins, then custom detectors."""
        keep = tuple(
            d for d in BUILTIN if d.name not in self.disabled and d.entity not in self.disabled
        )
        return keep + self.custom

    def rule_for(self, qualified: Sequence[str]) -> ColumnRule | None:
        for rule in self.columns:
            if rule.matches(qualified):
                return rule
        return None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile:
        if not isinstance(d, Mapping):
            raise ProfileError("masking profile must be a mapping")
        unknown = set(d) - _TOP_KEYS
        if unknown:
            raise ProfileError(f"masking profile: unknown keys {sorted(unknown)}")
        name = d.get("name", "default")
        if not isinstance(name, str):
            raise ProfileError("masking profile: name must be a string")
        best_effort = d.get("best_effort", False)
        if not isinstance(best_effort, bool):
            raise ProfileError("masking profile: best_effort must be true or false")
        hash_key = _hash_key(d.get("hash_key"))
        default = Strategy.parse(d.get("default_strategy", "redact"), "default_strategy")
        if default.kind is Kind.KEEP:
            raise ProfileError("default_strategy cannot be keep (that would mask nothing)")
        custom = tuple(_custom(i, c) for i, c in enumerate(_list(d, "custom")))
        custom += tuple(_deny(i, c) for i, c in enumerate(_list(d, "deny")))
        entities = BUILTIN_ENTITIES | {c.entity for c in custom}
        strategies: dict[str, Strategy] = {}
        for ent, spec in _map(d, "entities").items():
            if ent not in entities:
                raise ProfileError(f"entities: unknown entity {ent!r} ({sorted(entities)})")
            strategies[ent] = Strategy.parse(spec, f"entities.{ent}")
        for c in [*_list(d, "custom"), *_list(d, "deny")]:
            if "strategy" in c:
                ent = str(c.get("entity") or c.get("name") or "denied")
                strategies.setdefault(ent, Strategy.parse(c["strategy"], f"custom {ent}"))
        disabled = frozenset(_strings(d.get("disable", []), "disable"))
        for item in disabled:
            if item not in BY_NAME and item not in entities:
                raise ProfileError(f"disable: unknown detector or entity {item!r}")
        columns = tuple(_rule(k, spec) for k, spec in _map(d, "columns").items())
        fallback = _map(d, "type_fallback")
        numeric = fallback.get("numeric", "null")
        date = fallback.get("date", "null")
        if set(fallback) - {"numeric", "date"}:
            raise ProfileError("type_fallback: only numeric and date")
        if numeric not in ("null", "zero") or date not in ("null", "fixed"):
            raise ProfileError("type_fallback: numeric is null|zero, date is null|fixed")
        regions = tuple(s.upper() for s in _strings(d.get("phone_regions", []), "phone_regions"))
        labels = {str(k): str(val) for k, val in _map(d, "labels").items()}
        profile = cls(
            name=name,
            best_effort=best_effort,
            hash_key=hash_key,
            default=default,
            strategies=strategies,
            disabled=disabled,
            columns=columns,
            custom=custom,
            numeric_fallback=numeric,
            date_fallback=date,
            phone_regions=regions or v.DEFAULT_PHONE_REGIONS,
            labels=labels,
        )
        uses_hash = default.kind is Kind.HASH or any(
            s.kind is Kind.HASH for s in [*strategies.values(), *(r.strategy for r in columns)]
        )
        if uses_hash and hash_key is None:
            raise ProfileError("the hash strategy needs hash_key (16 bytes or more)")
        return profile

    def fpe_key(self) -> bytes:
        return self.hash_key if self.hash_key is not None else secrets.token_bytes(32)


def _hash_key(raw: object) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, bytes) or len(raw) < 16:
        raise ProfileError("hash_key must be a string or bytes of 16 bytes or more")
    return raw


def _list(d: Mapping[str, Any], key: str) -> list[Any]:
    val = d.get(key) or []
    if not isinstance(val, list):
        raise ProfileError(f"{key} must be a list")
    return val


def _map(d: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    val = d.get(key) or {}
    if not isinstance(val, Mapping) or not all(isinstance(k, str) for k in val):
        raise ProfileError(f"{key} must be a mapping with string keys")
    return val


def _strings(val: object, where: str) -> list[str]:
    if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
        raise ProfileError(f"{where} must be a list of strings")
    return val


def _rule(key: str, spec: object) -> ColumnRule:
    parts = tuple(p.strip().lower() for p in key.split("."))
    if not all(parts):
        raise ProfileError(f"columns: bad column pattern {key!r}")
    where = f"columns.{key}"
    entity = None
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"strategy", "entity", "keep"}
        if unknown:
            raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")
        ent = spec.get("entity")
        if ent is not None and (not isinstance(ent, str) or not _ENTITY_NAME.fullmatch(ent)):
            raise ProfileError(f"{where}: entity must be a lower-case word")
        entity = ent
        name = spec.get("strategy")
    else:
        name = spec
    if isinstance(name, str) and name.strip().lower() in ("scan", "skip"):
        return ColumnRule(parts, name.strip().lower(), REDACT, entity)
    strategy = Strategy.parse(spec, where)
    if strategy.kind is Kind.KEEP:
        return ColumnRule(parts, "skip", strategy, entity)
    return ColumnRule(parts, "mask", strategy, entity)


def _custom(i: int, c: object) -> Detector:
    where = f"custom[{i}]"
    if not isinstance(c, Mapping):
        raise ProfileError(f"{where} must be a mapping")
    unknown = set(c) - {"name", "pattern", "entity", "validator", "strategy", "max_length",
                        "priority", "case_sensitive"}  # fmt: skip
    if unknown:
        raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")
    name = c.get("name")
    if not isinstance(name, str) or not _ENTITY_NAME.fullmatch(name):
        raise ProfileError(f"{where}: name must be a lower-case word")
    if name in BY_NAME:
        raise ProfileError(f"{where}: {name!r} is a built-in detector name")
    entity = c.get("entity", name)
    if not isinstance(entity, str) or not _ENTITY_NAME.fullmatch(entity):
        raise ProfileError(f"{where}: entity must be a lower-case word")
    pattern = c.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ProfileError(f"{where}: pattern must be a non-empty string")
    flags = 0 if c.get("case_sensitive", True) else re.IGNORECASE
    try:
        rx = re.compile(pattern, flags)
    except re.error as exc:
        raise ProfileError(f"{where}: bad pattern: {exc}") from None
    if rx.match(""):
        raise ProfileError(f"{where}: pattern must not match the empty string")
    vname = c.get("validator")
    check = None
    if vname is not None:
        fn = v.VALIDATORS.get(vname) if isinstance(vname, str) else None
        if fn is None:
            raise ProfileError(f"{where}: unknown validator {vname!r} ({sorted(v.VALIDATORS)})")
        check = _validator_check(fn)
    max_len = c.get("max_length", 256)
    priority = c.get("priority", 75)
    if not isinstance(max_len, int) or not 1 <= max_len <= 65536:
        raise ProfileError(f"{where}: max_length must be 1-65536")
    if not isinstance(priority, int) or not 0 <= priority <= 200:
        raise ProfileError(f"{where}: priority must be 0-200")
    return _custom_detector(name, entity, rx, check, max_len, priority, pattern, flags)


def _validator_check(fn: Any) -> Any:
    def check(m: re.Match[str], span: Span) -> Span | None:
        return span if fn(m.string[span[0] : span[1]]) else None

    return check


def _custom_detector(
    name: str,
    entity: str,
    rx: re.Pattern[str],
    check: Any,
    max_len: int,
    priority: int,
    source: str,
    flags: int,
) -> Detector:
    # The pattern itself is its trigger when it is ASCII, free of anchors and word
    # boundaries, and Hyperscan takes it; custom detectors are gated only (full finditer
    # once triggered), never windowed. A trigger also runs over a whole buffer of rows,
    # where ``^EMP\d+$`` would match no cell but the first and ``\bAC\d+`` depends on the
    # byte before a cell (its length): such a pattern runs ungated, on every cell.
    caseless = bool(flags & re.IGNORECASE)
    trigger = (
        source
        if source.isascii() and _context_free(source, flags) and hyperscan_accepts(source, caseless)
        else None
    )
    return Detector(
        name=name,
        entity=entity,
        pattern=rx,
        trigger=trigger,
        max_len=max_len,
        priority=priority,
        check=check,
        windowed=False,
        trigger_caseless=caseless,
    )


_re_parser: Any = importlib.import_module("re._parser")  # the parser `re` compiles with
_AT = importlib.import_module("re._constants").AT  # ^ $ \A \Z \b \B


def _context_free(source: str, flags: int) -> bool:
    """Whether a pattern has no anchor or word boundary, so that it matches a text's bytes
    the same wherever they lie (lookarounds and back-references Hyperscan refuses)."""
    try:
        parsed = _re_parser.parse(source, flags)
    except Exception:
        return False
    stack: list[object] = [parsed]
    while stack:
        node = stack.pop()
        if isinstance(node, _re_parser.SubPattern):
            stack.extend(node.data)
        elif isinstance(node, tuple | list):
            if node and node[0] is _AT:  # (AT, AT_BEGINNING), (AT, AT_BOUNDARY), ...
                return False
            stack.extend(node)
    return True


def _deny(i: int, c: object) -> Detector:
    where = f"deny[{i}]"
    if not isinstance(c, Mapping):
        raise ProfileError(f"{where} must be a mapping")
    unknown = set(c) - {"entity", "terms", "case_sensitive", "strategy"}
    if unknown:
        raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")
    entity = c.get("entity", "denied")
    if not isinstance(entity, str) or not _ENTITY_NAME.fullmatch(entity):
        raise ProfileError(f"{where}: entity must be a lower-case word")
    terms = _strings(c.get("terms"), f"{where}.terms")
    terms = [t for t in terms if t.strip()]
    if not terms:
        raise ProfileError(f"{where}: terms must not be empty")
    case_sensitive = c.get("case_sensitive", False)
    flags = 0 if case_sensitive else re.IGNORECASE
    alternation = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    source = rf"(?<!\w)(?:{alternation})(?!\w)"
    rx = re.compile(source, flags)
    longest = max(len(t) for t in terms)
    trigger_src = f"(?:{alternation})"
    caseless = not case_sensitive
    trigger = (
        trigger_src if trigger_src.isascii() and hyperscan_accepts(trigger_src, caseless) else None
    )
    return Detector(
        name=f"deny_{entity}_{i}",
        entity=entity,
        pattern=rx,
        trigger=trigger,
        max_len=longest,
        priority=110,
        windowed=False,
        trigger_caseless=caseless,
    )
