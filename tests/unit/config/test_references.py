"""${env:...} and ${file:...} references: resolution, escapes and precise failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.config import load_config

from .conftest import WriteConfig, problem_at, problems_of

PASSWORD_PATH = "connections[0].credential.password"


def with_password(value: str) -> str:
    """A config whose only connection's password is ``value`` (YAML, already quoted)."""
    return f"""\
version: 1
connections:
  - name: shop
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential:
      username: app
      password: {value}
"""


def password_of(path: Path, environ: dict[str, str] | None = None) -> str | None:
    return load_config(path, environ=environ or {}).connections[0].credential.password


def test_env_reference(write_config: WriteConfig) -> None:
    path = write_config(with_password("${env:SHOP_PW}"))
    assert password_of(path, {"SHOP_PW": "s3cret"}) == "s3cret"


def test_os_environ_is_the_default(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROCTOR_TEST_SHOP_PW", "from-os-environ")
    path = write_config(with_password("${env:PROCTOR_TEST_SHOP_PW}"))
    assert load_config(path).connections[0].credential.password == "from-os-environ"


def test_reference_inside_a_string(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nstore: {url: 'postgresql://p:${env:PW}@${env:HOST}/db'}\n")
    config = load_config(path, environ={"PW": "pw", "HOST": "db.internal"})
    assert config.store.url == "postgresql://p:pw@db.internal/db"


def test_reference_in_a_non_string_field_is_validated_after_resolution(
    write_config: WriteConfig,
) -> None:
    path = write_config("version: 1\ngateway: {workers: '${env:W}', drain_timeout: '${env:D}'}\n")
    config = load_config(path, environ={"W": "4", "D": "2m"})
    assert (config.gateway.workers, config.gateway.drain_timeout) == (4, 120.0)


def test_file_reference_relative_to_the_config_directory(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "shop.pw").write_text("from-file\n")
    path = write_config(with_password("${file:secrets/shop.pw}"))
    monkeypatch.chdir("/")
    assert password_of(path) == "from-file"


def test_file_reference_absolute(write_config: WriteConfig, tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere.pw"
    secret.write_text("absolute")
    assert password_of(write_config(with_password(f"${{file:{secret}}}"))) == "absolute"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("pw\n", "pw"),
        ("pw\r\n", "pw"),
        ("pw\n\n", "pw\n"),  # exactly one newline is stripped
        ("pw", "pw"),
        (" pw \n", " pw "),  # other whitespace is part of the secret
    ],
)
def test_file_reference_strips_one_trailing_newline(
    write_config: WriteConfig, tmp_path: Path, content: str, expected: str
) -> None:
    (tmp_path / "pw").write_bytes(content.encode())
    assert password_of(write_config(with_password("${file:pw}"))) == expected


def test_resolved_values_are_not_resolved_again(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("a${env:OTHER}b$${c}\n")
    path = write_config(with_password("${file:pw}"))
    assert password_of(path, {"OTHER": "x"}) == "a${env:OTHER}b$${c}"


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("'$${env:X}'", "${env:X}"),
        ("'pa$$word'", "pa$$word"),
        ("'cost: $5'", "cost: $5"),
        ("'a$${b}c${env:X}'", "a${b}cx"),
    ],
)
def test_dollar_escapes(write_config: WriteConfig, written: str, value: str) -> None:
    assert password_of(write_config(with_password(written)), {"X": "x"}) == value


def test_keys_are_not_resolved(write_config: WriteConfig) -> None:
    path = write_config("version: 1\ngateway: {'${env:K}': 1}\n")
    problem = problem_at(problems_of(path, {"K": "workers"}), 'gateway["${env:K}"]')
    assert problem.message.startswith("unknown key '${env:K}'")


# --- failures ----------------------------------------------------------------------------


def test_missing_env_var(write_config: WriteConfig) -> None:
    (problem,) = problems_of(write_config(with_password("${env:SHOP_DB_PASSWORD}")))
    assert problem.path == PASSWORD_PATH
    assert problem.message == (
        "environment variable SHOP_DB_PASSWORD is not set (from ${env:SHOP_DB_PASSWORD})"
    )
    assert (problem.line, problem.column) == (9, 17)


def test_empty_env_var(write_config: WriteConfig) -> None:
    (problem,) = problems_of(write_config(with_password("${env:PW}")), {"PW": ""})
    assert problem.message == "environment variable PW is set but empty (from ${env:PW})"


def test_invalid_env_var_name(write_config: WriteConfig) -> None:
    (problem,) = problems_of(write_config(with_password("'${env:1-x}'")))
    assert problem.path == PASSWORD_PATH
    assert problem.message.startswith("${env:1-x}: expected an environment variable name")


def test_missing_secret_file(write_config: WriteConfig, tmp_path: Path) -> None:
    (problem,) = problems_of(write_config(with_password("${file:secrets/none.pw}")))
    assert problem.path == PASSWORD_PATH
    assert problem.message == (
        f"secret file {tmp_path / 'secrets' / 'none.pw'} not found (from ${{file:secrets/none.pw}})"
    )


def test_unreadable_secret_file(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    (problem,) = problems_of(write_config(with_password("${file:adir}")))
    assert problem.message == (
        f"cannot read secret file {tmp_path / 'adir'}: Is a directory (from ${{file:adir}})"
    )


def test_empty_secret_file(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("\n")
    (problem,) = problems_of(write_config(with_password("${file:pw}")))
    assert problem.message == f"secret file {tmp_path / 'pw'} is empty (from ${{file:pw}})"


@pytest.mark.parametrize("reference", ["${vault:x}", "${env}", "${}", "${ENV:X}"])
def test_unknown_reference_kind(write_config: WriteConfig, reference: str) -> None:
    (problem,) = problems_of(write_config(with_password(f"'{reference}'")))
    assert problem.path == PASSWORD_PATH
    assert problem.message == (
        f"unknown reference {reference}: expected ${{env:NAME}} or ${{file:PATH}} "
        "(write '$${' for a literal '${')"
    )


def test_unterminated_reference(write_config: WriteConfig) -> None:
    (problem,) = problems_of(write_config(with_password("'${env:PW'")))
    assert problem.path == PASSWORD_PATH
    assert problem.message.startswith("'${' starts a reference but has no closing '}'")


def test_every_failed_reference_is_reported_once(write_config: WriteConfig) -> None:
    path = write_config(
        """\
        version: 1
        gateway: {workers: '${env:W}'}
        store: {url: 'postgresql://u:${env:A}@${env:B}/db'}
        """
    )
    problems = problems_of(path)
    # One problem per failed reference; no follow-on "expected a whole number" for workers.
    assert [(p.path, p.message.split(" (")[0]) for p in problems] == [
        ("gateway.workers", "environment variable W is not set"),
        ("store.url", "environment variable A is not set"),
        ("store.url", "environment variable B is not set"),
    ]


def test_invalid_resolved_value_is_reported_without_the_value(write_config: WriteConfig) -> None:
    path = write_config("version: 1\ngateway: {workers: '${env:W}'}\n")
    (problem,) = problems_of(path, {"W": "lots-of-workers"})
    assert problem.path == "gateway.workers"
    assert problem.message == "expected a whole number, found the value of ${env:W} (not shown)"


def test_missing_file_named_by_a_reference_hides_the_path(write_config: WriteConfig) -> None:
    path = write_config(
        "version: 1\nlisteners:\n  postgres:\n"
        "    tls: {mode: files, cert_file: '${env:CERT}', key_file: '${env:KEY}'}\n"
    )
    problems = problems_of(path, {"CERT": "/hidden/c.pem", "KEY": "/hidden/k.pem"})
    problem = problem_at(problems, "listeners.postgres.tls.cert_file")
    assert problem.message == "no such file (the path comes from ${env:CERT}, not shown)"
    assert "/hidden/" not in "\n".join(map(str, problems))
