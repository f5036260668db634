"""Slack: a Block Kit message with Approve / Deny buttons, and the two pure functions the
HTTP route for button clicks (``<public_url>/api/approvals/slack``) needs.

1. ``verify_slack_signature``: Slack signs each interactivity request with the app's signing
   secret: ``X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:<timestamp>:<body>"))`` and
   ``X-Slack-Request-Timestamp``; requests older than five minutes are refused (replays).
2. ``parse_slack_interaction``: the verified form body (``payload=<json>``) to a
   ``SlackInteraction`` (request id, approve or deny, the Slack user).

The Slack user is *not* a Proctor identity: the route maps it to one (for example by the
user's e-mail, ``users.info``) before deciding, and the workflow's separation of duties
applies to that identity as to any other reviewer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from proctor.approvals.notify.payload import Summary
from proctor.approvals.notify.signing import SignatureError

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
TOLERANCE = 300.0  # Slack's own recommendation

BLOCK_ID = "proctor_approval"
APPROVE_ACTION = "proctor_approve"
DENY_ACTION = "proctor_deny"
OPEN_ACTION = "proctor_open"  # the link button; Slack reports its clicks too
_ACTIONS: dict[str, Literal["approve", "deny"]] = {APPROVE_ACTION: "approve", DENY_ACTION: "deny"}

_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_MAX_FIELDS = 10  # Block Kit: at most 10 fields per section
_MAX_FIELD_CHARS = 1900  # of 2000
_MAX_TEXT_CHARS = 2900  # of 3000 per section text


class SlackPayloadError(ValueError):
    """The interaction payload is not a Proctor approve/deny click; safe to show."""


@dataclass(frozen=True, slots=True)
class SlackInteraction:
    request_id: str
    action: Literal["approve", "deny"]
    user_id: str
    user_name: str | None
    team_id: str | None
    response_url: str | None  # where a reply (e.g. "approved by bob") can be posted

    @property
    def approve(self) -> bool:
        return self.action == "approve"


def escape(text: str) -> str:
    """Slack mrkdwn control characters; user text must not become links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(summary: Summary, buttons: bool, channel: str | None = None) -> dict[str, Any]:
    """The message body for an incoming webhook or ``chat.postMessage`` (with ``channel``)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": summary.title[:150]}},
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*{label}*\n{escape(value)}"[:_MAX_FIELD_CHARS],
                }
                for label, value in summary.facts[:_MAX_FIELDS]
            ],
        },
    ]
    if summary.statement:
        # A statement ending in ` would close the code block early; a zero-width space keeps
        # the fence intact without changing what a reviewer reads.
        code = escape(summary.statement).replace("```", "`\u200b``")
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"```{code}```"[:_MAX_TEXT_CHARS]},
            }
        )
    elements: list[dict[str, Any]] = []
    if summary.asks_for_decision and buttons:
        elements += [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": summary.request_id,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Approve this request?"},
                    "text": {"type": "mrkdwn", "text": "It runs as soon as it is approved."},
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
            {
                "type": "button",
                "action_id": DENY_ACTION,
                "text": {"type": "plain_text", "text": "Deny"},
                "style": "danger",
                "value": summary.request_id,
            },
        ]
    if summary.url and summary.asks_for_decision:
        elements.append(
            {
                "type": "button",
                "action_id": OPEN_ACTION,
                "text": {"type": "plain_text", "text": "Open"},
                "url": summary.url,
            }
        )
    if elements:
        blocks.append({"type": "actions", "block_id": BLOCK_ID, "elements": elements})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Request `{summary.request_id}`"}],
        }
    )
    message: dict[str, Any] = {"text": escape(summary.headline), "blocks": blocks}
    if channel is not None:
        message["channel"] = channel
    return message


def slack_signature(signing_secret: str | bytes, timestamp: str, body: bytes) -> str:
    """``v0=<hex>``: what Slack sends in ``X-Slack-Signature`` for this body."""
    key = signing_secret.encode() if isinstance(signing_secret, str) else signing_secret
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(key, base, hashlib.sha256).hexdigest()


def verify_slack_signature(
    signing_secret: str | bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: float = TOLERANCE,
) -> None:
    """Check Slack's request signature over the raw body; raise ``SignatureError`` if wrong.

    ``timestamp`` and ``signature``: the ``X-Slack-Request-Timestamp`` and
    ``X-Slack-Signature`` headers. ``body``: exactly the bytes received, before parsing.
    """
    if not timestamp or not signature:
        raise SignatureError(f"no {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    if not timestamp.isascii() or not timestamp.isdigit():
        raise SignatureError(f"malformed {TIMESTAMP_HEADER}")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise SignatureError("request timestamp outside the tolerance (replayed or clock skew)")
    expected = slack_signature(signing_secret, timestamp, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.strip().encode(errors="replace")):
        raise SignatureError("signature does not match")


def parse_slack_interaction(body: bytes) -> SlackInteraction | None:
    """An approve/deny click from a verified interactivity request body.

    Returns None for interactions that decide nothing (a click on the link button, which
    Slack reports as well); raises ``SlackPayloadError`` for anything malformed or foreign.
    """
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=10)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError):
        raise SlackPayloadError("expected a form body with a JSON payload field") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise SlackPayloadError("expected a block_actions interaction")
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise SlackPayloadError("expected exactly one action")
    action_id = actions[0].get("action_id")
    if action_id == OPEN_ACTION:
        return None
    if action_id not in _ACTIONS:
        raise SlackPayloadError("not a Proctor approval action")
    request_id = actions[0].get("value")
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise SlackPayloadError("the action carries no valid request id")
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise SlackPayloadError("the interaction names no Slack user")
    team = payload.get("team")
    return SlackInteraction(
        request_id=request_id,
        action=_ACTIONS[action_id],
        user_id=user["id"],
        user_name=_text(user.get("username")) or _text(user.get("name")),
        team_id=_text(team.get("id")) if isinstance(team, dict) else _text(user.get("team_id")),
        response_url=_text(payload.get("response_url")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
