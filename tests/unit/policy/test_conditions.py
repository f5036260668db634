"""Every condition of the language, matching and not matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from proctor.model import Connection, Identity, Statement
from proctor.policy import DecisionContext
from proctor.policy.conditions import MAX_TEXT_SCAN
from proctor.policy.engine import COMPILERS
from proctor.policy.schema import MatchBlock

from .helpers import TUESDAY, conn, ctx, policy, rule, stmt, who


def hit(
    match: dict[str, Any],
    s: Statement | None = None,
    i: Identity | None = None,
    c: Connection | None = None,
    x: DecisionContext | None = None,
    *,
    action: str = "deny",
    unless: Any = None,
) -> bool:
    """Whether a one-rule policy's rule matches; decide and explain must agree."""
    extra = {"unless": unless} if unless is not None else {}
    p = policy([rule("r", action, **match, **extra)])
    args = (s or stmt(), i or who(), c or conn(), x or ctx())
    matched = "r" in p.decide(*args).matched
    trace = p.explain(*args).rules[0]
    assert trace.matched is matched, trace.reason
    assert p.rules[0].matches(*args) is matched
    return matched


def test_every_condition_of_the_schema_has_a_compiler() -> None:
    assert set(MatchBlock.model_fields) == set(COMPILERS)


class TestIdentity:
    def test_subjects_exact_and_glob(self) -> None:
        assert hit({"subjects": ["alice", "bob"]}, i=who("bob"))
        assert not hit({"subjects": ["alice", "bob"]}, i=who("carol"))
        assert hit({"subjects": "ci:*"}, i=who("ci:deploy"))
        assert not hit({"subjects": "ci:*"}, i=who("agent:ci:x"))
        assert hit({"subjects": "user-?"}, i=who("user-7"))
        assert not hit({"subjects": "user-?"}, i=who("user-77"))

    def test_subjects_are_case_sensitive(self) -> None:
        assert not hit({"subjects": "alice"}, i=who("Alice"))

    def test_groups_any_of(self) -> None:
        assert hit({"groups": ["admin", "dba"]}, i=who("a", "analyst", "dba"))
        assert not hit({"groups": ["admin", "dba"]}, i=who("a", "analyst"))
        assert not hit({"groups": "admin"}, i=who("a"))

    def test_claims_value_or_list_all_keys(self) -> None:
        match = {"claims": {"dept": ["finance", "ops"], "mfa": True}}
        assert hit(match, i=who("a", dept="ops", mfa=True))
        assert not hit(match, i=who("a", dept="ops", mfa=False))
        assert not hit(match, i=who("a", dept="sales", mfa=True))
        assert not hit(match, i=who("a", mfa=True))  # missing claim

    def test_claims_list_valued_and_numbers(self) -> None:
        assert hit({"claims": {"roles": "writer"}}, i=who("a", roles=["reader", "writer"]))
        assert not hit({"claims": {"roles": "writer"}}, i=who("a", roles=["reader"]))
        assert hit({"claims": {"level": 3}}, i=who("a", level=3))
        assert hit({"claims": {"level": "3"}}, i=who("a", level=3))
        assert not hit({"claims": {"level": 3}}, i=who("a", level={"nested": 3}))


class TestConnection:
    def test_connection_names_and_globs(self) -> None:
        assert hit({"connections": ["shop", "pg-prod-*"]}, c=conn("pg-prod-eu"))
        assert hit({"connections": "shop"}, c=conn("shop"))
        assert not hit({"connections": ["pg-prod-*"]}, c=conn("pg-staging"))

    def test_tags_all_keys_any_value(self) -> None:
        match = {"tags": {"env": ["prod", "staging"], "data": "pii"}}
        assert hit(match, c=conn(env="prod", data="pii"))
        assert not hit(match, c=conn(env="prod"))
        assert not hit(match, c=conn(env="dev", data="pii"))

    def test_protocols(self) -> None:
        assert hit({"protocols": "postgres"}, x=ctx(protocol="postgres"))
        assert not hit({"protocols": ["mysql", "ssh"]}, x=ctx(protocol="postgres"))


class TestOperations:
    def test_any_effect_not_only_the_top_operation(self) -> None:
        cte_delete = stmt("select", effects=["delete"])
        assert hit({"operations": "delete"}, cte_delete)
        assert hit({"operations": "select"}, cte_delete)
        assert not hit({"operations": ["update", "insert"]}, cte_delete)

    def test_the_top_operation_counts_even_if_missing_from_effects(self) -> None:
        s = Statement(text="x", operation=stmt("drop").operation, effects=frozenset())
        assert hit({"operations": "drop"}, s)

    @pytest.mark.parametrize(
        ("group", "operation", "expected"),
        [
            ("ddl", "create", True),
            ("ddl", "alter", True),
            ("ddl", "drop", True),
            ("ddl", "truncate", False),
            ("dml", "merge", True),
            ("dml", "select", False),
            ("write", "truncate", True),
            ("write", "insert", True),
            ("write", "copy", False),
        ],
    )
    def test_groups_of_operations(self, group: str, operation: str, expected: bool) -> None:
        assert hit({"operations": group}, stmt(operation)) is expected

    def test_only_operations_needs_every_effect_inside(self) -> None:
        match = {"only_operations": ["select", "explain"]}
        assert hit(match, stmt("select"))
        assert hit(match, stmt("explain", effects=["select"]))
        assert not hit(match, stmt("select", effects=["delete"]))
        assert not hit(match, stmt("update"))

    def test_case_of_operation_names_does_not_matter(self) -> None:
        assert hit({"operations": "DELETE"}, stmt("delete"))


class TestTables:
    def test_bare_names_match_any_schema(self) -> None:
        assert hit({"tables": ["customers"]}, stmt(reads=["customers"]))
        assert hit({"tables": ["customers"]}, stmt(reads=["crm.customers"]))
        assert not hit({"tables": ["customers"]}, stmt(reads=["orders"]))
        assert not hit({"tables": ["customers"]}, stmt())

    def test_globs(self) -> None:
        assert hit({"tables": ["pay*"]}, stmt(reads=["payments"]))
        assert hit({"tables": ["*_pii"]}, stmt(reads=["users_pii"]))
        assert not hit({"tables": ["pay*"]}, stmt(reads=["repay"]))

    def test_schema_qualified_patterns(self) -> None:
        assert hit({"tables": ["crm.*"]}, stmt(reads=["crm.customers"]))
        assert not hit({"tables": ["crm.*"]}, stmt(reads=["public.customers"]))
        assert hit({"tables": ["*.customers"]}, stmt(reads=["crm.customers"]))

    def test_unqualified_names_are_in_public(self) -> None:
        assert hit({"tables": ["public.customers"]}, stmt(reads=["customers"]))
        assert not hit({"tables": ["crm.customers"]}, stmt(reads=["customers"]))

    def test_bare_patterns_never_match_the_schema(self) -> None:
        assert not hit({"tables": ["crm*"]}, stmt(reads=["crm.customers"]))
        assert not hit({"tables": ["*.orders"]}, stmt(reads=["crm.customers"]))

    def test_identifiers_compare_case_insensitively(self) -> None:
        assert hit({"tables": ["customers"]}, stmt(reads=["Customers"]))
        assert hit({"tables": ["CRM.Cust*"]}, stmt(reads=["crm.customers"]))

    def test_access(self) -> None:
        read = stmt(reads=["customers"])
        write = stmt("update", writes=["customers"])
        assert hit({"tables": {"names": "customers", "access": "read"}}, read)
        assert not hit({"tables": {"names": "customers", "access": "read"}}, write)
        assert hit({"tables": {"names": "customers", "access": "write"}}, write)
        assert not hit({"tables": {"names": "customers", "access": "write"}}, read)
        assert hit({"tables": {"names": "customers", "access": "any"}}, write)

    def test_access_and_name_must_hold_for_the_same_relation(self) -> None:
        s = stmt("insert", reads=["customers"], writes=["audit"])
        assert not hit({"tables": {"names": "customers", "access": "write"}}, s)


class TestFunctions:
    def test_names_and_globs(self) -> None:
        s = stmt(functions=["pg_read_file"])
        assert hit({"functions": ["pg_read_file"]}, s)
        assert hit({"functions": ["pg_read_*"]}, s)
        assert hit({"functions": ["dblink*"]}, stmt(functions=["dblink_exec"]))
        assert not hit({"functions": ["lo_export"]}, s)
        assert not hit({"functions": ["lo_export"]}, stmt())

    def test_qualified_calls(self) -> None:
        s = stmt(functions=["pg_catalog.pg_read_file"])
        assert hit({"functions": ["pg_read_file"]}, s)
        assert hit({"functions": ["pg_catalog.pg_read_file"]}, s)
        assert not hit({"functions": ["public.pg_read_file"]}, s)

    def test_unqualified_calls_may_be_in_pg_catalog_or_public(self) -> None:
        s = stmt(functions=["pg_read_file"])
        assert hit({"functions": ["pg_catalog.pg_read_file"]}, s)
        assert hit({"functions": ["public.pg_read_file"]}, s)
        assert not hit({"functions": ["other.pg_read_file"]}, s)

    def test_case_insensitive(self) -> None:
        assert hit({"functions": ["PG_READ_FILE"]}, stmt(functions=["pg_read_file"]))


class TestStatementFacts:
    def test_features(self) -> None:
        s = stmt("copy", features=["copy_program"])
        assert hit({"features": ["copy_program", "copy_server_file"]}, s)
        assert not hit({"features": "set_role"}, s)
        assert not hit({"features": "set_role"}, stmt())

    def test_settings(self) -> None:
        s = stmt("set", settings=["search_path"])
        assert hit({"settings": "search_path"}, s)
        assert hit({"settings": "SEARCH_*"}, s)
        assert hit({"settings": "system:*"}, stmt("set", settings=["system:log_statement"]))
        assert not hit({"settings": "role"}, s)

    def test_unfiltered_true_any_of_update_delete(self) -> None:
        assert hit({"unfiltered": True}, stmt("delete", unfiltered=["delete"]))
        assert hit({"unfiltered": True}, stmt("update", unfiltered=["update"]))
        assert not hit({"unfiltered": True}, stmt("delete"))

    def test_unfiltered_list(self) -> None:
        assert hit({"unfiltered": ["delete"]}, stmt("delete", unfiltered=["delete"]))
        assert not hit({"unfiltered": "delete"}, stmt("update", unfiltered=["update"]))

    def test_unfiltered_false_matches_filtered_statements(self) -> None:
        assert hit({"unfiltered": False}, stmt("delete"))
        assert not hit({"unfiltered": False}, stmt("delete", unfiltered=["delete"]))

    def test_complete(self) -> None:
        assert hit({"complete": False}, stmt("do", complete=False))
        assert not hit({"complete": False}, stmt("select"))
        assert hit({"complete": True}, stmt("select"))
        assert not hit({"complete": True}, stmt("do", complete=False))

    def test_an_unknown_operation_or_effect_is_incomplete(self) -> None:
        assert hit({"complete": False}, stmt("unknown"))
        assert hit({"complete": False}, stmt("select", effects=["unknown"]))

    def test_text_regex(self) -> None:
        assert hit({"text": r"(?i)\bpg_sleep\b"}, stmt(text="select PG_SLEEP(10)"))
        assert not hit({"text": r"pg_sleep"}, stmt(text="select 1"))

    def test_text_longer_than_the_cap_counts_as_a_match_for_restrictive_rules(self) -> None:
        long = stmt(text="x" * (MAX_TEXT_SCAN + 1))
        assert hit({"text": "nothing-like-this"}, long, action="deny")
        assert hit({"text": "nothing-like-this"}, long, action="review")

    def test_text_longer_than_the_cap_never_grants(self) -> None:
        long = stmt(text="select 1 " + "x" * MAX_TEXT_SCAN)
        assert not hit({"text": "select"}, long, action="allow")

    def test_text_longer_than_the_cap_never_exempts(self) -> None:
        long = stmt(text="x" * (MAX_TEXT_SCAN + 1))
        assert hit({"operations": "select"}, long, unless={"text": "x"})
        short = stmt(text="xx")
        assert not hit({"operations": "select"}, short, unless={"text": "x"})


class TestClientAddresses:
    NETWORKS = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]

    @pytest.mark.parametrize(
        ("address", "expected"),
        [
            ("10.1.2.3", True),
            ("11.0.0.1", False),
            ("2001:db8::1", True),
            ("2001:db9::1", False),
            ("192.0.2.7", True),
            ("192.0.2.8", False),
            ("::ffff:10.0.0.1", True),  # IPv4-mapped IPv6 is the IPv4 address
            ("fe80::1%eth0", False),
        ],
    )
    def test_networks(self, address: str, expected: bool) -> None:
        match = {"client_addresses": self.NETWORKS}
        assert hit(match, x=ctx(client_addr=address)) is expected

    @pytest.mark.parametrize("address", [None, "", "not-an-address"])
    def test_unknown_address_matches_restrictive_rules_only(self, address: str | None) -> None:
        match = {"client_addresses": self.NETWORKS}
        assert hit(match, x=ctx(client_addr=address), action="deny")
        assert not hit(match, x=ctx(client_addr=address), action="allow")

    def test_unknown_address_never_exempts(self) -> None:
        unless = {"client_addresses": "10.0.0.0/8"}
        assert hit({}, x=ctx(client_addr=None), unless=unless)
        assert not hit({}, x=ctx(client_addr="10.0.0.1"), unless=unless)


class TestTime:
    HOURS = {"days": "mon-fri", "hours": "09:00-17:00", "timezone": "Europe/Berlin"}

    @pytest.mark.parametrize(
        ("moment", "expected"),
        [
            (datetime(2025, 1, 7, 8, 0, tzinfo=UTC), True),  # Tue 09:00 Berlin
            (datetime(2025, 1, 7, 7, 59, tzinfo=UTC), False),  # Tue 08:59 Berlin
            (datetime(2025, 1, 7, 15, 59, tzinfo=UTC), True),  # Tue 16:59 Berlin
            (datetime(2025, 1, 7, 16, 0, tzinfo=UTC), False),  # end is exclusive
            (datetime(2025, 1, 11, 10, 0, tzinfo=UTC), False),  # Saturday
            (datetime(2025, 7, 8, 7, 30, tzinfo=UTC), True),  # Tue 09:30 summer time
            (datetime(2025, 1, 7, 9, 30, tzinfo=timezone(timedelta(hours=1))), True),
        ],
    )
    def test_days_hours_and_zone(self, moment: datetime, expected: bool) -> None:
        assert hit({"time": self.HOURS}, x=ctx(now=moment)) is expected

    def test_ranges_wrap_past_midnight(self) -> None:
        night = {"hours": "22:00-06:00"}
        assert hit({"time": night}, x=ctx(now=datetime(2025, 1, 7, 23, 0, tzinfo=UTC)))
        assert hit({"time": night}, x=ctx(now=datetime(2025, 1, 7, 5, 59, tzinfo=UTC)))
        assert not hit({"time": night}, x=ctx(now=datetime(2025, 1, 7, 6, 0, tzinfo=UTC)))

    def test_day_ranges_wrap_over_the_week(self) -> None:
        weekend = {"days": "sat-sun"}
        friday_to_monday = {"days": "fri-mon"}
        sunday = datetime(2025, 1, 12, 12, 0, tzinfo=UTC)
        assert hit({"time": weekend}, x=ctx(now=sunday))
        assert hit({"time": friday_to_monday}, x=ctx(now=sunday))
        assert not hit({"time": friday_to_monday}, x=ctx(now=TUESDAY))

    def test_any_window_and_24_00(self) -> None:
        windows = [{"days": "sat"}, {"days": "tue", "hours": ["00:00-01:00", "20:00-24:00"]}]
        assert hit({"time": windows}, x=ctx(now=datetime(2025, 1, 7, 23, 59, tzinfo=UTC)))
        assert not hit({"time": windows}, x=ctx(now=TUESDAY))

    def test_context_time_must_be_aware(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            DecisionContext(now=datetime(2025, 1, 7, 10, 0))


class TestCombination:
    def test_all_conditions_must_hold(self) -> None:
        match = {"groups": "analyst", "operations": "delete", "tags": {"env": "prod"}}
        s = stmt("delete")
        assert hit(match, s, who("a", "analyst"), conn(env="prod"))
        assert not hit(match, s, who("a", "analyst"), conn(env="dev"))
        assert not hit(match, stmt("select"), who("a", "analyst"), conn(env="prod"))

    def test_empty_match_matches_everything(self) -> None:
        assert hit({})

    def test_unless_exempts_when_all_its_conditions_hold(self) -> None:
        unless = {"groups": "admin", "tags": {"env": "dev"}}
        assert not hit({}, i=who("a", "admin"), c=conn(env="dev"), unless=unless)
        assert hit({}, i=who("a", "admin"), c=conn(env="prod"), unless=unless)

    def test_any_unless_block_exempts(self) -> None:
        unless = [{"groups": "admin"}, {"subjects": "ci:*"}]
        assert not hit({}, i=who("ci:deploy"), unless=unless)
        assert not hit({}, i=who("x", "admin"), unless=unless)
        assert hit({}, i=who("x"), unless=unless)
