"""Loading policy files: every kind of problem, located and explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.config import ConfigError, ConfigProblem
from proctor.policy import Policy, PolicyError

from .helpers import write_policy

HEAD = "version: 1\ndefault: allow\n"


def problems(tmp_path: Path, text: str) -> list[ConfigProblem]:
    path = write_policy(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        Policy.load(path)
    return caught.value.problems


def rendered(tmp_path: Path, text: str) -> list[str]:
    """Problems as printed, with the directory removed."""
    return [str(p).replace(f"{tmp_path}/", "") for p in problems(tmp_path, text)]


def one(tmp_path: Path, text: str) -> str:
    (problem,) = rendered(tmp_path, text)
    return problem


def rule_text(body: str, name: str = "r") -> str:
    indented = "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
    return f"{HEAD}rules:\n  - name: {name}\n{indented}"


class TestFile:
    def test_valid(self, tmp_path: Path) -> None:
        path = write_policy(tmp_path, rule_text("action: deny\nmessage: no\nmatch: {}"))
        policy = Policy.load(path)
        assert policy.source == str(path)
        assert [r.name for r in policy.rules] == ["r"]

    def test_policy_error_is_a_config_error(self) -> None:
        assert issubclass(PolicyError, ConfigError)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(PolicyError) as caught:
            Policy.load(tmp_path / "none.yaml")
        assert str(caught.value) == f"{tmp_path / 'none.yaml'}: file not found"

    def test_directory(self, tmp_path: Path) -> None:
        with pytest.raises(PolicyError, match="is a directory"):
            Policy.load(tmp_path)

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.yaml"
        path.write_bytes(b"version: 1\ndefault: \xff\n")
        with pytest.raises(PolicyError, match="not valid UTF-8"):
            Policy.load(path)

    def test_empty(self, tmp_path: Path) -> None:
        assert one(tmp_path, "# nothing\n") == (
            "policy.yaml: the file is empty; expected a mapping of keys starting with 'version: 1'"
        )

    def test_not_a_mapping(self, tmp_path: Path) -> None:
        assert one(tmp_path, "- a\n- b\n") == (
            "policy.yaml:1:1: expected a mapping of keys starting with 'version: 1', found a list"
        )

    def test_yaml_syntax_error(self, tmp_path: Path) -> None:
        assert one(tmp_path, "version: 1\ndefault: [allow\n").startswith(
            "policy.yaml:3:1: invalid YAML"
        )

    def test_unsafe_tags_are_refused(self, tmp_path: Path) -> None:
        assert "invalid YAML" in one(tmp_path, "version: !!python/object:os.system 1\n")

    def test_duplicate_keys(self, tmp_path: Path) -> None:
        text = HEAD + "default: deny\n"
        assert one(tmp_path, text) == (
            "policy.yaml:3:1: default: duplicate key 'default'; it is already set on line 2 "
            "(YAML would silently keep only the last one)"
        )

    def test_from_dict_problems_have_no_lines(self) -> None:
        with pytest.raises(PolicyError) as caught:
            Policy.from_dict({"version": 1, "default": "maybe"}, source="inline")
        assert str(caught.value) == (
            "inline: default: expected a default action: allow, deny, found 'maybe'"
        )


class TestTopLevel:
    def test_version(self, tmp_path: Path) -> None:
        assert one(tmp_path, "version: 2\ndefault: allow\n") == (
            "policy.yaml:1:10: version: expected 1 (the only policy version this Proctor "
            "reads), found 2"
        )

    def test_required_keys(self, tmp_path: Path) -> None:
        assert rendered(tmp_path, "rules: []\n") == [
            "policy.yaml:1:1: default: required key is missing",
            "policy.yaml:1:1: version: required key is missing",
        ]

    def test_default_with_suggestion(self, tmp_path: Path) -> None:
        assert one(tmp_path, "version: 1\ndefault: alow\n") == (
            "policy.yaml:2:10: default: expected a default action: allow, deny, found 'alow'; "
            "did you mean 'allow'?"
        )

    def test_review_is_not_a_default(self, tmp_path: Path) -> None:
        assert "expected a default action: allow, deny, found 'review'" in one(
            tmp_path, "version: 1\ndefault: review\n"
        )

    def test_unknown_key_with_suggestion(self, tmp_path: Path) -> None:
        assert one(tmp_path, HEAD + "rule: []\n") == (
            "policy.yaml:3:1: rule: unknown key 'rule'; did you mean 'rules'?"
        )

    def test_unknown_key_lists_the_keys(self, tmp_path: Path) -> None:
        assert one(tmp_path, HEAD + "zzz: 1\n") == (
            "policy.yaml:3:1: zzz: unknown key 'zzz'; expected one of: version, default, "
            "connection_defaults, masking, rules, tests"
        )

    def test_rules_must_be_a_list(self, tmp_path: Path) -> None:
        assert one(tmp_path, HEAD + "rules: {a: 1}\n") == (
            "policy.yaml:3:8: rules: expected a list, found a mapping"
        )

    def test_connection_default_needs_a_selector(self, tmp_path: Path) -> None:
        text = HEAD + "connection_defaults:\n  - default: deny\n"
        assert one(tmp_path, text) == (
            "policy.yaml:4:5: connection_defaults[0]: expected 'connections', 'tags' or both, "
            "choosing where this default applies"
        )


class TestRules:
    def test_missing_keys(self, tmp_path: Path) -> None:
        text = HEAD + "rules:\n  - description: nothing\n"
        assert rendered(tmp_path, text) == [
            "policy.yaml:4:5: rules[0].action: required key is missing",
            "policy.yaml:4:5: rules[0].match: required key is missing",
            "policy.yaml:4:5: rules[0].name: required key is missing",
        ]

    def test_action_with_suggestion(self, tmp_path: Path) -> None:
        assert one(tmp_path, rule_text("action: denny\nmessage: x\nmatch: {}")) == (
            "policy.yaml:5:13: rules[0].action: expected an action: allow, deny, review, "
            "alert, found 'denny'; did you mean 'deny'?"
        )

    @pytest.mark.parametrize("action", ["deny", "review"])
    def test_message_required_for_deny_and_review(self, tmp_path: Path, action: str) -> None:
        assert one(tmp_path, rule_text(f"action: {action}\nmatch: {{}}")) == (
            f"policy.yaml:4:5: rules[0].message: required for action {action}: "
            "the message the user sees"
        )

    def test_message_on_allow(self, tmp_path: Path) -> None:
        assert one(tmp_path, rule_text("action: allow\nmessage: hi\nmatch: {}")) == (
            "policy.yaml:6:14: rules[0].message: has no effect with action allow (nobody sees it)"
        )

    def test_review_settings_only_for_review(self, tmp_path: Path) -> None:
        text = rule_text("action: deny\nmessage: x\nreview: {workflow: w}\nmatch: {}")
        assert one(tmp_path, text) == (
            "policy.yaml:7:13: rules[0].review: only used with action review"
        )

    def test_workflow_name(self, tmp_path: Path) -> None:
        text = rule_text("action: review\nmessage: x\nreview: {workflow: 'a b'}\nmatch: {}")
        assert "rules[0].review.workflow: expected a workflow name" in one(tmp_path, text)

    def test_duplicate_names(self, tmp_path: Path) -> None:
        text = rule_text("action: deny\nmessage: x\nmatch: {}") + (
            "  - name: r\n    action: allow\n    match: {}\n"
        )
        assert one(tmp_path, text) == (
            "policy.yaml:8:11: rules[1].name: duplicate rule name 'r': rules[0] has the same name"
        )

    @pytest.mark.parametrize("name", ["default", "fail-closed"])
    def test_reserved_names(self, tmp_path: Path, name: str) -> None:
        text = rule_text("action: allow\nmatch: {}", name=name)
        assert one(tmp_path, text) == (
            "policy.yaml:4:11: rules[0].name: expected a rule name other than 'default' and "
            f"'fail-closed', found '{name}'"
        )

    def test_invalid_names(self, tmp_path: Path) -> None:
        assert "rules[0].name: expected a rule name of 1-100 letters" in one(
            tmp_path, rule_text("action: allow\nmatch: {}", name="'no spaces'")
        )

    def test_unknown_condition_with_suggestion(self, tmp_path: Path) -> None:
        assert one(tmp_path, rule_text("action: allow\nmatch: {grups: [a]}")) == (
            "policy.yaml:6:13: rules[0].match.grups: unknown key 'grups'; did you mean 'groups'?"
        )

    def test_empty_unless_block(self, tmp_path: Path) -> None:
        assert one(tmp_path, rule_text("action: allow\nmatch: {}\nunless: {}")) == (
            "policy.yaml:7:13: rules[0].unless: expected conditions in every 'unless' block"
        )

    def test_unless_single_block_is_located_as_written(self, tmp_path: Path) -> None:
        assert one(tmp_path, rule_text("action: allow\nmatch: {}\nunless: {grups: a}")) == (
            "policy.yaml:7:14: rules[0].unless.grups: unknown key 'grups'; did you mean 'groups'?"
        )

    def test_unless_list_of_blocks(self, tmp_path: Path) -> None:
        text = rule_text("action: allow\nmatch: {}\nunless:\n  - groups: a\n  - grups: b")
        assert one(tmp_path, text) == (
            "policy.yaml:9:9: rules[0].unless[1].grups: unknown key 'grups'; did you mean 'groups'?"
        )


def condition_problem(tmp_path: Path, condition: str) -> str:
    return one(tmp_path, rule_text(f"action: allow\nmatch:\n  {condition}"))


class TestConditions:
    def test_empty_list(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "groups: []") == (
            "policy.yaml:7:15: rules[0].match.groups: expected at least one item (an empty "
            "list never matches), found an empty list"
        )

    def test_empty_mapping(self, tmp_path: Path) -> None:
        assert "rules[0].match.tags: expected" in condition_problem(tmp_path, "tags: {}")

    def test_single_value_is_located_at_its_key(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "operations: delet") == (
            "policy.yaml:7:19: rules[0].match.operations: expected an operation or a group of "
            "them: ddl, dml, write, select, insert, update, delete, merge, copy, create, alter, "
            "drop, truncate, grant, revoke, set, transaction, call, do, prepare, execute, "
            "explain, utility, unknown, found 'delet'; did you mean 'delete'?"
        )

    def test_list_item_is_located_at_its_index(self, tmp_path: Path) -> None:
        problem = condition_problem(tmp_path, "operations: [select, delet]")
        assert problem.startswith("policy.yaml:7:28: rules[0].match.operations[1]: ")

    def test_protocol(self, tmp_path: Path) -> None:
        assert "found 'postgress'; did you mean 'postgres'?" in condition_problem(
            tmp_path, "protocols: postgress"
        )

    def test_feature(self, tmp_path: Path) -> None:
        assert "did you mean 'copy_program'?" in condition_problem(
            tmp_path, "features: copy_programs"
        )

    def test_table_patterns(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "tables: [db.public.t]") == (
            "policy.yaml:7:16: rules[0].match.tables[0]: expected a table name or glob, as "
            "'table' or 'schema.table' (* and ? as wildcards, no spaces), found 'db.public.t'"
        )

    def test_tables_mapping(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "tables: {names: [t], acess: read}") == (
            "policy.yaml:7:28: rules[0].match.tables.acess: unknown key 'acess'; "
            "did you mean 'access'?"
        )
        assert "expected a kind of access: read, write, any, found 'all'" in (
            condition_problem(tmp_path, "tables: {names: [t], access: all}")
        )

    def test_function_patterns(self, tmp_path: Path) -> None:
        assert "rules[0].match.functions[0]: expected a function name" in condition_problem(
            tmp_path, "functions: ['pg read']"
        )

    def test_connection_globs(self, tmp_path: Path) -> None:
        assert "rules[0].match.connections[0]: expected a connection name or glob" in (
            condition_problem(tmp_path, "connections: [Prod]")
        )

    def test_tag_keys_and_values(self, tmp_path: Path) -> None:
        assert 'rules[0].match.tags["bad key"]: invalid key: expected a tag name' in (
            condition_problem(tmp_path, "tags: {'bad key': x}")
        )
        assert "rules[0].match.tags.env: expected a tag value" in condition_problem(
            tmp_path, "tags: {env: {a: b}}"
        )

    def test_unfiltered(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "unfiltered: [select]") == (
            "policy.yaml:7:19: rules[0].match.unfiltered: expected true, false or a list of "
            "operations (update, delete), found a list; did you mean 'delete'?"
        )
        assert "expected true, false" in condition_problem(tmp_path, "unfiltered: 3")
        assert "expected at least one item" in condition_problem(tmp_path, "unfiltered: []")

    def test_complete_is_a_boolean(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "complete: maybe") == (
            "policy.yaml:7:17: rules[0].match.complete: expected true or false, found 'maybe'"
        )

    def test_text_regex(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "text: '(unclosed'") == (
            "policy.yaml:7:13: rules[0].match.text: expected a valid regular expression "
            "(missing ), unterminated subpattern at position 0), found '(unclosed'"
        )

    def test_text_regex_length_cap(self, tmp_path: Path) -> None:
        problem = condition_problem(tmp_path, f"text: '{'a' * 1001}'")
        assert "expected a regular expression of at most 1000 chars" in problem

    def test_client_addresses(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "client_addresses: 10.0.0.1/8") == (
            "policy.yaml:7:25: rules[0].match.client_addresses: expected a network address "
            "without host bits set (10.0.0.0/8 covers this address), found '10.0.0.1/8'; "
            "did you mean '10.0.0.0/8'?"
        )
        assert "expected an IP address or network" in condition_problem(
            tmp_path, "client_addresses: [office]"
        )

    def test_time_window(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "time: {days: [mon, fry]}") == (
            "policy.yaml:7:26: rules[0].match.time.days[1]: expected a day (mon, tue, wed, thu, "
            "fri, sat, sun) or a range such as mon-fri, found 'fry'; did you mean 'fri'?"
        )
        assert "expected a time range such as 09:00-17:30" in condition_problem(
            tmp_path, "time: {hours: '9-17'}"
        )
        assert "expected a time range such as 09:00-17:30" in condition_problem(
            tmp_path, "time: {hours: '09:00-24:30'}"
        )
        assert "expected a time range whose start and end differ" in condition_problem(
            tmp_path, "time: {hours: '09:00-09:00'}"
        )
        assert condition_problem(tmp_path, "time: {timezone: UTC}") == (
            "policy.yaml:7:13: rules[0].match.time: expected 'days', 'hours' or both in a "
            "time window"
        )

    def test_timezone_with_suggestion(self, tmp_path: Path) -> None:
        assert condition_problem(tmp_path, "time: {days: mon, timezone: Europe/Berln}") == (
            "policy.yaml:7:35: rules[0].match.time.timezone: expected a time zone name from the "
            "IANA database, such as UTC or Europe/Berlin, found 'Europe/Berln'; "
            "did you mean 'Europe/Berlin'?"
        )

    def test_claims(self, tmp_path: Path) -> None:
        assert "rules[0].match.claims.dept: expected a string, number or true/false" in (
            condition_problem(tmp_path, "claims: {dept: {a: 1}}")
        )


class TestTestCases:
    def cases(self, body: str) -> str:
        indented = "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
        return rule_text("action: deny\nmessage: x\nmatch: {}") + f"tests:\n  - {indented[4:]}"

    def test_valid_with_shorthands(self, tmp_path: Path) -> None:
        path = write_policy(
            tmp_path,
            self.cases("statement: DROP TABLE t\nas: alice\nconnection: shop\nexpect: deny"),
        )
        (case,) = Policy.load(path).document.tests
        assert case.identity.subject == "alice"
        assert case.connection.name == "shop"
        assert case.expect.action.value == "deny"
        assert case.title == "alice: DROP TABLE t"

    def test_unknown_rule_with_suggestion(self, tmp_path: Path) -> None:
        text = self.cases("statement: x\nas: a\nconnection: c\nexpect: {action: deny, rule: rr}")
        assert one(tmp_path, text) == (
            "policy.yaml:12:34: tests[0].expect.rule: no rule is named 'rr'; did you mean 'r'?"
        )

    def test_default_and_fail_closed_are_known(self, tmp_path: Path) -> None:
        for name in ("default", "fail-closed"):
            text = self.cases(
                f"statement: x\nas: a\nconnection: c\nexpect: {{action: deny, rule: {name}}}"
            )
            Policy.load(write_policy(tmp_path, text))

    def test_unknown_alert_rule(self, tmp_path: Path) -> None:
        text = self.cases(
            "statement: x\nas: a\nconnection: c\nexpect: {action: deny, alerts: [r, zz]}"
        )
        assert "tests[0].expect.alerts[1]: no rule is named 'zz'" in one(tmp_path, text)

    def test_alias_key_suggestion(self, tmp_path: Path) -> None:
        text = self.cases("statement: x\nas: {subject: a, grups: [g]}\nconnection: c\nexpect: deny")
        assert one(tmp_path, text) == (
            "policy.yaml:10:22: tests[0].as.grups: unknown key 'grups'; did you mean 'groups'?"
        )

    def test_missing_as(self, tmp_path: Path) -> None:
        text = self.cases("statement: x\nconnection: c\nexpect: deny")
        assert one(tmp_path, text) == "policy.yaml:9:5: tests[0].as: required key is missing"

    def test_shorthand_expect_is_located_as_written(self, tmp_path: Path) -> None:
        text = self.cases("statement: x\nas: a\nconnection: c\nexpect: denny")
        assert one(tmp_path, text) == (
            "policy.yaml:12:13: tests[0].expect: expected an action: allow, deny, review, "
            "alert, found 'denny'; did you mean 'deny'?"
        )

    def test_time_needs_an_offset(self, tmp_path: Path) -> None:
        text = self.cases(
            "statement: x\nas: a\nconnection: c\nexpect: deny\ntime: 2025-01-07T10:00:00"
        )
        assert one(tmp_path, text) == (
            "policy.yaml:13:11: tests[0].time: expected a date and time with a UTC offset, "
            "such as 2025-01-06T09:30:00+01:00, found 2025-01-07T10:00:00 (no UTC offset)"
        )
        text = self.cases("statement: x\nas: a\nconnection: c\nexpect: deny\ntime: yesterday")
        assert "found 'yesterday'" in one(tmp_path, text)

    def test_client_addr(self, tmp_path: Path) -> None:
        text = self.cases(
            "statement: x\nas: a\nconnection: c\nexpect: deny\nclient_addr: 10.0.0.0/8"
        )
        assert "tests[0].client_addr: expected an IP address" in one(tmp_path, text)

    def test_empty_statement(self, tmp_path: Path) -> None:
        text = self.cases("statement: ''\nas: a\nconnection: c\nexpect: deny")
        assert "tests[0].statement: expected a non-empty string, found ''" in one(tmp_path, text)


def test_every_problem_at_once_in_file_order(tmp_path: Path) -> None:
    text = (
        "version: 1\n"
        "default: maybe\n"
        "rules:\n"
        "  - name: a\n"
        "    action: deny\n"
        "    match: {operations: nope}\n"
        "  - name: a\n"
        "    action: allow\n"
        "    match: {}\n"
    )
    assert [p.line for p in problems(tmp_path, text)] == [2, 4, 6, 7]
    assert [p.path for p in problems(tmp_path, text)] == [
        "default",
        "rules[0].message",
        "rules[0].match.operations",
        "rules[1].name",
    ]
