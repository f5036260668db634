"""A valid configuration loads into the documented shape."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from types import MappingProxyType

import pytest

from proctor.config import (
    ListenerTlsMode,
    LogLevel,
    ProctorConfig,
    Protocol,
    load_config,
)
from proctor.model import Connection, Credential, TlsMode, UpstreamTls

from .conftest import MINIMAL, WriteConfig

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "proctor.yaml"

SHOP_PASSWORD = "shop-S3cret-value-7d1"
STORE_PASSWORD = "store-S3cret-value-2b9"

FULL = """\
version: 1
gateway:
  workers: 3
  drain_timeout: 45s
  handshake_timeout: 500ms
  idle_timeout: 1h30m
  max_message_size: 16MiB
  max_connections: 250
  state_dir: var/state
  log_level: debug
listeners:
  postgres:
    address: 0.0.0.0
    port: 6543
    tls:
      mode: files
      cert_file: tls/gw.crt
      key_file: tls/gw.key
    allow_cleartext_without_tls: true
  http:
    address: "::1"
    port: 9000
store:
  url: postgresql://proctor:${env:STORE_PW}@db.internal:5433/proctor
recordings:
  dir: /srv/recordings
connections:
  - name: shop
    protocol: postgres
    host: shop.db.internal
    port: 5432
    database: shop_main
    allow_database_override: false
    tls:
      mode: verify-full
      ca_file: tls/ca.pem
      server_name: db.example.com
    credential:
      username: app
      password: ${env:SHOP_PW}
    tags: {env: prod, team: payments}
  - name: crm.eu-1
    protocol: postgres
    host: 10.0.0.7
    port: "5432"
    credential:
      username: crm
"""


@pytest.fixture
def full_config(write_config: WriteConfig, tmp_path: Path) -> ProctorConfig:
    for name in ("tls/gw.crt", "tls/gw.key", "tls/ca.pem"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("PEM\n")
    path = write_config(FULL)
    return load_config(path, environ={"SHOP_PW": SHOP_PASSWORD, "STORE_PW": STORE_PASSWORD})


def test_gateway_section_is_converted_to_seconds_bytes_and_absolute_paths(
    full_config: ProctorConfig, tmp_path: Path
) -> None:
    gateway = full_config.gateway
    assert gateway.workers == 3
    assert gateway.drain_timeout == 45.0
    assert gateway.handshake_timeout == 0.5
    assert gateway.idle_timeout == 5400.0
    assert gateway.max_message_size == 16 * 1024**2
    assert gateway.max_connections == 250
    assert gateway.state_dir == tmp_path / "var" / "state"
    assert gateway.log_level is LogLevel.DEBUG


def test_listeners(full_config: ProctorConfig, tmp_path: Path) -> None:
    postgres = full_config.listeners.postgres
    assert postgres is not None
    assert (postgres.address, postgres.port) == ("0.0.0.0", 6543)
    assert postgres.tls.mode is ListenerTlsMode.FILES
    assert postgres.tls.cert_file == tmp_path / "tls" / "gw.crt"
    assert postgres.tls.key_file == tmp_path / "tls" / "gw.key"
    assert postgres.allow_cleartext_without_tls is True
    http = full_config.listeners.http
    assert (http.address, http.port) == ("::1", 9000)


def test_store_and_recordings(full_config: ProctorConfig) -> None:
    assert full_config.store.url == (
        f"postgresql://proctor:{STORE_PASSWORD}@db.internal:5433/proctor"
    )
    assert full_config.recordings.dir == Path("/srv/recordings")


def test_config_path_is_absolute(full_config: ProctorConfig, tmp_path: Path) -> None:
    assert full_config.config_path == tmp_path / "proctor.yaml"
    assert full_config.config_path.is_absolute()


def test_connections(full_config: ProctorConfig, tmp_path: Path) -> None:
    shop, crm = full_config.connections
    assert shop.name == "shop"
    assert shop.protocol is Protocol.POSTGRES
    assert (shop.host, shop.port, shop.database) == ("shop.db.internal", 5432, "shop_main")
    assert shop.allow_database_override is False
    assert shop.tls.mode is TlsMode.VERIFY_FULL
    assert shop.tls.ca_file == str(tmp_path / "tls" / "ca.pem")
    assert shop.tls.server_name == "db.example.com"
    assert shop.credential.username == "app"
    assert shop.credential.password == SHOP_PASSWORD
    assert shop.tags == {"env": "prod", "team": "payments"}
    # Defaults, and a port given as a string (as an ${env:...} reference would give it).
    assert crm.port == 5432
    assert crm.database is None
    assert crm.database_name == "crm.eu-1"
    assert crm.tls.mode is TlsMode.PREFER
    assert crm.credential.password is None
    assert crm.tags == {}


def test_connection_models(full_config: ProctorConfig, tmp_path: Path) -> None:
    models = full_config.connection_models()
    assert list(models) == ["shop", "crm.eu-1"]
    assert models["shop"] == Connection(
        name="shop",
        protocol="postgres",
        host="shop.db.internal",
        port=5432,
        database="shop_main",
        credential=Credential("app", SHOP_PASSWORD),
        tls=UpstreamTls(TlsMode.VERIFY_FULL, str(tmp_path / "tls" / "ca.pem"), "db.example.com"),
        tags={"env": "prod", "team": "payments"},
        allow_database_override=False,
    )
    crm = models["crm.eu-1"]
    assert crm.database == "crm.eu-1"  # defaults to the connection name
    assert crm.credential == Credential("crm", None)
    assert isinstance(crm.tags, MappingProxyType)  # the model is frozen all the way down


def test_system_ca_maps_to_no_ca_file_in_the_model(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "    tls: {mode: verify-ca, ca_file: system}\n")
    config = load_config(path)
    assert config.connections[0].tls.ca_file == "system"
    assert config.connection_models()["shop"].tls == UpstreamTls(TlsMode.VERIFY_CA, None, None)


def test_defaults(write_config: WriteConfig, tmp_path: Path) -> None:
    config = load_config(write_config("version: 1\n"))
    assert config.gateway.workers == 1
    assert config.gateway.drain_timeout == 30.0
    assert config.gateway.handshake_timeout == 10.0
    assert config.gateway.idle_timeout == 0.0
    assert config.gateway.max_message_size == 64 * 1024**2
    assert config.gateway.max_connections == 1000
    assert config.gateway.state_dir == tmp_path / ".proctor"
    assert config.gateway.log_level is LogLevel.INFO
    assert config.listeners.postgres is None
    assert (config.listeners.http.address, config.listeners.http.port) == ("127.0.0.1", 18080)
    assert config.store.url == f"sqlite:///{tmp_path}/state.db"
    assert config.store.url.startswith("sqlite:////")
    assert config.recordings.dir == tmp_path / "recordings"
    assert config.connections == ()


def test_empty_sections_take_their_defaults(write_config: WriteConfig) -> None:
    config = load_config(
        write_config(
            """\
            version: 1
            gateway:
            listeners:
              postgres: {}
            connections:
            """
        )
    )
    assert config.gateway.workers == 1
    postgres = config.listeners.postgres
    assert postgres is not None
    assert (postgres.address, postgres.port, postgres.tls.mode) == (
        "127.0.0.1",
        15432,
        ListenerTlsMode.AUTO,
    )
    assert config.connections == ()


def test_relative_paths_follow_the_config_file_not_the_cwd(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        "version: 1\nstore: {url: 'sqlite:///data/s.db?mode=rwc'}\n", name="etc/proctor.yaml"
    )
    monkeypatch.chdir("/")
    config = load_config(path)
    assert config.store.url == f"sqlite:///{tmp_path}/etc/data/s.db?mode=rwc"
    assert config.recordings.dir == tmp_path / "etc" / "recordings"


def test_relative_config_path_is_made_absolute(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config("version: 1\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("proctor.yaml")
    assert config.config_path == tmp_path / "proctor.yaml"
    assert config.gateway.state_dir == tmp_path / ".proctor"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////var/lib/p.db", "sqlite:////var/lib/p.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_store_urls_kept_as_written(write_config: WriteConfig, url: str, expected: str) -> None:
    config = load_config(write_config(f"version: 1\nstore: {{url: '{url}'}}\n"))
    assert config.store.url == expected


def test_workers_auto_uses_the_available_cpus(write_config: WriteConfig) -> None:
    config = load_config(write_config("version: 1\ngateway: {workers: auto}\n"))
    assert config.gateway.workers >= 1


def test_yaml_merge_keys_work(write_config: WriteConfig) -> None:
    config = load_config(
        write_config(
            """\
            version: 1
            connections:
              - &base
                name: a
                protocol: postgres
                host: h
                port: 5432
                credential: {username: u}
              - <<: *base
                name: b
            """
        )
    )
    assert [c.name for c in config.connections] == ["a", "b"]


def test_the_model_is_frozen(full_config: ProctorConfig) -> None:
    with pytest.raises(ValueError, match="frozen"):
        full_config.gateway.workers = 9


def test_pickling_keeps_values_path_and_secrecy(full_config: ProctorConfig) -> None:
    # Worker processes may receive the configuration pickled.
    copy = pickle.loads(pickle.dumps(full_config))
    assert copy == full_config
    assert copy.config_path == full_config.config_path
    assert copy.fingerprint() == full_config.fingerprint()
    assert SHOP_PASSWORD not in repr(copy)


def test_example_file_stays_valid(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "proctor.yaml")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "analytics.password").write_text("analytics-pw\n")
    environ = {"SHOP_DB_PASSWORD": "shop-pw", "PROCTOR_MASK_KEY": "a-key-of-16-bytes-or-more"}
    config = load_config(tmp_path / "proctor.yaml", environ=environ)
    passwords = {c.name: c.credential.password for c in config.connections}
    assert passwords == {"shop": "shop-pw", "analytics": "analytics-pw"}
    assert config.masking.profiles["pii"]["hash_key"] == environ["PROCTOR_MASK_KEY"]
    # The profiles it declares are valid ones.
    from proctor.pipeline.masking import load_profiles
    from proctor.policy import Policy

    assert "pii" in load_profiles(config, Policy.builtin())


def test_example_file_holds_no_literal_password() -> None:
    for line in EXAMPLE.read_text().splitlines():
        if "password" in line and ":" in line and not line.lstrip().startswith("#"):
            assert "${" in line, line
