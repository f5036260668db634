"""Masking the free text of server messages that are not result rows: the message, detail,
hint, where, query and position fields of ErrorResponse / NoticeResponse (a unique
violation quotes the key: ``Key (email)=(jane@…)``), and NOTIFY payloads.

Fail closed: text the masker cannot process is replaced as a whole.
"""

from __future__ import annotations

from proctor.codecs.pgwire import decode, encode
from proctor.masking import Masker, MaskingStats

# ErrorResponse / NoticeResponse fields that carry free text (the others are codes,
# positions, source locations and object names).
TEXT_FIELDS = frozenset(b"MDHWqp")
REDACTED = "[REDACTED]"


def masked_text(masker: Masker, text: str, stats: MaskingStats) -> str:
    try:
        return masker.mask_text(text, stats=stats)
    except Exception:  # fail closed: nothing unmasked leaves
        return REDACTED


def mask_fields(
    masker: Masker, codec: str, stats: MaskingStats, mtype: int, body: bytes
) -> bytes | None:
    """The message with its text fields masked; None when nothing changed."""
    changed = False
    out: list[tuple[int, bytes]] = []
    for code, raw in decode.raw_fields(body):
        if code in TEXT_FIELDS:
            text = raw.decode(codec, "replace")
            masked = masked_text(masker, text, stats)
            if masked != text:
                raw = masked.encode(codec, "replace")
                changed = True
        out.append((code, raw))
    return encode.raw_fields(mtype, out) if changed else None


def mask_notification(
    masker: Masker, codec: str, stats: MaskingStats, pid: int, body: bytes
) -> bytes | None:
    """A NotificationResponse under ``pid`` (the one the client knows) with its payload
    masked; None when the payload needed nothing."""
    _, channel, payload = decode.notification(body)
    text = payload.decode(codec, "replace")
    masked = masked_text(masker, text, stats)
    if masked == text:
        return None
    return encode.notification(pid, channel, masked.encode(codec, "replace"))
