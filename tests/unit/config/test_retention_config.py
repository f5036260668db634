"""``recordings.retention``: a default and rules by connection or tag; the longest wins."""

from __future__ import annotations

import math

import pytest

from proctor.config import load_config
from proctor.config.retention import (
    DAY,
    YEAR,
    RetentionConfig,
    format_retain,
    parse_retain,
)

from .conftest import WriteConfig, problem_at, problems_of


def test_default_is_400_days(write_config: WriteConfig) -> None:
    config = load_config(write_config("version: 1\n"))
    assert config.recordings.retention.retain == 400 * DAY
    assert config.recordings.retention.rules == ()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * DAY), ("7y", 7 * YEAR), ("8w", 56 * DAY), ("36h", 36 * 3600.0)],
)
def test_retention_values(text: str, seconds: float) -> None:
    assert parse_retain(text) == seconds
    assert format_retain(seconds) == text


def test_forever() -> None:
    assert math.isinf(parse_retain("forever"))
    assert format_retain(math.inf) == "forever"


def test_rules_from_the_file(write_config: WriteConfig) -> None:
    text = """\
        version: 1
        recordings:
          retention:
            retain: 400d
            rules:
              - {connections: [shop], retain: 30d}
              - {tags: {env: prod}, retain: 7y}
        """
    retention = load_config(write_config(text)).recordings.retention
    assert retention.retention_for("shop", {"env": "dev"}) == (30 * DAY, retention.rules[0])
    assert retention.retention_for("billing", {"env": "prod"}) == (7 * YEAR, retention.rules[1])
    assert retention.retention_for("other", {}) == (400 * DAY, None)
    # Both match: the longer one wins, whatever the order.
    assert retention.retention_for("shop", {"env": "prod"})[0] == 7 * YEAR
    # Unknown tags: a rule by tag cannot match.
    assert retention.retention_for("billing", None) == (400 * DAY, None)
    assert retention.uses_tags


def test_a_rule_needs_connections_and_tags_together_when_both_are_given() -> None:
    retention = RetentionConfig.model_validate(
        {"rules": [{"connections": ["billing"], "tags": {"env": "prod"}, "retain": "forever"}]}
    )
    assert math.isinf(retention.retention_for("billing", {"env": "prod"})[0])
    assert retention.retention_for("billing", {"env": "dev"})[1] is None
    assert retention.rules[0].describe() == "connections billing and tags env=prod"


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        ("{retain: 30d}", "recordings.retention.rules[0]", "needs connections or tags"),
        ("{connections: [shop], retain: 30}", "recordings.retention.rules[0].retain", "30d"),
        ("{connections: [shop], retain: 101y}", "recordings.retention.rules[0].retain", "100y"),
        ("{connections: [Shop!], retain: 1d}", "recordings.retention.rules[0].connections[0]", ""),
        ("{connections: [shop], retain: 1d, when: x}", "recordings.retention.rules[0].when", ""),
    ],
)
def test_mistakes_are_located(
    write_config: WriteConfig, rule: str, path: str, message: str
) -> None:
    text = f"version: 1\nrecordings:\n  retention:\n    rules:\n      - {rule}\n"
    problem = problem_at(problems_of(write_config(text)), path)
    assert message in problem.message
