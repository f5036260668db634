"""Settings smuggled through the startup packet's options are found, whatever the spelling."""

from __future__ import annotations

import pytest

from proctor.adapters.postgres.startup_options import (
    OptionsError,
    as_set_statement,
    settings_in_options,
)
from proctor.model import Feature
from proctor.sql import analyze_postgres


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("-c role=postgres", [("role", "postgres")]),
        ("-crole=postgres", [("role", "postgres")]),
        ("--role=postgres", [("role", "postgres")]),
        (
            "-c search_path=a,b  -c statement_timeout=5s",
            [("search_path", "a,b"), ("statement_timeout", "5s")],
        ),
        ("-c application_name=my\\ app", [("application_name", "my app")]),
        ("--session-authorization=postgres", [("session_authorization", "postgres")]),
        ("-c my.custom=1", [("my.custom", "1")]),
        ("", []),
    ],
)
def test_settings_are_read_like_postgres_reads_them(
    options: str, expected: list[tuple[str, str]]
) -> None:
    assert settings_in_options(options) == expected


@pytest.mark.parametrize("options", ["-B 100", "-c", "-c noequals", "-c 1bad=x", "plain"])
def test_anything_else_is_refused(options: str) -> None:
    with pytest.raises(OptionsError):
        settings_in_options(options)


def test_equivalent_set_statements_carry_the_same_features() -> None:
    role = analyze_postgres(as_set_statement("role", "postgres"))
    assert Feature.SET_ROLE in role.features
    auth = analyze_postgres(as_set_statement("session_authorization", "x'; drop table t; --"))
    assert Feature.SET_SESSION_AUTHORIZATION in auth.features
    assert auth.statement_count == 1  # the value is a literal, never SQL
