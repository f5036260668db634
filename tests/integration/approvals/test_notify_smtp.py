"""E-mail deliveries to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from proctor.approvals.notify import ChannelCounts, RetryPolicy
from proctor.config.notify import EmailChannelConfig
from proctor.demo.pgcluster import free_port
from proctor.server.notify import Notifier, build_notifier
from proctor.server.tls import ensure_self_signed, server_context
from tests.unit.approvals.notify_samples import APPROVE_URL, STATEMENT, event

pytestmark = pytest.mark.integration

PASSWORD = "smtp-pass-0123"
FAST = RetryPolicy(initial_delay=0.01, max_delay=0.05)


@dataclass
class Mailbox:
    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # scripted DATA replies, then 250

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.answers:
            return self.answers.pop(0)
        content = envelope.content
        assert isinstance(content, bytes)
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.password == PASSWORD.encode()
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,  # loopback test server; the gateway side never sends in clear
    )
    controller.start()
    yield mailbox, port
    controller.stop()


def channel(port: int, **extra: object) -> EmailChannelConfig:
    return EmailChannelConfig.model_validate(
        {
            "name": "mail",
            "kind": "email",
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "from": "proctor@example.com",
            "to": ["dba@example.com", "sec@example.com"],
            **extra,
        }
    )


def deliver(*configs: EmailChannelConfig, events: tuple[str, ...] = ("requested",)) -> Notifier:
    notifier = build_notifier(configs, "https://proctor.example", retry=FAST)
    for kind in events:
        notifier.publish(event(kind))
    assert notifier.close(10)
    return notifier


def test_mail_with_the_approve_url(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    notifier = deliver(channel(port, username="proctor", password=PASSWORD))
    assert notifier.stats["mail"] == ChannelCounts(delivered=1)
    assert mailbox.logins == ["proctor"]
    ((envelope, message),) = mailbox.messages
    assert envelope.mail_from == "proctor@example.com"
    assert envelope.rcpt_tos == ["dba@example.com", "sec@example.com"]
    assert message["Subject"] == "[Proctor] Approval requested: alice on shop (apr_7Qx)"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert APPROVE_URL in plain.get_content() and STATEMENT in plain.get_content()
    assert f'href="{APPROVE_URL}"' in html.get_content()
    assert PASSWORD not in message.as_string()


def test_wrong_password_is_not_retried(
    smtp: tuple[Mailbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    mailbox, port = smtp
    notifier = deliver(channel(port, username="proctor", password="wrong-password"))
    assert notifier.stats["mail"] == ChannelCounts(failed=1)
    assert mailbox.messages == []
    assert "SMTPAuthenticationError (SMTP 535)" in caplog.text
    assert "wrong-password" not in caplog.text


def test_temporary_refusal_is_retried(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    mailbox.answers = ["451 try again later"]
    notifier = deliver(channel(port))
    assert notifier.stats["mail"] == ChannelCounts(delivered=1, retried=1)
    assert len(mailbox.messages) == 1


def test_starttls_is_required_when_configured(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    # The test server offers no STARTTLS: the mail must not go out in clear instead.
    notifier = deliver(channel(port, starttls=True))
    assert notifier.stats["mail"] == ChannelCounts(failed=1)
    assert mailbox.messages == []


def test_event_filter(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    deliver(channel(port), events=("requested", "approved", "withdrawn", "break_glass"))
    subjects = sorted(str(m["Subject"]).split(":")[0] for _, m in mailbox.messages)
    assert subjects == ["[Proctor] Approval requested", "[Proctor] BREAK-GLASS self-approval"]


def test_server_down_is_retried_then_counted() -> None:
    notifier = deliver(channel(free_port(), max_attempts=2))
    assert notifier.stats["mail"] == ChannelCounts(failed=1, retried=1)


def test_starttls_with_a_private_ca_and_login(tmp_path: Path) -> None:
    files = ensure_self_signed(tmp_path / "tls")
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=mailbox.authenticate,
        tls_context=server_context(files),
        require_starttls=True,  # and AUTH only after it (aiosmtpd's default)
    )
    controller.start()
    try:
        trusted = channel(
            port, starttls=True, ca_file=str(files.ca_file), username="u", password=PASSWORD
        )
        assert deliver(trusted).stats["mail"] == ChannelCounts(delivered=1)
        assert mailbox.logins == ["u"] and len(mailbox.messages) == 1
        # Without the CA the certificate does not verify: nothing is sent.
        untrusted = channel(port, starttls=True, max_attempts=1, username="u", password=PASSWORD)
        assert deliver(untrusted).stats["mail"] == ChannelCounts(failed=1)
        assert len(mailbox.messages) == 1
    finally:
        controller.stop()
