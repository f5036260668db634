"""Resolved secrets never show in repr, str, fingerprints or error messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from proctor.config import ConfigError, ProctorConfig, load_config

from .conftest import WriteConfig

ENV_SECRET = "env-S3CRET-4c1f"
FILE_SECRET = "file-S3CRET-93aa"
URL_SECRET = "url-S3CRET-77e0"
LITERAL_SECRET = "literal-S3CRET-0b5d"
SECRETS = (ENV_SECRET, FILE_SECRET, URL_SECRET, LITERAL_SECRET)

CONFIG = (
    """\
version: 1
store:
  url: postgresql://proctor:${env:STORE_PW}@db.internal/proctor
connections:
  - name: shop
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app, password: "${env:SHOP_PW}"}
    tags: {env: prod, token: "${env:SHOP_PW}"}
  - name: crm
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app, password: "${file:crm.pw}"}
  - name: legacy
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app, password: %s}
"""
).replace("%s", LITERAL_SECRET)  # not an f-string: the YAML's braces would need doubling

ENVIRON = {"SHOP_PW": ENV_SECRET, "STORE_PW": URL_SECRET}


@pytest.fixture
def config_file(write_config: WriteConfig, tmp_path: Path) -> Path:
    (tmp_path / "crm.pw").write_text(FILE_SECRET + "\n")
    return write_config(CONFIG)


@pytest.fixture
def config(config_file: Path) -> ProctorConfig:
    return load_config(config_file, environ=ENVIRON)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_the_secrets_are_resolved(config: ProctorConfig) -> None:
    # The premise of the other tests: the values are really there.
    passwords = [c.credential.password for c in config.connections]
    assert passwords == [ENV_SECRET, FILE_SECRET, LITERAL_SECRET]
    assert URL_SECRET in config.store.url
    assert config.connections[0].tags["token"] == ENV_SECRET


def test_repr_and_str_show_references_not_secrets(config: ProctorConfig) -> None:
    for text in (repr(config), str(config)):
        assert_no_secret(text)
        assert "password='${env:SHOP_PW}'" in text
        assert "password='${file:crm.pw}'" in text
        assert "password='<hidden>'" in text  # the literal one
        assert "url='postgresql://proctor:${env:STORE_PW}@db.internal/proctor'" in text
        assert "'token': '${env:SHOP_PW}'" in text


def test_nested_reprs_hide_secrets_too(config: ProctorConfig) -> None:
    for connection in config.connections:
        assert_no_secret(repr(connection))
        assert_no_secret(repr(connection.credential))
    assert_no_secret(repr(config.store))
    # proctor.model.Credential hides its password (other model fields are plain dataclasses).
    for model in config.connection_models().values():
        assert_no_secret(repr(model.credential))


def test_literal_password_in_store_url_is_hidden(write_config: WriteConfig) -> None:
    path = write_config(f"version: 1\nstore: {{url: 'postgresql://u:{LITERAL_SECRET}@h/db'}}\n")
    config = load_config(path)
    assert LITERAL_SECRET not in repr(config)
    assert "url='postgresql://u:<hidden>@h/db'" in repr(config)


def test_public_view_and_fingerprint_exclude_secrets(config: ProctorConfig) -> None:
    view = json.dumps(config.public_view())
    assert_no_secret(view)
    assert "${env:SHOP_PW}" in view
    assert re.fullmatch(r"[0-9a-f]{64}", config.fingerprint())


def test_fingerprint_ignores_secret_values(config_file: Path, config: ProctorConfig) -> None:
    rotated = load_config(config_file, environ={"SHOP_PW": "other", "STORE_PW": "other2"})
    assert rotated.fingerprint() == config.fingerprint()
    config_file.write_text(config_file.read_text().replace(LITERAL_SECRET, "another-literal"))
    assert load_config(config_file, environ=ENVIRON).fingerprint() == config.fingerprint()


def test_fingerprint_changes_with_the_configuration(
    config_file: Path, config: ProctorConfig
) -> None:
    assert load_config(config_file, environ=ENVIRON).fingerprint() == config.fingerprint()
    config_file.write_text(config_file.read_text().replace("name: crm", "name: crm2"))
    assert load_config(config_file, environ=ENVIRON).fingerprint() != config.fingerprint()


def test_fingerprint_changes_when_a_reference_changes(
    config_file: Path, config: ProctorConfig
) -> None:
    config_file.write_text(config_file.read_text().replace("${file:crm.pw}", "${env:SHOP_PW}"))
    assert load_config(config_file, environ=ENVIRON).fingerprint() != config.fingerprint()


def test_errors_never_show_resolved_values(config_file: Path, tmp_path: Path) -> None:
    # Every field below gets a resolved secret that fails validation.
    config_file.write_text(
        CONFIG.replace("port: 5432", "port: '${env:SHOP_PW}'")
        .replace("host: 127.0.0.1", "host: '${file:crm.pw}'")
        .replace("name: shop", "name: '${env:SHOP_PW}'")
        .replace("version: 1", "version: '${env:SHOP_PW}'")
        + "  - {name: x, protocol: '${env:SHOP_PW}', host: h, port: 1, credential: {username: u}}\n"
        + "  - {name: '${env:SHOP_PW}', protocol: postgres, host: h, port: 1,"
        " credential: {username: u}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, environ=ENVIRON)
    text = str(caught.value)
    assert len(caught.value.problems) == 8
    assert_no_secret(text)
    assert_no_secret(repr(caught.value))
    assert "connections[0].port: expected a whole number, found the value of ${env:SHOP_PW}" in text
    assert "connections[4].name: duplicate connection name" in text
