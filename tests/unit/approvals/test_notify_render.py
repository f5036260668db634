"""What each channel sends: CloudEvents, Teams cards, mail; rendered without any network."""

from __future__ import annotations

import json
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest

from proctor.approvals.notify import (
    EmailChannel,
    HttpDelivery,
    MailDelivery,
    MailServer,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
    cloudevent,
    request_json,
)
from proctor.approvals.notify.mail import mail_message
from proctor.approvals.notify.payload import summarize
from proctor.approvals.notify.teams import teams_message

from .notify_samples import APPROVE_URL, STATEMENT, event

EVERYTHING = frozenset({"requested", "approved", "denied", "break_glass"})


def test_cloudevent_shape() -> None:
    document = cloudevent(event("approved"), "https://proctor.example")
    assert {k: v for k, v in document.items() if k not in ("id", "data")} == {
        "specversion": "1.0",
        "type": "dev.proctor.approval.approved",
        "source": "https://proctor.example",
        "time": "2024-05-01T10:02:00Z",
        "subject": "apr_7Qx",
        "datacontenttype": "application/json",
        "proctoractor": "bob",
        "proctorurl": APPROVE_URL,
    }
    assert len(document["id"]) == 32
    assert document["data"] == request_json(event("approved").request)
    data = document["data"]
    assert data["statement"] == STATEMENT and data["status"] == "approved"
    assert data["decisions"] == [
        {
            "approver": "bob",
            "approve": True,
            "reason": "ticket 7",
            "at": "2024-05-01T10:02:00Z",
            "approver_groups": ["dba"],
            "break_glass": False,
        }
    ]
    assert "requester_persons" not in data and "alice@example.com" not in json.dumps(document)
    assert cloudevent(event(), None)["source"] == "proctor"


def test_webhook_delivery_keeps_one_body_and_signs_per_attempt() -> None:
    channel = WebhookChannel(
        name="hook", events=EVERYTHING, url="https://h.example/x", secret="s" * 16
    )
    delivery = channel.render(event())
    assert isinstance(delivery, HttpDelivery)
    assert delivery.content_type == "application/cloudevents+json"
    assert delivery.signing_secret == "s" * 16
    assert json.loads(delivery.body)["type"] == "dev.proctor.approval.requested"
    assert "s" * 16 not in repr(delivery) and "h.example" not in repr(delivery)
    assert "s" * 16 not in repr(channel)


def test_slack_api_mode() -> None:
    channel = SlackChannel(
        name="s",
        events=EVERYTHING,
        url="https://slack.com/api/chat.postMessage",
        buttons=True,
        token="xoxb-1",
        channel="C1",
    )
    delivery = channel.render(event())
    assert delivery.bearer_token == "xoxb-1" and delivery.slack_api
    assert json.loads(delivery.body)["channel"] == "C1"
    assert "xoxb-1" not in repr(channel) + repr(delivery)


def test_teams_card() -> None:
    message = teams_message(summarize(event(reason="[click](https://evil.example)")))
    attachment = message["attachments"][0]
    assert message["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Review", "url": APPROVE_URL}]
    # User text only ever in TextRuns, which Adaptive Cards do not read as Markdown.
    text_blocks = [b for b in card["body"] if b["type"] == "TextBlock"]
    assert [b["text"] for b in text_blocks] == ["Approval requested"]
    runs = [i["text"] for b in card["body"] if b["type"] == "RichTextBlock" for i in b["inlines"]]
    assert STATEMENT in runs and "[click](https://evil.example)" in runs
    delivery = TeamsChannel(name="t", events=EVERYTHING, url="https://t.example/x").render(event())
    assert isinstance(delivery, HttpDelivery) and delivery.signing_secret is None


@pytest.mark.parametrize("url", [None, "javascript:alert(1)"])
def test_no_link_without_an_url_and_no_non_web_links(url: str | None) -> None:
    summary = summarize(replace(event(), url=url))
    assert summary.url is None
    assert "actions" not in teams_message(summary)["attachments"][0]["content"]
    assert (
        "javascript"
        not in mail_message(event(), summary, "p@x.example", ("d@x.example",)).as_string()
    )


def mail() -> EmailMessage:
    channel = EmailChannel(
        name="m",
        events=EVERYTHING,
        server=MailServer(host="smtp.example", port=587, ssl=False, starttls=True, password="pw"),
        sender="proctor@example.com",
        recipients=("dba@example.com", "sec@example.com"),
    )
    delivery = channel.render(event(requester="alice\r\nBcc: x@evil.example", reason="<b>hi</b>"))
    assert isinstance(delivery, MailDelivery)
    assert "pw" not in repr(delivery.server)
    return delivery.message


def test_mail_headers() -> None:
    message = mail()
    assert message["Subject"].startswith("[Proctor] Approval requested: alice  Bcc: x@evil")
    assert message["Bcc"] is None
    assert message["To"] == "dba@example.com, sec@example.com"
    assert message["From"] == "proctor@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.com>")


def test_mail_bodies_carry_the_approve_url() -> None:
    message = mail()
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    plain_text = plain.get_content()
    html_text = html.get_content()
    assert APPROVE_URL in plain_text and f'href="{APPROVE_URL}"' in html_text
    assert "proctor approvals approve apr_7Qx" in plain_text
    assert "    " + STATEMENT in plain_text
    assert "&lt;b&gt;hi&lt;/b&gt;" in html_text and "<b>hi</b>" not in html_text
    assert "status=&#x27;refunded&#x27;" in html_text


def test_outcome_mail_asks_for_nothing() -> None:
    channel = EmailChannel(
        name="m",
        events=EVERYTHING,
        server=MailServer(host="h", port=25, ssl=False, starttls=False, ca_file=Path("/x")),
        sender="p@example.com",
        recipients=("d@example.com",),
    )
    delivery = channel.render(event("denied"))
    assert isinstance(delivery, MailDelivery)
    plain = delivery.message.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert text.startswith("Request denied") and "proctor approvals approve" not in text
    assert "By:" in text and "Decision reason: ticket 7" in text


def test_summary_titles_and_truncation() -> None:
    assert summarize(event("break_glass")).title == "BREAK-GLASS self-approval"
    assert summarize(event("something_new")).title == "Approval event: something_new"
    long = summarize(event(statement_text="x" * 5000)).statement
    assert long is not None and len(long) < 2100 and long.endswith("…(truncated)")
    access = summarize(event(duration_seconds=5400))
    assert ("Duration", "1h30m") in access.facts
