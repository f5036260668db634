"""Channels turn an ``ApprovalEvent`` into a ``Delivery``: what to send, where, signed how.

Sans-IO: nothing here touches the network, so each channel's output is tested as data; the
notifier hands deliveries to the transports. A delivery is made once per event and channel,
and every retry sends the same body (same CloudEvent ``id``); only the webhook signature is
made afresh at each attempt, so a late retry is not refused as a replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from proctor.approvals.notify import cloudevents
from proctor.approvals.notify.mail import mail_message
from proctor.approvals.notify.payload import summarize
from proctor.approvals.notify.slack import slack_message
from proctor.approvals.notify.teams import teams_message
from proctor.model.approval import ApprovalEvent

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class HttpDelivery:
    url: str = field(repr=False)  # may hold a token (Slack, Teams)
    body: bytes
    content_type: str
    signing_secret: str | None = field(default=None, repr=False)  # Proctor-Signature key
    bearer_token: str | None = field(default=None, repr=False)  # Slack chat.postMessage
    slack_api: bool = False  # the Web API answers errors as 200 {"ok": false}
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class MailServer:
    host: str
    port: int
    ssl: bool
    starttls: bool
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class MailDelivery:
    message: EmailMessage
    server: MailServer


Delivery = HttpDelivery | MailDelivery


class Channel(Protocol):
    """What the notifier needs of a channel (tests may bring their own)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def max_attempts(self) -> int: ...

    @property
    def timeout(self) -> float: ...

    def accepts(self, event_type: str) -> bool: ...

    def render(self, event: ApprovalEvent) -> Delivery: ...


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class _ChannelBase:
    name: str
    events: frozenset[str]
    max_attempts: int = 6
    timeout: float = 10.0

    def accepts(self, event_type: str) -> bool:
        return event_type in self.events


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookChannel(_ChannelBase):
    url: str = field(repr=False)
    secret: str = field(repr=False)
    source: str = cloudevents.DEFAULT_SOURCE  # the gateway's public URL, when known
    ca_file: Path | None = None
    kind: str = field(default="webhook", init=False)

    def render(self, event: ApprovalEvent) -> HttpDelivery:
        document = cloudevents.cloudevent(event, self.source)
        return HttpDelivery(
            url=self.url,
            body=cloudevents.encode(document),
            content_type=cloudevents.CONTENT_TYPE,
            signing_secret=self.secret,
            ca_file=self.ca_file,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackChannel(_ChannelBase):
    url: str = field(repr=False)
    # Buttons only when clicks can be verified (the route needs the app's signing secret).
    buttons: bool = False
    token: str | None = field(default=None, repr=False)
    channel: str | None = None
    kind: str = field(default="slack", init=False)

    def render(self, event: ApprovalEvent) -> HttpDelivery:
        message = slack_message(summarize(event), self.buttons, self.channel)
        return HttpDelivery(
            url=self.url,
            body=_json(message),
            content_type=JSON,
            bearer_token=self.token,
            slack_api=self.token is not None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamsChannel(_ChannelBase):
    url: str = field(repr=False)
    kind: str = field(default="teams", init=False)

    def render(self, event: ApprovalEvent) -> HttpDelivery:
        return HttpDelivery(
            url=self.url, body=_json(teams_message(summarize(event))), content_type=JSON
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailChannel(_ChannelBase):
    server: MailServer
    sender: str
    recipients: tuple[str, ...]
    subject_prefix: str = "[Proctor]"
    kind: str = field(default="email", init=False)

    def render(self, event: ApprovalEvent) -> MailDelivery:
        message = mail_message(
            event, summarize(event), self.sender, self.recipients, self.subject_prefix
        )
        return MailDelivery(message=message, server=self.server)
