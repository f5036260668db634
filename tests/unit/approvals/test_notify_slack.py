"""Slack: Block Kit message, request signature verification, interaction parsing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from proctor.approvals.notify import (
    SignatureError,
    SlackPayloadError,
    parse_slack_interaction,
    verify_slack_signature,
)
from proctor.approvals.notify.payload import summarize
from proctor.approvals.notify.slack import slack_message, slack_signature

from .notify_samples import APPROVE_URL, event

# The worked example of Slack's "Verifying requests from Slack" documentation.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
NOW = int(DOC_TIMESTAMP) + 30


def test_slack_documentation_example_verifies() -> None:
    assert slack_signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY) == DOC_SIGNATURE
    verify_slack_signature(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, now=NOW)


@pytest.mark.parametrize(
    ("secret", "timestamp", "signature", "body", "now", "message"),
    [
        (DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY + b"&x=1", NOW, "does not match"),
        ("another-secret", DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, NOW, "does not match"),
        (DOC_SECRET, "1531420619", DOC_SIGNATURE, DOC_BODY, NOW, "does not match"),
        (DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, NOW + 300, "tolerance"),
        (DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, int(DOC_TIMESTAMP) - 301, "tolerance"),
        (DOC_SECRET, None, DOC_SIGNATURE, DOC_BODY, NOW, "header"),
        (DOC_SECRET, DOC_TIMESTAMP, None, DOC_BODY, NOW, "header"),
        (DOC_SECRET, "-1531420618", DOC_SIGNATURE, DOC_BODY, NOW, "malformed"),
        (DOC_SECRET, DOC_TIMESTAMP, "v0=é", DOC_BODY, NOW, "does not match"),
    ],
)
def test_tampering_is_refused(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: int, message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_slack_signature(secret, timestamp, signature, body, now=now)


def actions_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [b for b in message["blocks"] if b["type"] == "actions"]
    return blocks[0]["elements"] if blocks else []


def test_requested_message_has_buttons_carrying_the_request_id() -> None:
    message = slack_message(summarize(event()), buttons=True)
    elements = actions_of(message)
    assert [(e["action_id"], e.get("value")) for e in elements] == [
        ("proctor_approve", "apr_7Qx"),
        ("proctor_deny", "apr_7Qx"),
        ("proctor_open", None),
    ]
    assert elements[2]["url"] == APPROVE_URL
    assert message["text"] == "Approval requested: alice on shop (apr_7Qx)"
    assert "channel" not in message
    text = json.dumps(message)
    assert "UPDATE payments SET status='refunded' WHERE id=42" in text
    assert "alice@example.com" not in text  # requester_persons stay inside


def test_no_buttons_without_a_signing_secret_or_for_outcomes() -> None:
    assert [e["action_id"] for e in actions_of(slack_message(summarize(event()), False))] == [
        "proctor_open"
    ]
    assert actions_of(slack_message(summarize(event("approved")), True)) == []


def test_user_text_is_escaped_and_cannot_break_the_code_block() -> None:
    sneaky = event(statement_text="SELECT '<!channel> ```' & 1", requester="<@U1>")
    message = slack_message(summarize(sneaky), buttons=True, channel="C42")
    text = json.dumps(message)
    assert "<!channel>" not in text and "<@U1>" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text
    code = next(b for b in message["blocks"] if b.get("text", {}).get("text", "").startswith("```"))
    assert code["text"]["text"].count("```") == 2
    assert message["channel"] == "C42"


def interaction(action_id: str = "proctor_approve", value: str | None = "apr_7Qx") -> bytes:
    action: dict[str, Any] = {"action_id": action_id, "block_id": "proctor_approval"}
    if value is not None:
        action["value"] = value
    payload = {
        "type": "block_actions",
        "user": {"id": "U2CERLKJA", "username": "bob", "name": "bob", "team_id": "T1"},
        "team": {"id": "T1", "domain": "acme"},
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "actions": [action],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_parse_approve_and_deny() -> None:
    approve = parse_slack_interaction(interaction())
    assert approve is not None
    assert (approve.request_id, approve.action, approve.approve) == ("apr_7Qx", "approve", True)
    assert (approve.user_id, approve.user_name, approve.team_id) == ("U2CERLKJA", "bob", "T1")
    assert approve.response_url == "https://hooks.slack.com/actions/T1/1/x"
    deny = parse_slack_interaction(interaction("proctor_deny"))
    assert deny is not None and deny.action == "deny" and not deny.approve


def test_link_clicks_decide_nothing() -> None:
    assert parse_slack_interaction(interaction("proctor_open", None)) is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"payload=not-json",
        b"\xff",
        urlencode({"payload": json.dumps({"type": "view_submission"})}).encode(),
        urlencode({"payload": json.dumps([1])}).encode(),
        interaction("someone_elses_button"),
        interaction(value=None),
        interaction(value="apr 1; drop"),
        urlencode(
            {"payload": json.dumps({"type": "block_actions", "actions": [{"action_id": "x"}] * 2})}
        ).encode(),
        urlencode(
            {
                "payload": json.dumps(
                    {
                        "type": "block_actions",
                        "actions": [{"action_id": "proctor_deny", "value": "apr_1"}],
                    }
                )
            }
        ).encode(),
    ],
)
def test_foreign_or_malformed_payloads(body: bytes) -> None:
    with pytest.raises(SlackPayloadError):
        parse_slack_interaction(body)
