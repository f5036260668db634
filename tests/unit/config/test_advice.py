"""Warnings for configurations that load but deserve a second look."""

from __future__ import annotations

from proctor.config import config_warnings, load_config

from .conftest import MINIMAL, WriteConfig


def warnings_for(write_config: WriteConfig, text: str, **environ: str) -> list[tuple[str, str]]:
    config = load_config(write_config(text), environ=environ)
    return [(w.path, w.message) for w in config_warnings(config, file="p.yaml")]


WITH_LISTENER = MINIMAL.replace("version: 1\n", "version: 1\nlisteners: {postgres: {}}\n")


def test_clean_configuration_has_no_warnings(write_config: WriteConfig) -> None:
    text = WITH_LISTENER + "      password: ${env:PW}\n"
    assert warnings_for(write_config, text, PW="x") == []


def test_literal_password(write_config: WriteConfig) -> None:
    text = WITH_LISTENER + "      password: hunter2\n"
    assert warnings_for(write_config, text) == [
        (
            "connections[0].credential.password",
            "the password is written in the file; "
            "use a reference such as ${env:NAME} or ${file:PATH} instead",
        )
    ]


def test_literal_password_in_store_url(write_config: WriteConfig) -> None:
    literal = WITH_LISTENER + "store: {url: 'postgresql://u:pw@h/db'}\n"
    referenced = WITH_LISTENER + "store: {url: 'postgresql://u:${env:PW}@h/db'}\n"
    assert [path for path, _ in warnings_for(write_config, literal)] == ["store.url"]
    assert warnings_for(write_config, referenced, PW="x") == []


def test_warning_names_the_file(write_config: WriteConfig) -> None:
    path = write_config(WITH_LISTENER + "      password: hunter2\n")
    (warning,) = config_warnings(load_config(path))
    assert warning.file == str(path)


def test_no_connections(write_config: WriteConfig) -> None:
    assert warnings_for(write_config, "version: 1\n") == [
        ("connections", "no connections: the gateway has nothing to front")
    ]


def test_postgres_connections_without_a_listener(write_config: WriteConfig) -> None:
    (warning,) = warnings_for(write_config, MINIMAL)
    assert warning[0] == "listeners.postgres"
    assert warning[1].startswith("absent, so clients cannot reach the 1 postgres connection(s)")


def test_cleartext_listener_on_the_network(write_config: WriteConfig) -> None:
    base = MINIMAL.replace(
        "version: 1\n",
        "version: 1\nlisteners:\n  postgres: {address: 0.0.0.0, tls: {mode: off}%s}\n",
    )
    refused = warnings_for(write_config, base % "")
    allowed = warnings_for(write_config, base % ", allow_cleartext_without_tls: true")
    assert [path for path, _ in refused] == ["listeners.postgres.tls.mode"]
    assert "will be refused" in refused[0][1]
    assert "cleartext" in allowed[0][1] and "refused" not in allowed[0][1]


def test_cleartext_listener_on_loopback_is_fine(write_config: WriteConfig) -> None:
    text = MINIMAL.replace(
        "version: 1\n", "version: 1\nlisteners:\n  postgres: {address: '::1', tls: {mode: off}}\n"
    )
    assert warnings_for(write_config, text) == []


def test_slack_buttons_that_nobody_may_click(write_config: WriteConfig) -> None:
    slack = (
        "approvals:\n  notify:\n    - {name: s, kind: slack, url: https://hooks.slack.com/x,"
        " signing_secret: '${env:SS}'%s}\n"
    )
    (warning,) = warnings_for(write_config, WITH_LISTENER + slack % "", SS="s" * 32)
    assert warning[0] == "approvals.notify[0].users"
    assert "every Approve / Deny click in Slack will be refused" in warning[1]
    mapped = WITH_LISTENER + slack % ", users: {U024BE7LH: bob}"
    assert warnings_for(write_config, mapped, SS="s" * 32) == []
