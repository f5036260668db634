"""Delivering approval notifications: the I/O side of ``proctor.approvals.notify``.

``approvals.notify`` says what each channel sends (pure); this package sends it — HTTP with
aiohttp and SMTP with smtplib, from a thread of its own with retries — so the gateway's event
loop never waits on a receiver.
"""

from __future__ import annotations

from collections.abc import Sequence

from proctor.approvals.notify.cloudevents import DEFAULT_SOURCE
from proctor.approvals.notify.factory import channel_from_config
from proctor.approvals.notify.retry import RetryPolicy
from proctor.config.notify import NotifyChannelConfig
from proctor.server.notify.notifier import Notifier


def build_notifier(
    channels: Sequence[NotifyChannelConfig],
    public_url: str | None,
    *,
    retry: RetryPolicy | None = None,
) -> Notifier:
    """A notifier for the configured channels; nothing runs until the first ``publish``.

    ``public_url``: the gateway's public URL (``identity.public_url``), the CloudEvents
    ``source``; without it the source is ``proctor``.
    """
    source = public_url.rstrip("/") if public_url else DEFAULT_SOURCE
    return Notifier([channel_from_config(c, source) for c in channels], retry)


__all__ = ["Notifier", "build_notifier"]
