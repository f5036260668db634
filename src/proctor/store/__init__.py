"""The state store: tokens and sessions (approvals and grants later), on SQLite or PostgreSQL.

``interfaces`` holds the Protocols the rest of Proctor depends on; ``SqlStore`` is the one
implementation. Only ``cli`` opens a store (``open_store``); everything else receives it.
"""

from proctor.store.errors import StoreError, UnknownSessionError, UnsupportedStoreURL
from proctor.store.sessions import SessionRow
from proctor.store.sql import SqlStore, open_store

__all__ = [
    "SessionRow",
    "SqlStore",
    "StoreError",
    "UnknownSessionError",
    "UnsupportedStoreURL",
    "open_store",
]
