"""The Slack callback's rules: which app signed a click, who the member is, what is refused,
and what Slack is answered."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from proctor.approvals.notify import SignatureError, SlackInteraction
from proctor.approvals.notify.slack import slack_signature
from proctor.approvals.notify.slack_callback import (
    ISSUER,
    decided_reply,
    ephemeral,
    refusal,
    signing_app,
    slack_apps,
    unmapped_text,
)
from proctor.config.approvals import WorkflowConfig
from proctor.config.notify import SlackChannelConfig, TeamsChannelConfig
from proctor.model import ApprovalRequest, Decision, Identity, RequestStatus

from .notify_samples import APPROVE_URL, CREATED, request

SECRET_A = "slack-app-a-0123456789abcdef"
SECRET_B = "slack-app-b-0123456789abcdef"
BODY = b"payload=%7B%7D"
NOW = 1_700_000_000


def slack(name: str, secret: str | None, users: dict[str, object]) -> SlackChannelConfig:
    return SlackChannelConfig.model_validate(
        {
            "name": name,
            "kind": "slack",
            "url": "https://hooks.slack.com/services/x",
            "signing_secret": secret,
            "users": users,
        }
    )


def click(user_id: str = "U0BOB", approve: bool = True) -> SlackInteraction:
    return SlackInteraction(
        request_id="apr_7Qx",
        action="approve" if approve else "deny",
        user_id=user_id,
        user_name="bob.slack",
        team_id="T1",
        response_url="https://hooks.slack.com/actions/T1/1/x",
    )


FLOW = WorkflowConfig.model_validate({"approvers": {"groups": ["dba"]}})
BOB = Identity(subject="bob", groups=frozenset({"dba"}), issuer=ISSUER)


def test_channels_sharing_a_secret_are_one_app_and_channels_without_one_none() -> None:
    apps = slack_apps(
        [
            slack("a", SECRET_A, {"U0BOB": "bob"}),
            TeamsChannelConfig.model_validate(
                {"name": "t", "kind": "teams", "url": "https://teams.example/x"}
            ),
            slack("a2", SECRET_A, {"U0CAROL": {"subject": "carol", "groups": ["dba"]}}),
            slack("b", SECRET_B, {}),
            slack("nobuttons", None, {}),
        ]
    )
    assert [set(app.users) for app in apps] == [{"U0BOB", "U0CAROL"}, set()]
    assert SECRET_A not in repr(apps)


def test_the_app_whose_secret_signed_the_body_is_chosen() -> None:
    apps = slack_apps([slack("a", SECRET_A, {"U0A": "ann"}), slack("b", SECRET_B, {"U0B": "ben"})])
    ts = str(NOW)
    chosen = signing_app(apps, ts, slack_signature(SECRET_B, ts, BODY), BODY, now=NOW)
    assert set(chosen.users) == {"U0B"}
    with pytest.raises(SignatureError, match="does not match"):
        signing_app(apps, ts, slack_signature("another-secret-0000", ts, BODY), BODY, now=NOW)
    with pytest.raises(SignatureError, match="tolerance"):
        signing_app(apps, ts, slack_signature(SECRET_A, ts, BODY), BODY, now=NOW + 301)
    with pytest.raises(SignatureError, match="no Slack signing secret"):
        signing_app((), ts, slack_signature(SECRET_A, ts, BODY), BODY, now=NOW)


def test_members_become_identities_through_the_mapping_only() -> None:
    (app,) = slack_apps(
        [
            slack(
                "a",
                SECRET_A,
                {"U0BOB": {"subject": "bob", "groups": ["dba"], "email": "bob@example.com"}},
            )
        ]
    )
    bob = app.reviewer(click())
    assert bob is not None
    assert (bob.subject, bob.groups, bob.email, bob.issuer) == (
        "bob",
        frozenset({"dba"}),
        "bob@example.com",
        "slack",
    )
    assert bob.claims == {"slack_user_id": "U0BOB", "slack_team_id": "T1"}
    assert bob.display_name == "bob.slack"
    assert app.reviewer(click("U0MALLORY")) is None
    assert "U0MALLORY" in unmapped_text(click("U0MALLORY"))
    assert "(?)" in unmapped_text(click("<!channel>"))  # only ids are echoed


def test_separation_of_duties_comes_before_the_reason() -> None:
    strict = FLOW.model_copy(update={"reason_required": True})
    # alice's, with the person keys the service stores (workflows.persons)
    pending = replace(
        request(), requester_persons=frozenset({"subject:alice", "email:alice@example.com"})
    )
    alice_from_slack = Identity(subject="alice", groups=frozenset({"dba"}), issuer=ISSUER)
    why = refusal(strict, "w", pending, alice_from_slack, approve=True, url=APPROVE_URL)
    assert why is not None and "separation of duties" in why
    # Also through another subject whose e-mail is the requester's.
    same_person = Identity(subject="a.smith", email="Alice@Example.com", groups=frozenset({"dba"}))
    why = refusal(FLOW, "w", pending, same_person, approve=True, url=None)
    assert why is not None and "separation of duties" in why
    outsider = Identity(subject="eve", groups=frozenset({"dev"}))
    why = refusal(strict, "w", pending, outsider, approve=True, url=None)
    assert why is not None and "not an approver" in why


def test_a_reason_required_click_is_pointed_at_the_cli() -> None:
    strict = FLOW.model_copy(update={"reason_required": True})
    why = refusal(strict, "w", request(), BOB, approve=False, url=APPROVE_URL)
    assert why is not None
    assert "requires a reason" in why
    assert 'proctor approvals deny apr_7Qx --reason "…"' in why
    assert APPROVE_URL in why
    assert refusal(FLOW, "w", request(), BOB, approve=True, url=APPROVE_URL) is None


def test_ephemeral_replies_are_escaped() -> None:
    reply = ephemeral("no <!channel> & co")
    assert reply == {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": "no &lt;!channel&gt; &amp; co",
    }


def _decided(status: RequestStatus, approve: bool = True) -> ApprovalRequest:
    at = CREATED + timedelta(minutes=1)
    decision = Decision(
        approver="bob", approve=approve, reason=None, at=at, approver_groups=frozenset({"dba"})
    )
    return replace(
        request(),
        status=status,
        decisions=(decision,),
        decided_at=at if status.final else None,
    )


def actions(message: dict[str, object]) -> list[str]:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_settled_requests_replace_the_message_without_buttons() -> None:
    approved = _decided(RequestStatus.APPROVED)
    reply = decided_reply(
        approved,
        BOB,
        click(),
        at=CREATED,
        url=APPROVE_URL,
        still_needed=None,
    )
    assert reply["replace_original"] is True
    assert reply["text"] == "Request apr_7Qx approved by bob"
    assert actions(reply) == []
    text = json.dumps(reply)
    assert "Approved by bob from Slack (<@U0BOB>)" in text
    assert "Request approved" in text  # the header
    denied = decided_reply(
        _decided(RequestStatus.DENIED, approve=False),
        BOB,
        click(approve=False),
        at=CREATED,
        url=None,
        still_needed=None,
    )
    assert denied["text"] == "Request apr_7Qx denied by bob" and actions(denied) == []


def test_a_request_still_waiting_keeps_its_buttons() -> None:
    reply = decided_reply(
        _decided(RequestStatus.PENDING),
        BOB,
        click(),
        at=CREATED,
        url=APPROVE_URL,
        still_needed="1 more approval",
    )
    assert actions(reply) == ["proctor_approve", "proctor_deny", "proctor_open"]
    assert "still needs 1 more approval" in json.dumps(reply)
