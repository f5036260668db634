"""Every kind of mistake is reported with file, line, key path and expected-vs-found."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.config import ConfigError, ConfigProblem, load_config

from .conftest import MINIMAL, WriteConfig, problem_at, problems_of


def connection(extra: str = "", **overrides: str) -> str:
    """One connection entry (YAML list item) with ``overrides`` replacing its fields."""
    fields = {
        "name": "shop",
        "protocol": "postgres",
        "host": "127.0.0.1",
        "port": "5432",
        "credential": "{username: app}",
    }
    fields.update(overrides)
    lines = [f"{key}: {value}" for key, value in fields.items()] + extra.splitlines()
    return "  - " + "\n    ".join(lines) + "\n"


def config_with(*connections: str) -> str:
    return "version: 1\nconnections:\n" + "".join(connections)


# --- the file itself ---------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [ConfigProblem(str(path), "", "file not found")]
    assert str(caught.value) == f"{path}: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path)
    assert "is a directory" in problem.message


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_empty_file(write_config: WriteConfig, text: str) -> None:
    (problem,) = problems_of(write_config(text))
    assert problem.path == ""
    assert problem.message.startswith("the file is empty")


@pytest.mark.parametrize(
    ("text", "found"), [("- a\n- b\n", "a list"), ("just text\n", "'just text'"), ("7\n", "7")]
)
def test_top_level_must_be_a_mapping(write_config: WriteConfig, text: str, found: str) -> None:
    (problem,) = problems_of(write_config(text))
    assert problem.message == (
        f"expected a mapping of keys starting with 'version: 1', found {found}"
    )
    assert (problem.line, problem.column) == (1, 1)


def test_not_utf8(write_config: WriteConfig) -> None:
    path = write_config("")
    path.write_bytes(b"version: 1\nx: \xff\n")
    (problem,) = problems_of(path)
    assert problem.message == "not valid UTF-8 (byte 14 cannot be decoded)"


# --- YAML --------------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column(write_config: WriteConfig) -> None:
    path = write_config("version: 1\ngateway:\n  workers: 2\n   log_level: info\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (4, 13)
    assert problem.message.startswith("invalid YAML: mapping values are not allowed here")
    assert str(caught.value).startswith(f"{path}:4:13: invalid YAML: ")


def test_yaml_syntax_error_does_not_quote_the_source_line(write_config: WriteConfig) -> None:
    path = write_config("version: 1\npassword: [literal-pw-123\n")
    (problem,) = problems_of(path)
    assert problem.line is not None
    assert "literal-pw-123" not in str(problem)


def test_duplicate_yaml_key(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(port="5432", extra="port: 6543")))
    problem = problem_at(problems_of(path), "connections[0].port")
    assert problem.message == (
        "duplicate key 'port'; it is already set on line 6 "
        "(YAML would silently keep only the last one)"
    )
    assert (problem.line, problem.column) == (8, 5)


def test_duplicate_top_level_key_is_reported_with_other_problems(write_config: WriteConfig) -> None:
    path = write_config("version: 1\ngateway: {workers: 0}\nversion: 1\n")
    problems = problems_of(path)
    assert [(p.path, p.line) for p in problems] == [("gateway.workers", 2), ("version", 3)]


def test_python_tags_are_refused(write_config: WriteConfig) -> None:
    path = write_config("version: !!python/object/apply:os.system ['true']\n")
    (problem,) = problems_of(path)
    assert "could not determine a constructor" in problem.message
    assert problem.line == 1


def test_alias_bomb_is_refused(write_config: WriteConfig) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    (problem,) = problems_of(write_config("\n".join(lines) + "\n"))
    assert "too large or too deeply nested" in problem.message


def test_multiple_documents_are_refused(write_config: WriteConfig) -> None:
    (problem,) = problems_of(write_config("version: 1\n---\nversion: 1\n"))
    assert "expected a single document" in problem.message


# --- schema ------------------------------------------------------------------------------


def test_version_is_required(write_config: WriteConfig) -> None:
    (problem,) = problems_of(write_config("gateway: {}\n"))
    assert (problem.path, problem.message) == ("version", "required key is missing")


@pytest.mark.parametrize(("value", "found"), [("2", "2"), ("true", "true"), ("'one'", "'one'")])
def test_version_must_be_1(write_config: WriteConfig, value: str, found: str) -> None:
    problem = problem_at(problems_of(write_config(f"version: {value}\n")), "version")
    assert problem.message.startswith("expected 1")
    assert problem.message.endswith(f"found {found}")
    assert (problem.line, problem.column) == (1, 10)


def test_unknown_key_with_suggestion(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(extra="prot: 1")))
    problem = problem_at(problems_of(path), "connections[0].prot")
    assert problem.message == "unknown key 'prot'; did you mean 'port'?"
    assert (problem.line, problem.column) == (8, 5)  # the key, not its value


def test_unknown_top_level_key_with_suggestion(write_config: WriteConfig) -> None:
    problem = problem_at(problems_of(write_config("version: 1\ngatway: {}\n")), "gatway")
    assert problem.message == "unknown key 'gatway'; did you mean 'gateway'?"
    assert (problem.line, problem.column) == (2, 1)


def test_unknown_key_without_close_match_lists_the_keys(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nstore: {zzz: 1}\n")
    problem = problem_at(problems_of(path), "store.zzz")
    assert problem.message == "unknown key 'zzz'; expected one of: url"


def test_unknown_nested_key(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nlisteners:\n  postgres:\n    tls: {mood: auto}\n")
    problem = problem_at(problems_of(path), "listeners.postgres.tls.mood")
    assert problem.message == "unknown key 'mood'; did you mean 'mode'?"


@pytest.mark.parametrize(
    ("yaml_value", "message"),
    [
        ("'abc'", "expected a whole number, found 'abc'"),
        ("true", "expected a whole number, found true"),
        ("on", "expected a whole number, found 'on'"),
        ("1.5", "expected a whole number, found 1.5"),
        ("[1]", "expected a whole number, found a list"),
    ],
)
def test_wrong_type(write_config: WriteConfig, yaml_value: str, message: str) -> None:
    path = write_config(config_with(connection(port=yaml_value)))
    problem = problem_at(problems_of(path), "connections[0].port")
    assert problem.message == message
    assert (problem.line, problem.column) == (6, 11)


@pytest.mark.parametrize("port", ["0", "70000", "-1"])
def test_port_range(write_config: WriteConfig, port: str) -> None:
    path = write_config(config_with(connection(port=port)))
    problem = problem_at(problems_of(path), "connections[0].port")
    assert problem.message.startswith("expected a value ")
    assert problem.message.endswith(f"found {port}")


def test_listener_port_range(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nlisteners:\n  http: {port: 65536}\n")
    problem = problem_at(problems_of(path), "listeners.http.port")
    assert problem.message == "expected a value less than or equal to 65535, found 65536"


def test_missing_required_key_points_at_its_parent(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nconnections:\n  - name: shop\n    protocol: postgres\n")
    problems = problems_of(path)
    for key in ("host", "port", "credential"):
        problem = problem_at(problems, f"connections[0].{key}")
        assert problem.message == "required key is missing"
        assert problem.line == 3


def test_duplicate_connection_name(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(), connection(host="10.0.0.1")))
    problem = problem_at(problems_of(path), "connections[1].name")
    assert problem.message == "duplicate connection name: connections[0] has the same name"
    assert problem.line == 8


def test_duplicate_name_reported_alongside_other_errors(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(port="x"), connection()))
    problems = problems_of(path)
    assert [p.path for p in problems] == ["connections[0].port", "connections[1].name"]


@pytest.mark.parametrize("name", ["Shop", "a/b", "-x", "", "'x y'", "a" * 64])
def test_connection_name_syntax(write_config: WriteConfig, name: str) -> None:
    path = write_config(config_with(connection(name=name or "''")))
    problem = problem_at(problems_of(path), "connections[0].name")
    assert problem.message.startswith("expected a name of 1-63 lowercase letters")


def test_unknown_protocol_lists_the_known_ones(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(protocol="mysql")))
    problem = problem_at(problems_of(path), "connections[0].protocol")
    assert problem.message == "expected 'postgres', found 'mysql'"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("drain_timeout", "30x", "expected a duration such as 500ms, 30s, 5m, 8h, 2d, 1h30m"),
        ("idle_timeout", "-5", "expected a duration such as 500ms, 30s, 5m, 8h, 2d, 1h30m"),
        ("handshake_timeout", "0s", "expected a value greater than 0"),
        ("max_message_size", "64XB", "expected a size such as 64MiB, 10kB, 1GiB"),
        ("max_message_size", "10B", "expected a size from 1KiB to 1GiB"),
        ("max_message_size", "2GiB", "expected a size from 1KiB to 1GiB"),
        ("workers", "0", "expected a value greater than or equal to 1"),
        ("workers", "many", "expected a whole number"),
        ("max_connections", "0", "expected a value greater than or equal to 1"),
        ("log_level", "verbose", "expected 'debug', 'info', 'warning' or 'error'"),
    ],
)
def test_gateway_values(write_config: WriteConfig, key: str, value: str, message: str) -> None:
    path = write_config(f"version: 1\ngateway:\n  {key}: {value}\n")
    problem = problem_at(problems_of(path), f"gateway.{key}")
    assert problem.message.startswith(message)
    assert "found" in problem.message
    assert (problem.line, problem.column) == (3, len(key) + 5)


def test_string_expected_gets_a_quoting_hint(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(extra="tags: {env: false, version: 2}")))
    problems = problems_of(path)
    assert problem_at(problems, "connections[0].tags.env").message == (
        "expected a string, found false "
        "(YAML reads unquoted true and false as booleans: quote the value)"
    )
    assert problem_at(problems, "connections[0].tags.version").message == (
        "expected a string, found 2 (quote the value to make it a string)"
    )


def test_yes_no_on_off_are_strings_not_booleans(write_config: WriteConfig) -> None:
    # YAML 1.1 would read these as booleans: "mode: off" would be false, "country: no" too.
    text = (
        "version: 1\nlisteners:\n  postgres:\n"
        "    tls: {mode: off}\n    allow_cleartext_without_tls: yes\n"
    )
    text += "connections:\n" + connection(extra="tags: {country: no, beta: on}")
    config = load_config(write_config(text))
    postgres = config.listeners.postgres
    assert postgres is not None
    assert postgres.tls.mode == "off"
    assert postgres.allow_cleartext_without_tls is True  # boolean fields still accept yes/no
    assert config.connections[0].tags == {"country": "no", "beta": "on"}


def test_bad_tag_name(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(extra="tags: {'bad key': x}")))
    problem = problem_at(problems_of(path), 'connections[0].tags["bad key"]')
    assert problem.message.startswith("invalid key: expected a tag name")
    assert problem.message.endswith("found 'bad key'")


def test_section_of_wrong_type(write_config: WriteConfig) -> None:
    path = write_config("version: 1\ngateway: [1]\nconnections: {}\n")
    problems = problems_of(path)
    assert problem_at(problems, "gateway").message == "expected a mapping of keys, found a list"
    assert problem_at(problems, "connections").message == "expected a list, found a mapping"


def test_bad_host(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(host="'bad host'")))
    problem = problem_at(problems_of(path), "connections[0].host")
    assert problem.message == "expected a host name or an IP address, found 'bad host'"


def test_bad_store_url_hides_the_value(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nstore: {url: 'mysql://root:pw-in-url@h/db'}\n")
    problem = problem_at(problems_of(path), "store.url")
    assert problem.message == (
        "expected a URL such as sqlite:///state.db or postgresql://user@host/db, "
        "found a string (not shown)"
    )


def test_literal_password_of_wrong_type_is_not_shown(write_config: WriteConfig) -> None:
    path = write_config(config_with(connection(credential="{username: u, password: 913375}")))
    problem = problem_at(problems_of(path), "connections[0].credential.password")
    assert problem.message == "expected a string, found a number (not shown)"


def test_empty_path_is_an_error(write_config: WriteConfig) -> None:
    problem = problem_at(
        problems_of(write_config("version: 1\nrecordings: {dir: ''}\n")), "recordings.dir"
    )
    assert problem.message.startswith("expected a file system path, not an empty string")


# --- TLS rules ---------------------------------------------------------------------------


def test_listener_tls_files_requires_cert_and_key(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nlisteners:\n  postgres:\n    tls: {mode: files}\n")
    problems = problems_of(path)
    for key in ("cert_file", "key_file"):
        problem = problem_at(problems, f"listeners.postgres.tls.{key}")
        assert problem.message == "required when tls.mode is files"
        assert problem.line == 4


def test_listener_tls_files_must_exist(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("KEY\n")
    path = write_config(
        "version: 1\nlisteners:\n  postgres:\n"
        "    tls: {mode: files, cert_file: cert.pem, key_file: key.pem}\n"
    )
    (problem,) = problems_of(path)
    assert problem.path == "listeners.postgres.tls.cert_file"
    assert problem.message == f"no such file: {tmp_path / 'cert.pem'}"


def test_listener_cert_without_files_mode_is_an_error(write_config: WriteConfig) -> None:
    path = write_config(
        "version: 1\nlisteners:\n  postgres:\n    tls: {mode: auto, cert_file: c.pem}\n"
    )
    problem = problem_at(problems_of(path), "listeners.postgres.tls.cert_file")
    assert problem.message == "only used when tls.mode is files"


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full"])
def test_verifying_upstream_tls_needs_a_ca(write_config: WriteConfig, mode: str) -> None:
    path = write_config(MINIMAL + f"    tls: {{mode: {mode}}}\n")
    problem = problem_at(problems_of(path), "connections[0].tls.ca_file")
    assert problem.message.startswith("required when tls.mode is verify-ca or verify-full")


def test_ca_file_without_verification_is_an_error(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "    tls: {mode: require, ca_file: system}\n")
    problem = problem_at(problems_of(path), "connections[0].tls.ca_file")
    assert problem.message == "only used when tls.mode is verify-ca or verify-full"


def test_ca_file_must_exist(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config(MINIMAL + "    tls: {mode: verify-full, ca_file: ca.pem}\n")
    problem = problem_at(problems_of(path), "connections[0].tls.ca_file")
    assert problem.message == f"no such file: {tmp_path / 'ca.pem'}"


def test_server_name_with_tls_disabled(write_config: WriteConfig) -> None:
    path = write_config(MINIMAL + "    tls: {mode: disable, server_name: db.example.com}\n")
    problem = problem_at(problems_of(path), "connections[0].tls.server_name")
    assert problem.message == "has no effect when tls.mode is disable"


# --- reporting ---------------------------------------------------------------------------


def test_all_problems_are_collected_in_file_order(write_config: WriteConfig) -> None:
    path = write_config(
        """\
        version: 2
        gateway:
          workers: 0
          drain_timeout: soon
        listeners:
          http: {port: 0}
        connections:
          - name: Shop
            protocol: postgres
            host: h
            port: 1
            credential: {username: u}
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert [(p.path, p.line) for p in problems] == [
        ("version", 1),
        ("gateway.workers", 3),
        ("gateway.drain_timeout", 4),
        ("listeners.http.port", 6),
        ("connections[0].name", 8),
    ]
    lines = str(caught.value).splitlines()
    assert len(lines) == 5
    assert lines[1] == (
        f"{path}:3:12: gateway.workers: expected a value greater than or equal to 1, found 0"
    )


def test_error_is_not_chained_to_pydantic(write_config: WriteConfig) -> None:
    # A chained ValidationError would print input values in a traceback.
    with pytest.raises(ConfigError) as caught:
        load_config(write_config("version: 2\n"))
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_problem_rendering() -> None:
    assert str(ConfigProblem("p.yaml", "a.b", "m", 3, 7)) == "p.yaml:3:7: a.b: m"
    assert str(ConfigProblem("p.yaml", "a.b", "m")) == "p.yaml: a.b: m"
    assert str(ConfigProblem("p.yaml", "", "m")) == "p.yaml: m"
