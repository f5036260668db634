"""Errors the state store raises on purpose (anything else is a bug or an outage)."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation was refused: bad input, unknown reference or constraint violation."""


class UnsupportedStoreURL(StoreError, ValueError):
    """The store URL names a backend or driver Proctor does not support."""


class UnknownSessionError(StoreError, LookupError):
    """A session id the store has never seen."""
