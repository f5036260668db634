"""What the Slack callback route decides and answers; the route itself does the I/O.

Theory of operation. A reviewer clicks Approve or Deny on a Slack message; Slack POSTs the
click, signed with the Slack app's signing secret, to ``<public_url>/api/approvals/slack``
(``proctor.api.slack_routes``). Before anything is decided:

1. ``signing_app``: the signature must verify with the signing secret of a configured Slack
   channel (``approvals.notify``, kind ``slack``); that app's ``users`` say who may click.
2. ``SlackApp.reviewer``: the Slack member id is mapped to a Proctor identity through that
   explicit mapping only. A member who is not listed decides nothing.
3. ``refusal``: the workflow's own rules (``workflows.refusal``: separation of duties, who
   may approve) come first; then a workflow that requires a reason refuses a click, which
   cannot carry one, and points to the CLI. The decision itself is then made by
   ``ApprovalService.decide``, exactly as for the REST API.

Replies are Slack message JSON: ``decided_reply`` replaces the original message (buttons
gone once the request is settled), ``ephemeral`` answers only the person who clicked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from proctor.approvals import workflows as wf
from proctor.approvals.notify.payload import summarize
from proctor.approvals.notify.signing import SignatureError
from proctor.approvals.notify.slack import SlackInteraction, escape, slack_message
from proctor.approvals.notify.slack import verify_slack_signature as _verify
from proctor.config.approvals import WorkflowConfig
from proctor.config.notify import NotifyChannelConfig, SlackChannelConfig, SlackUserConfig
from proctor.model import ApprovalEvent, ApprovalRequest, Identity

ISSUER = "slack"  # Identity.issuer of a reviewer acting through a Slack button
_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
# Stands in for a reason while asking the workflow whether anything *else* refuses the
# click, so that a requester hears "separation of duties", not "give a reason".
_SOME_REASON = "(button click)"


@dataclass(frozen=True, slots=True)
class SlackApp:
    """One Slack app: its signing secret and the members whose clicks it may carry."""

    signing_secret: str = field(repr=False)
    users: Mapping[str, SlackUserConfig]

    def reviewer(self, interaction: SlackInteraction) -> Identity | None:
        """The Proctor identity of the member who clicked; None when not mapped."""
        user = self.users.get(interaction.user_id)
        if user is None:
            return None
        claims: dict[str, str] = {"slack_user_id": interaction.user_id}
        if interaction.team_id:
            claims["slack_team_id"] = interaction.team_id
        return Identity(
            subject=user.subject,
            groups=frozenset(user.groups),
            issuer=ISSUER,
            display_name=interaction.user_name,
            email=user.email,
            claims=claims,
        )


def slack_apps(channels: Iterable[NotifyChannelConfig]) -> tuple[SlackApp, ...]:
    """The Slack apps whose clicks the gateway accepts: one per distinct signing secret.

    Channels sharing a secret are one app posting to several Slack channels; their member
    mappings are merged (the configuration refuses a member mapped two different ways)."""
    users: dict[str, dict[str, SlackUserConfig]] = {}
    for channel in channels:
        if isinstance(channel, SlackChannelConfig) and channel.signing_secret is not None:
            users.setdefault(channel.signing_secret, {}).update(channel.users)
    return tuple(SlackApp(secret, mapping) for secret, mapping in users.items())


def signing_app(
    apps: Iterable[SlackApp],
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
) -> SlackApp:
    """The app whose signing secret signed ``body``; raises ``SignatureError`` otherwise
    (also for a timestamp more than five minutes away: a replay)."""
    problem = SignatureError("no Slack signing secret is configured")
    for app in apps:
        try:
            _verify(app.signing_secret, timestamp, signature, body, now=now)
        except SignatureError as exc:
            problem = exc
            continue
        return app
    raise problem


def unmapped_text(interaction: SlackInteraction) -> str:
    member = interaction.user_id if _MEMBER_ID.fullmatch(interaction.user_id) else "?"
    return (
        f"Your Slack account ({member}) is not mapped to a Proctor identity, so the gateway "
        "cannot record a decision from it. Ask a Proctor admin to add it under `users:` of "
        "the Slack channel in `approvals.notify`, or decide with `proctor approvals`."
    )


def refusal(
    workflow: WorkflowConfig,
    workflow_name: str,
    request: ApprovalRequest,
    reviewer: Identity,
    *,
    approve: bool,
    url: str | None,
) -> str | None:
    """Why this click may not decide ``request``, or None when the service may be asked.

    The service checks the workflow again when deciding; checking here first lets a click
    that needs a reason be answered with where to give one."""
    why = wf.refusal(
        workflow,
        workflow_name,
        request,
        reviewer,
        approve=approve,
        reason=_SOME_REASON,
        break_glass=False,
    )
    if why is not None:
        return why
    if workflow.reason_required:
        verb = "approve" if approve else "deny"
        where = f", or see {url}" if url else ""
        return (
            f"Workflow {workflow_name} requires a reason, and a button cannot carry one. "
            f'Use `proctor approvals {verb} {request.id} --reason "…"`{where}.'
        )
    return None


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the person who clicked sees; the original message stays as it is."""
    return {"response_type": "ephemeral", "replace_original": False, "text": escape(text)}


def decided_reply(
    request: ApprovalRequest,
    reviewer: Identity,
    interaction: SlackInteraction,
    *,
    at: datetime,
    url: str | None,
    still_needed: str | None,
) -> dict[str, Any]:
    """The original message, replaced: the request's new state and who decided it.

    Buttons stay while the request still waits for other reviewers, and go once it is
    settled (a click on a settled request would only be refused)."""
    settled = request.status.final
    kind = request.status.value if settled else "decision"
    summary = summarize(ApprovalEvent(kind, request, at, actor=reviewer.subject, url=url))
    message = slack_message(summary, buttons=not settled)
    verb = "approved" if interaction.approve else "denied"
    line = f"{verb.capitalize()} by {reviewer.subject} from Slack"
    if _MEMBER_ID.fullmatch(interaction.user_id):
        line = f"{escape(line)} (<@{interaction.user_id}>)"
    else:
        line = escape(line)
    if not settled and still_needed:
        line += f"; still needs {escape(still_needed)}"
    message["blocks"].insert(
        -1, {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}
    )
    message["text"] = escape(f"Request {request.id} {verb} by {reviewer.subject}")
    message["replace_original"] = True
    return message
