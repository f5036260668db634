"""E-mail: one message with a plain-text part and an HTML alternative.

Everything a user wrote is HTML-escaped in the HTML part, and control characters are removed
from the subject: ``email.policy.default`` already refuses CR/LF in headers, but a subject
that raised would lose the notification, so it is cleaned instead.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from proctor.approvals.notify.payload import Summary
from proctor.model.approval import ApprovalEvent

MAX_SUBJECT_CHARS = 200


def mail_message(
    event: ApprovalEvent,
    summary: Summary,
    sender: str,
    recipients: tuple[str, ...],
    subject_prefix: str = "[Proctor]",
) -> EmailMessage:
    message = EmailMessage()
    subject = f"{subject_prefix} {summary.headline}".strip()
    message["Subject"] = _one_line(subject)[:MAX_SUBJECT_CHARS]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(event.at if event.at.tzinfo else event.at.astimezone())
    message["Message-ID"] = make_msgid("proctor", domain=sender.rpartition("@")[2])
    # RFC 3834: stops vacation responders from answering a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(plain_text(summary))
    message.add_alternative(html_text(summary), subtype="html")
    return message


def _cli_hint(request_id: str) -> list[str]:
    return [
        f'  proctor approvals approve {request_id} --reason "..."',
        f'  proctor approvals deny {request_id} --reason "..."',
    ]


def plain_text(summary: Summary) -> str:
    width = max(len(label) for label, _ in summary.facts)
    lines = [summary.title, ""]
    lines += [f"{label + ':':<{width + 1}} {value}" for label, value in summary.facts]
    if summary.statement:
        lines += ["", "Statement:", ""]
        lines += ["    " + line for line in summary.statement.splitlines()]
    lines.append("")
    if summary.asks_for_decision:
        if summary.url:
            lines += ["Approve or deny:", f"  {summary.url}", ""]
        lines += ["Or from a terminal:", *_cli_hint(summary.request_id), ""]
    elif summary.url:
        lines += [f"Details: {summary.url}", ""]
    lines.append(f"Request {summary.request_id}")
    return "\n".join(lines) + "\n"


def html_text(summary: Summary) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding-right:1em">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in summary.facts
    )
    parts = [
        '<!DOCTYPE html><html><body style="font-family:sans-serif">',
        f"<h2>{e(summary.title)}</h2>",
        f"<table>{rows}</table>",
    ]
    if summary.statement:
        parts.append(
            '<pre style="background:#f4f4f4;padding:0.5em;white-space:pre-wrap">'
            f"{e(summary.statement)}</pre>"
        )
    if summary.url:
        label = "Approve or deny" if summary.asks_for_decision else "Details"
        parts.append(f'<p><a href="{e(summary.url, quote=True)}">{label}</a></p>')
    if summary.asks_for_decision:
        hint = "\n".join(line.strip() for line in _cli_hint(summary.request_id))
        parts.append(f"<p>Or from a terminal:</p><pre>{e(hint)}</pre>")
    parts.append(f'<p style="color:#777">Request {e(summary.request_id)}</p></body></html>')
    return "\n".join(parts) + "\n"


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)
