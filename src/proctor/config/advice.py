"""Warnings: a configuration that loads but deserves a second look.

Nothing here stops the gateway; ``proctor config check`` prints these after "OK".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from proctor.config.connections import Protocol
from proctor.config.errors import ConfigProblem
from proctor.config.notify import SlackChannelConfig
from proctor.config.schema import ProctorConfig
from proctor.config.sections import ListenerTlsMode, redact_url_password

_USE_A_REFERENCE = "use a reference such as ${env:NAME} or ${file:PATH} instead"

# (dotted path, message) pairs; config_warnings adds the file name.
_Warning = tuple[str, str]


def config_warnings(config: ProctorConfig, file: str | None = None) -> list[ConfigProblem]:
    """Everything worth a warning, naming ``file`` (default: the config's absolute path)."""
    name = file if file is not None else str(config.config_path)
    checks = (
        _literal_secrets,
        _unreachable_connections,
        _cleartext_listener,
        _slack_buttons_nobody_may_click,
    )
    return [
        ConfigProblem(name, path, message) for check in checks for path, message in check(config)
    ]


def _literal_secrets(config: ProctorConfig) -> Iterator[_Warning]:
    for index, connection in enumerate(config.connections):
        credential = connection.credential
        if credential.password is not None and not credential.uses_reference("password"):
            yield (
                f"connections[{index}].credential.password",
                f"the password is written in the file; {_USE_A_REFERENCE}",
            )
    if config.identity is not None:
        for index, provider in enumerate(config.identity.providers):
            if provider.client_secret is not None and not provider.uses_reference("client_secret"):
                yield (
                    f"identity.providers[{index}].client_secret",
                    f"the client secret is written in the file; {_USE_A_REFERENCE}",
                )
        identity = config.identity
        if identity.refresh_token_key is not None and not identity.uses_reference(
            "refresh_token_key"
        ):
            yield (
                "identity.refresh_token_key",
                f"the key is written in the file; {_USE_A_REFERENCE}",
            )
    url = config.store.written_value("url")
    if isinstance(url, str) and redact_url_password(url) != url:
        yield "store.url", f"the URL contains a literal password; {_USE_A_REFERENCE}"


def _unreachable_connections(config: ProctorConfig) -> Iterator[_Warning]:
    if not config.connections:
        yield "connections", "no connections: the gateway has nothing to front"
    postgres = [c for c in config.connections if c.protocol is Protocol.POSTGRES]
    if postgres and config.listeners.postgres is None:
        yield (
            "listeners.postgres",
            f"absent, so clients cannot reach the {len(postgres)} postgres connection(s); "
            "add 'postgres: {}' under listeners for the defaults",
        )


def _cleartext_listener(config: ProctorConfig) -> Iterator[_Warning]:
    listener = config.listeners.postgres
    if listener is None or listener.tls.mode is not ListenerTlsMode.OFF:
        return
    if _is_loopback(listener.address):
        return
    if listener.allow_cleartext_without_tls:
        message = "off on a non-loopback address: tokens will cross the network in cleartext"
    else:
        message = (
            "off on a non-loopback address: clients on other hosts will be refused, since "
            "tokens are accepted without TLS only from loopback"
        )
    yield "listeners.postgres.tls.mode", message


def _slack_buttons_nobody_may_click(config: ProctorConfig) -> Iterator[_Warning]:
    for index, channel in enumerate(config.approvals.notify):
        if isinstance(channel, SlackChannelConfig) and channel.signing_secret and not channel.users:
            yield (
                f"approvals.notify[{index}].users",
                "absent, so every Approve / Deny click in Slack will be refused; map the "
                "reviewers' Slack member ids to Proctor identities here",
            )


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
