"""Errors raised by the masking engine.

Invariant (DESIGN.md §5): a masked value is never written anywhere unmasked, and that includes
error messages. Nothing in this package puts a cell value, a match or the text of a caught
exception into an error message; errors say *where* (column index, entity) and *what kind* of
failure, never *what value*.
"""

from __future__ import annotations

from typing import TypeVar

_E = TypeVar("_E", bound=BaseException)


def detached(error: _E) -> _E:
    """``error``, to be raised ``from None`` in an ``except`` block: the exception being
    handled (whose text may quote a value) is neither its cause nor shown as its context.

    ``raise ... from None`` alone does this in interpreted Python, but the compiled hot path
    (mypyc, see proctor/hotpath.py) leaves the context displayed; this sets it explicitly.
    """
    error.__cause__ = None
    error.__suppress_context__ = True
    return error


class MaskingError(Exception):
    """Masking a value failed; the caller must not send the value (fail closed).

    The PostgreSQL path drops the row and ends the command with an error. The message never
    contains the value or the message of the underlying exception (which could quote it).
    """


class ProfileError(ValueError):
    """A masking profile (dict/YAML) is invalid. Raised at load time, never while masking."""
