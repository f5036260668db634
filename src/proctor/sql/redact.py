"""Secrets out of statement text, located by the parse tree and cut at lexer token bounds.

Recordings keep the statement text (DESIGN.md §5: secrets in commands are redacted), so the
analyzer hands ``redact`` the byte offsets at which the parse tree says a secret literal
starts, and ``redact`` replaces the whole string token that starts there — found with
PostgreSQL's own lexer (``pglast.parser.scan``), never by pattern matching — with ``'***'``.

Where the tree says a secret starts (``secret_locations``):
- an option named like a password (``PASSWORD 'x'`` / ``ENCRYPTED PASSWORD 'x'`` of
  CREATE/ALTER ROLE and USER, ``OPTIONS (password 'x')`` of servers, user mappings, foreign
  data wrappers, ...), and options holding a connection string that contains a password;
- ``CONNECTION '...'`` of CREATE/ALTER SUBSCRIPTION when the connection string has a password;
- string constants in the key or password arguments of pgcrypto functions
  (``pgp_sym_encrypt(data, 'key')``, ``crypt('password', salt)``, ``hmac(data, 'key', ..)``)
  and in connection-string arguments of dblink functions when they carry a password.

Text the parser rejects cannot be searched that way: ``redact_unparsed`` replaces every
string literal the lexer finds (or, if even the lexer fails, everything from the failure on).
Bodies the analyzer does not parse (DO blocks, non-SQL functions) are checked by
``opaque_body_has_secret`` and, when they mention a secret, replaced whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import parser as pg_parser

from proctor.sql._tree import Node, char_index, string_values, unwrap

MASK = "'***'"

# Option names whose value is a secret (compared lower-case).
SECRET_OPTIONS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "sslpassword",
        "secret",
        "token",
        "api_key",
        "apikey",
        "access_key",
        "secret_key",
        "secret_access_key",
        "aws_secret_access_key",
        "session_token",
        "client_secret",
        "private_key",
        "passphrase",
    }
)
# Option names whose value is a connection string.
CONNINFO_OPTIONS = frozenset(
    {"dsn", "conninfo", "connstr", "connection", "connection_string", "uri", "url"}
)
# Function name → indexes of arguments holding keys or passwords.
SECRET_ARGUMENTS: dict[str, tuple[int, ...]] = {
    "pgp_sym_encrypt": (1,),
    "pgp_sym_encrypt_bytea": (1,),
    "pgp_sym_decrypt": (1,),
    "pgp_sym_decrypt_bytea": (1,),
    "pgp_pub_decrypt": (1, 2),
    "pgp_pub_decrypt_bytea": (1, 2),
    "encrypt": (1,),
    "decrypt": (1,),
    "encrypt_iv": (1, 2),
    "decrypt_iv": (1, 2),
    "hmac": (1,),
    "crypt": (0,),
}
# Function name → indexes of arguments that may be a connection string.
CONNINFO_ARGUMENTS: dict[str, tuple[int, ...]] = {
    "dblink_connect": (0, 1),
    "dblink_connect_u": (0, 1),
    "dblink": (0,),
    "dblink_exec": (0,),
}
# Connection string keywords holding secrets.
CONNINFO_SECRET_KEYS = frozenset({"password", "sslpassword"})

SECRET_NODE_TYPES = frozenset(
    {"DefElem", "FuncCall", "CreateSubscriptionStmt", "AlterSubscriptionStmt"}
)

_LITERAL_TOKENS = frozenset({"SCONST", "USCONST", "BCONST", "XCONST"})
_COMMENT_TOKENS = frozenset({"C_COMMENT", "SQL_COMMENT"})
MAX_BODY_DEPTH = 4


def conninfo_has_secret(conninfo: str) -> bool:
    """Whether a libpq connection string (keyword=value or URI) carries a password.

    Malformed strings count as carrying one: redacting too much is the safe mistake.
    """
    text = conninfo.strip()
    if text.startswith(("postgresql://", "postgres://")):
        rest = text.split("://", 1)[1]
        authority, _, query = rest.partition("?")
        authority = authority.split("/", 1)[0]
        if "@" in authority and ":" in authority.rsplit("@", 1)[0]:
            return True
        for pair in query.split("&"):
            if pair.split("=", 1)[0].strip().lower() in CONNINFO_SECRET_KEYS:
                return True
        return False
    if "=" not in text:
        return False  # a dblink connection name, not a connection string
    i, end = 0, len(text)
    while i < end:
        while i < end and text[i].isspace():
            i += 1
        if i >= end:
            break
        eq = text.find("=", i)
        if eq < 0:
            return True
        key = text[i:eq].strip().lower()
        i = eq + 1
        while i < end and text[i].isspace():
            i += 1
        if i < end and text[i] == "'":
            i += 1
            while i < end and text[i] != "'":
                i += 2 if text[i] == "\\" else 1
            if i >= end:
                return True
            i += 1
        else:
            while i < end and not text[i].isspace():
                i += 2 if text[i] == "\\" else 1
        if key in CONNINFO_SECRET_KEYS:
            return True
    return False


def _string_constants(node: Any, limit: int = 10_000) -> list[int]:
    """Locations of every string constant inside a (wrapped) expression."""
    found: list[int] = []
    stack = [node]
    while stack and limit > 0:
        limit -= 1
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        wrapped = unwrap(item)
        if wrapped is None:
            if isinstance(item, dict):
                stack.extend(v for v in item.values() if isinstance(v, dict | list))
            continue
        kind, body = wrapped
        if kind == "A_Const":
            if "sval" in body and isinstance(body.get("location"), int):
                found.append(body["location"])
            continue
        stack.extend(v for v in body.values() if isinstance(v, dict | list))
    return found


def _argument_text(node: Any) -> str | None:
    wrapped = unwrap(node)
    while wrapped is not None and wrapped[0] == "TypeCast":
        wrapped = unwrap(wrapped[1].get("arg"))
    if wrapped is None or wrapped[0] != "A_Const" or "sval" not in wrapped[1]:
        return None
    return str(wrapped[1]["sval"].get("sval", ""))


def secret_locations(kind: str, body: Node) -> list[int]:
    """Byte offsets at which a secret literal starts, for one node of a type in
    ``SECRET_NODE_TYPES``."""
    if kind == "DefElem":
        name = str(body.get("defname", "")).lower()
        location = body.get("arg_location", -1)
        if not isinstance(location, int) or location < 0 or "arg" not in body:
            return []
        if name in SECRET_OPTIONS:
            return [location]
        if name in CONNINFO_OPTIONS:
            arg = unwrap(body["arg"])
            if (
                arg is not None
                and arg[0] == "String"
                and conninfo_has_secret(str(arg[1].get("sval", "")))
            ):
                return [location]
        return []
    if kind == "FuncCall":
        names = string_values(body.get("funcname")) or []
        bare = names[-1].lower() if names else ""
        args = body.get("args") or []
        found: list[int] = []
        for index in SECRET_ARGUMENTS.get(bare, ()):
            if index < len(args):
                found.extend(_string_constants(args[index]))
        for index in CONNINFO_ARGUMENTS.get(bare, ()):
            if index < len(args):
                value = _argument_text(args[index])
                if value is None or conninfo_has_secret(value):
                    found.extend(_string_constants(args[index]))
        return found
    # CREATE/ALTER SUBSCRIPTION ... CONNECTION 'conninfo'
    conninfo = body.get("conninfo")
    location = body.get("conninfo_location", -1)
    if (
        isinstance(conninfo, str)
        and isinstance(location, int)
        and location >= 0
        and conninfo_has_secret(conninfo)
    ):
        return [location]
    return []


def _literal_ends(text: str) -> dict[int, int] | None:
    """Start → end (exclusive, characters) of every string literal token, or None when the
    lexer rejects the text."""
    try:
        tokens = pg_parser.scan(text)
    except Exception:  # the lexer's error: callers fall back to redact_unparsed
        return None
    return {t.start: t.end + 1 for t in tokens if t.name in _LITERAL_TOKENS}


def redact(text: str, locations: Iterable[int]) -> str:
    """``text`` with the string literal starting at each byte offset replaced by ``'***'``.

    If a location does not start a string literal (which would mean the tree and the lexer
    disagree), every literal is replaced instead (``redact_unparsed``).
    """
    starts = sorted(set(locations))
    if not starts:
        return text
    encoded = text.encode("utf-8")
    ascii_only = len(encoded) == len(text)
    chars = [b if ascii_only else char_index(encoded, b) for b in starts]
    ends = _literal_ends(text)
    if ends is None:
        return redact_unparsed(text)
    pieces: list[str] = []
    cursor = 0
    for start in chars:
        end = ends.get(start)
        if end is None:
            return redact_unparsed(text)
        if start < cursor:
            continue
        pieces.append(text[cursor:start])
        pieces.append(MASK)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def redact_unparsed(text: str) -> str:
    """Every string literal replaced, for text the parser rejected.

    If the lexer fails too (an unterminated quote or comment), everything from the point of
    failure on is replaced.
    """
    try:
        # The lexer reads a C string: a NUL would hide the rest of the text from it.
        tokens = pg_parser.scan(text.replace("\x00", " "))
    except pg_parser.ParseError as exc:
        position = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        position = max(0, min(position, len(text)))
        return text[:position] + MASK
    except Exception:
        return MASK
    pieces: list[str] = []
    cursor = 0
    for token in tokens:
        if token.name in _LITERAL_TOKENS and token.start >= cursor:
            pieces.append(text[cursor : token.start])
            pieces.append(MASK)
            cursor = token.end + 1
    pieces.append(text[cursor:])
    return "".join(pieces)


def opaque_body_has_secret(body: str, depth: int = 0) -> bool:
    """Whether a body the analyzer does not parse (PL/pgSQL, DO) mentions a secret.

    Looks at the body's tokens, as PostgreSQL's lexer splits them: ``PASSWORD`` or a
    password-like option name followed by a string literal, or a pgcrypto/dblink function
    name followed by ``(``; and at string literals inside the body (dynamic SQL) the same way,
    a few levels deep. A body the lexer rejects counts as secret.
    """
    try:
        tokens = [t for t in pg_parser.scan(body) if t.name not in _COMMENT_TOKENS]
    except Exception:
        return True
    for index, token in enumerate(tokens):
        following = tokens[index + 1].name if index + 1 < len(tokens) else ""
        if token.name in _LITERAL_TOKENS:
            if depth < MAX_BODY_DEPTH and opaque_body_has_secret(
                _literal_content(body[token.start : token.end + 1]), depth + 1
            ):
                return True
            continue
        word = body[token.start : token.end + 1].lower()
        if (word == "password" or word in SECRET_OPTIONS) and following in _LITERAL_TOKENS:
            return True
        if (word in SECRET_ARGUMENTS or word in CONNINFO_ARGUMENTS) and following == "ASCII_40":
            return True
    return False


def _literal_content(literal: str) -> str:
    """The characters of a quoted or dollar-quoted literal (escapes left as written)."""
    if literal.startswith("$"):
        tag_end = literal.find("$", 1)
        return literal[tag_end + 1 : len(literal) - (tag_end + 1)]
    quote = literal.find("'")
    if quote < 0:
        return literal
    return literal[quote + 1 : -1].replace("''", "'")
