"""Channel configuration (``approvals.notify``) to channels: what each sends, no I/O.

The delivering side (``proctor.server.notify``) builds its ``Notifier`` from these."""

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
from proctor.config.notify import (
    EmailChannelConfig,
    NotifyChannelConfig,
    SlackChannelConfig,
    TeamsChannelConfig,
    WebhookChannelConfig,
)


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
