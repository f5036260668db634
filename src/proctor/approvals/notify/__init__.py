"""Approval notifications: webhook (CloudEvents + HMAC), Slack, Microsoft Teams, e-mail.

The approvals core calls ``Notifier.publish(event)`` for every ``ApprovalEvent``; delivery
happens in the background (see ``notifier``). Receivers and the Slack callback route use the
pure helpers: ``verify_webhook_signature``, ``verify_slack_signature``,
``parse_slack_interaction``. Layout: ``payload``/``cloudevents``/``slack``/``teams``/``mail``
render (pure), ``channels`` pairs rendering with configuration, ``transport`` and
``notifier`` are the only modules doing I/O. The format is documented in
docs/approvals-notifications.md.
"""

from proctor.approvals.notify.channels import (
    Channel,
    EmailChannel,
    HttpDelivery,
    MailDelivery,
    MailServer,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from proctor.approvals.notify.cloudevents import CONTENT_TYPE as CLOUDEVENTS_CONTENT_TYPE
from proctor.approvals.notify.cloudevents import cloudevent
from proctor.approvals.notify.factory import channel_from_config, slack_signing_secrets
from proctor.approvals.notify.payload import request_json
from proctor.approvals.notify.retry import RetryPolicy
from proctor.approvals.notify.signing import (
    SIGNATURE_HEADER,
    SignatureError,
    sign_webhook,
    verify_webhook_signature,
)
from proctor.approvals.notify.slack import (
    SlackInteraction,
    SlackPayloadError,
    parse_slack_interaction,
    verify_slack_signature,
)
from proctor.approvals.notify.stats import ChannelCounts, NotifyStats

__all__ = [
    "CLOUDEVENTS_CONTENT_TYPE",
    "SIGNATURE_HEADER",
    "Channel",
    "ChannelCounts",
    "EmailChannel",
    "HttpDelivery",
    "MailDelivery",
    "MailServer",
    "NotifyStats",
    "RetryPolicy",
    "SignatureError",
    "SlackChannel",
    "SlackInteraction",
    "SlackPayloadError",
    "TeamsChannel",
    "WebhookChannel",
    "channel_from_config",
    "cloudevent",
    "parse_slack_interaction",
    "request_json",
    "sign_webhook",
    "slack_signing_secrets",
    "verify_slack_signature",
    "verify_webhook_signature",
]
