"""``build_notifier``: channel configuration (``approvals.notify``) to a ready ``Notifier``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from proctor.approvals.notify.channels import (
    Channel,
    EmailChannel,
    MailServer,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from proctor.approvals.notify.cloudevents import DEFAULT_SOURCE
from proctor.approvals.notify.notifier import Notifier
from proctor.approvals.notify.retry import RetryPolicy
from proctor.config.notify import (
    EmailChannelConfig,
    NotifyChannelConfig,
    SlackChannelConfig,
    TeamsChannelConfig,
    WebhookChannelConfig,
)


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


class _Common(TypedDict):
    name: str
    events: frozenset[str]
    max_attempts: int
    timeout: float


def channel_from_config(config: NotifyChannelConfig, source: str = DEFAULT_SOURCE) -> Channel:
    common: _Common = {
        "name": config.name,
        "events": config.event_types,
        "max_attempts": config.max_attempts,
        "timeout": config.timeout,
    }
    if isinstance(config, WebhookChannelConfig):
        return WebhookChannel(
            **common, url=config.url, secret=config.secret, source=source, ca_file=config.ca_file
        )
    if isinstance(config, SlackChannelConfig):
        return SlackChannel(
            **common,
            url=config.url,
            buttons=config.signing_secret is not None,
            token=config.token,
            channel=config.channel,
        )
    if isinstance(config, TeamsChannelConfig):
        return TeamsChannel(**common, url=config.url)
    if isinstance(config, EmailChannelConfig):
        server = MailServer(
            host=config.host,
            port=config.effective_port,
            ssl=config.ssl,
            starttls=config.uses_starttls,
            ca_file=config.ca_file,
            username=config.username,
            password=config.password,
        )
        return EmailChannel(
            **common,
            server=server,
            sender=config.sender,
            recipients=config.to,
            subject_prefix=config.subject_prefix,
        )
    raise TypeError(f"unknown channel configuration {type(config).__name__}")


def slack_signing_secrets(channels: Sequence[NotifyChannelConfig]) -> tuple[str, ...]:
    """The signing secrets a Slack callback may be signed with (one per Slack app)."""
    secrets = (c.signing_secret for c in channels if isinstance(c, SlackChannelConfig))
    return tuple(dict.fromkeys(s for s in secrets if s is not None))
