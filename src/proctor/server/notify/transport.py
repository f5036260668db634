"""The only part of the notifier that talks to the network: HTTP POSTs (aiohttp) and SMTP
(smtplib). Each attempt ends in an ``AttemptResult``; nothing here raises to the caller.

Details written to logs name the failure (status, error class, host and port), never a URL
(Slack and Teams URLs are credentials), a request or response body (a receiver's error page
may echo what it got), nor an SMTP server's reply text.
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
from pathlib import Path

import aiohttp

from proctor import __version__
from proctor.approvals.notify.channels import HttpDelivery, MailDelivery
from proctor.approvals.notify.retry import AttemptResult, Outcome, http_outcome, parse_retry_after
from proctor.approvals.notify.signing import SIGNATURE_HEADER, sign_webhook

USER_AGENT = f"proctor/{__version__} (approval notifications)"
MAX_SLACK_RESPONSE = 64 * 1024
# Slack Web API errors worth another try; every other {"ok": false} is a configuration error.
_SLACK_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_SLACK_ERROR = re.compile(r"[a-z_]{1,64}")


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    # Verifying, always: a notification carries statement text and must reach only its host.
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class HttpTransport:
    """One aiohttp session for all HTTP channels, made on the delivery loop at first use."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[Path | None, ssl.SSLContext] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # trust_env: honour HTTPS_PROXY / NO_PROXY, like the gateway's other outbound HTTP.
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT}, trust_env=True
            )
        return self._session

    def _tls(self, ca_file: Path | None) -> ssl.SSLContext:
        if ca_file not in self._contexts:
            self._contexts[ca_file] = tls_context(ca_file)
        return self._contexts[ca_file]

    async def post(self, delivery: HttpDelivery, time_limit: float) -> AttemptResult:
        headers = {"Content-Type": delivery.content_type}
        if delivery.signing_secret is not None:
            headers[SIGNATURE_HEADER] = sign_webhook(delivery.signing_secret, delivery.body)
        if delivery.bearer_token is not None:
            headers["Authorization"] = f"Bearer {delivery.bearer_token}"
        try:
            async with self._client().post(
                delivery.url,
                data=delivery.body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=time_limit),
                ssl=self._tls(delivery.ca_file) if delivery.url.startswith("https:") else False,
            ) as response:
                outcome = http_outcome(response.status)
                detail = f"HTTP {response.status}"
                if outcome is Outcome.DELIVERED and delivery.slack_api:
                    return await _slack_api_result(response)
                retry_after = None
                if outcome is Outcome.RETRY:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                return AttemptResult(outcome, detail, retry_after)
        except TimeoutError:
            return AttemptResult(Outcome.RETRY, "timed out")
        except aiohttp.ClientSSLError as exc:
            return AttemptResult(Outcome.RETRY, f"TLS error with {exc.host}:{exc.port}")
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or type(exc.os_error).__name__
            return AttemptResult(
                Outcome.RETRY, f"cannot connect to {exc.host}:{exc.port}: {reason}"
            )
        except aiohttp.InvalidURL:
            return AttemptResult(Outcome.FAIL, "invalid URL")
        except aiohttp.ClientError as exc:
            return AttemptResult(Outcome.RETRY, type(exc).__name__)
        except OSError as exc:
            return AttemptResult(Outcome.RETRY, exc.strerror or type(exc).__name__)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _slack_api_result(response: aiohttp.ClientResponse) -> AttemptResult:
    raw = await response.content.read(MAX_SLACK_RESPONSE)
    try:
        answer = json.loads(raw)
    except ValueError:
        return AttemptResult(Outcome.FAIL, "Slack answered 200 without JSON")
    if isinstance(answer, dict) and answer.get("ok") is True:
        return AttemptResult(Outcome.DELIVERED, "HTTP 200")
    error = answer.get("error") if isinstance(answer, dict) else None
    code = error if isinstance(error, str) and _SLACK_ERROR.fullmatch(error) else "unknown"
    outcome = Outcome.RETRY if code in _SLACK_TRANSIENT else Outcome.FAIL
    return AttemptResult(outcome, f"Slack error {code}")


def send_mail(delivery: MailDelivery, timeout: float) -> AttemptResult:
    """Send one message, blocking (the notifier runs this on a worker thread)."""
    server = delivery.server
    try:
        context = tls_context(server.ca_file)
        client: smtplib.SMTP
        if server.ssl:
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with client:
            client.ehlo()
            if server.starttls:
                # Never falls back to plain text: a server without STARTTLS fails the delivery.
                client.starttls(context=context)
                client.ehlo()
            if server.username is not None and server.password is not None:
                client.login(server.username, server.password)
            refused = client.send_message(delivery.message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        transient = all(400 <= code < 500 for code in codes)
        return AttemptResult(
            Outcome.RETRY if transient else Outcome.FAIL,
            f"all recipients refused (SMTP {', '.join(str(c) for c in sorted(set(codes)))})",
        )
    except smtplib.SMTPNotSupportedError:
        return AttemptResult(Outcome.FAIL, "the SMTP server does not support STARTTLS or AUTH")
    except smtplib.SMTPResponseException as exc:
        transient = 400 <= exc.smtp_code < 500
        return AttemptResult(
            Outcome.RETRY if transient else Outcome.FAIL,
            f"{type(exc).__name__} (SMTP {exc.smtp_code})",
        )
    except (smtplib.SMTPException, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
        return AttemptResult(Outcome.RETRY, reason or type(exc).__name__)
    if refused:
        # Some recipients took it: retrying would send the others a duplicate.
        return AttemptResult(Outcome.DELIVERED, f"{len(refused)} recipient(s) refused")
    return AttemptResult(Outcome.DELIVERED, "sent")
