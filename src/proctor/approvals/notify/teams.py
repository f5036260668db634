"""Microsoft Teams: an Adaptive Card (1.4) in the ``message`` envelope that both Workflows
("When a Teams webhook request is received") and legacy incoming webhooks accept.

Teams cannot call back into the gateway without a bot registration, so the card links to the
request (``Review``) instead of carrying Approve / Deny buttons.

Text written by users (statement, reason, names) goes into ``RichTextBlock`` / ``TextRun``
elements, which Adaptive Cards never read as Markdown: a requester cannot plant a link or
hide part of a statement behind emphasis. Only our own title is a ``TextBlock``.
"""

from __future__ import annotations

from typing import Any

from proctor.approvals.notify.payload import Summary

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"  # the newest version every Teams client renders


def teams_message(summary: Summary) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": summary.title,
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "color": "Attention" if "BREAK-GLASS" in summary.title else "Default",
        }
    ]
    body += [
        {
            "type": "RichTextBlock",
            "inlines": [
                {"type": "TextRun", "text": f"{label}: ", "weight": "Bolder"},
                {"type": "TextRun", "text": value},
            ],
        }
        for label, value in summary.facts
    ]
    if summary.statement:
        body.append(
            {
                "type": "RichTextBlock",
                "separator": True,
                "inlines": [
                    {"type": "TextRun", "text": summary.statement, "fontType": "Monospace"}
                ],
            }
        )
    body.append(
        {
            "type": "RichTextBlock",
            "inlines": [
                {"type": "TextRun", "text": f"Request {summary.request_id}", "isSubtle": True}
            ],
        }
    )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        # Cards are narrow by default in Teams channels; statements read better wide.
        "msteams": {"width": "Full"},
    }
    if summary.url:
        card["actions"] = [
            {
                "type": "Action.OpenUrl",
                "title": "Review" if summary.asks_for_decision else "Open",
                "url": summary.url,
            }
        ]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }
