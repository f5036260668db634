"""Re-checking live sessions: a revoked (or deleted) Proctor token ends its sessions.

Expiry does not: like a PostgreSQL password that expires, it stops new sessions only, so a
long migration started with a 15-minute CI token is not cut off mid-way. Revocation is the
tool for "stop them now".

The gateway calls ``TokenRevalidator.ended(token_ids)`` every ``identity.revalidate_interval``
seconds (off the event loop) with the token ids of its live sessions; the ids it returns name
sessions to terminate. One store lookup per distinct token: sessions sharing a token share
the lookup. A store that cannot be read ends nothing (availability), and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from proctor.store.interfaces import TokenStore

log = logging.getLogger("proctor.identity")


class TokenRevalidator:
    def __init__(self, tokens: TokenStore) -> None:
        self._tokens = tokens

    def ended(self, token_ids: Iterable[str]) -> dict[str, str]:
        """token id -> why its sessions must end (``revoked`` or ``unknown``)."""
        out: dict[str, str] = {}
        for token_id in set(token_ids):
            try:
                record = self._tokens.get_token(token_id)
            except Exception as exc:  # a store hiccup must not end sessions
                log.warning("revalidation_failed", extra={"error": type(exc).__name__})
                return {}
            if record is None:
                out[token_id] = "unknown"
            elif record.revoked_at is not None:
                out[token_id] = "revoked"
        return out


REASON_TEXT = {
    "revoked": "the access token was revoked",
    "unknown": "the access token no longer exists",
}
