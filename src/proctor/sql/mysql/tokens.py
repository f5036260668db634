"""Reading sqlglot's MySQL tokens: what the lexer skipped (comments MySQL may execute), the
features, function calls and secrets visible in the tokens of text without a tree, and
masking literals in the recorded text."""

from __future__ import annotations

from sqlglot.dialects.mysql import MySQL
from sqlglot.tokenizer_core import Token, TokenType

from proctor.model import Feature
from proctor.sql.mysql.facts import _Facts

MASK = "'***'"


def _tokenize(text: str) -> list[Token]:
    return list(MySQL().tokenize(text))


# -- what the lexer skipped ----------------------------------------------------------------


def _check_gaps(text: str, tokens: list[Token]) -> str | None:
    """A note if text between tokens is anything but whitespace and comments as MySQL reads
    them (a versioned comment, ``--`` without a following space, an unterminated comment)."""
    cursor = 0
    for token in [*tokens, None]:
        start = token.start if token is not None else len(text)
        problem = _check_gap(text, cursor, start)
        if problem:
            return problem
        if token is not None:
            cursor = max(cursor, token.end + 1)
    return None


def _check_gap(text: str, start: int, end: int) -> str | None:
    i = start
    while i < end:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "#" or (
            text.startswith("--", i) and (i + 2 >= len(text) or text[i + 2] in " \t\r\n\f\v")
        ):
            newline = text.find("\n", i, end)
            i = end if newline < 0 else newline + 1
        elif text.startswith("/*", i):
            if text.startswith("/*!", i) or text.startswith("/*M!", i):
                return "MySQL executes the content of a versioned comment (/*! ... */)"
            close = text.find("*/", i + 2, end)
            if close < 0:
                return "a comment MySQL may read differently (unterminated)"
            i = close + 2
        else:
            return "text the lexer skipped that MySQL may read differently"
    return None


# -- tokens of text without a tree ---------------------------------------------------------


def _token_hints(tokens: list[Token], facts: _Facts) -> None:
    """Features and function calls visible in the tokens of an unparsed statement."""
    words = [t.text.upper() if t.token_type != TokenType.STRING else "" for t in tokens]
    for i, word in enumerate(words):
        if word == "INFILE" and "DATA" in words[max(0, i - 4) : i]:
            facts.features.add(Feature.COPY_SERVER_FILE.value)
            facts.notes.append("LOAD DATA reads a file")
        elif word in ("OUTFILE", "DUMPFILE") and i > 0 and words[i - 1] == "INTO":
            facts.features.add(Feature.COPY_SERVER_FILE.value)
            facts.notes.append(f"INTO {word} writes a file on the server")
        elif (
            i + 1 < len(tokens)
            and tokens[i + 1].token_type == TokenType.L_PAREN
            and tokens[i].token_type == TokenType.VAR
        ):
            facts.functions.add(tokens[i].text.lower())


def _token_secrets(tokens: list[Token], facts: _Facts) -> None:
    """``IDENTIFIED [WITH plugin] BY [PASSWORD] '...'`` / ``AS '...'``, ``PASSWORD = '...'``
    and ``MASTER_PASSWORD`` / ``SOURCE_PASSWORD = '...'``: sqlglot keeps CREATE/ALTER USER
    and SET PASSWORD as unparsed commands, so the literal is located by its token."""
    for i, token in enumerate(tokens):
        word = token.text.upper() if token.token_type != TokenType.STRING else ""
        if word == "IDENTIFIED":
            for following in tokens[i + 1 : i + 6]:
                if following.token_type == TokenType.STRING:
                    facts.secrets.append((following.start, following.end))
                    break
                if following.token_type in (TokenType.SEMICOLON, TokenType.COMMA):
                    break
        elif word in ("PASSWORD", "MASTER_PASSWORD", "SOURCE_PASSWORD"):
            for following in tokens[i + 1 : i + 6]:
                if following.token_type == TokenType.STRING:
                    facts.secrets.append((following.start, following.end))
                    break
                if following.token_type == TokenType.SEMICOLON:
                    break


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end in sorted(set(spans)):
        if start < cursor or end >= len(text):
            continue
        pieces.append(text[cursor:start])
        pieces.append(MASK)
        cursor = end + 1
    pieces.append(text[cursor:])
    return "".join(pieces)


def _redact_unparsed(text: str) -> str:
    """Every string literal replaced; everything if the lexer cannot split the text."""
    try:
        tokens = _tokenize(text.replace("\x00", " "))
    except Exception:
        return MASK
    return _mask(text, [(t.start, t.end) for t in tokens if t.token_type == TokenType.STRING])
