"""Value types of the policy language, each validated with a message that says what is expected.

Validators raise ``PydanticCustomError`` whose message says what was expected; the problem
translator (``proctor.policy.problems``) appends "found ..." and, when the error context
carries a ``suggestion``, "did you mean ...?". Values come out normalised (lower-case names,
minutes since midnight, day numbers), which is also what the fingerprint hashes: two spellings
of the same policy have the same fingerprint.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import zoneinfo
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from proctor.model import Action, Feature, Operation

# Names of whole groups of operations that `operations:` accepts besides single operations.
OPERATION_GROUPS: dict[str, frozenset[Operation]] = {
    "ddl": frozenset({Operation.CREATE, Operation.ALTER, Operation.DROP}),
    "dml": frozenset({Operation.INSERT, Operation.UPDATE, Operation.DELETE, Operation.MERGE}),
    "write": frozenset(
        {
            Operation.INSERT,
            Operation.UPDATE,
            Operation.DELETE,
            Operation.MERGE,
            Operation.TRUNCATE,
            Operation.CREATE,
            Operation.ALTER,
            Operation.DROP,
        }
    ),
}
PROTOCOLS = ("postgres", "mysql", "ssh", "http", "mcp")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNFILTERED_OPERATIONS = (Operation.UPDATE.value, Operation.DELETE.value)
RESERVED_RULE_NAMES = frozenset({"default", "fail-closed"})

MAX_TEXT_PATTERN = 1000  # characters of a `text:` regular expression
MAX_NAME = 100

_RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_CONNECTION_GLOB = re.compile(r"[a-z0-9_.*?-]{1,63}")
_WORKFLOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_CLAIM_KEY = re.compile(r"[^\s]{1,200}")
_TAG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_OBJECT_PART = re.compile(r"[^\s.]+")
_HOUR_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def fail(kind: str, expected: str, *, suggestion: str | None = None) -> PydanticCustomError:
    """An error whose message is ``expected``; the translator adds what was found."""
    context = {"suggestion": suggestion} if suggestion else None
    # Braces would be read as template placeholders by pydantic.
    return PydanticCustomError(kind, expected.replace("{", "(").replace("}", ")"), context)


def closest(word: str, options: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _string(value: object, kind: str, expected: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(kind, expected)
    return value.strip()


def _choice(kind: str, options: tuple[str, ...], what: str) -> Callable[[object], str]:
    expected = f"expected {what}: {', '.join(options)}"

    def check(value: object) -> str:
        if isinstance(value, str) and value.strip().lower() in options:
            return value.strip().lower()
        suggestion = closest(value, options) if isinstance(value, str) else None
        raise fail(kind, expected, suggestion=suggestion)

    return check


def one_or_more(value: object) -> object:
    """``x`` is short for ``[x]``; lists stay as they are."""
    return value if isinstance(value, list | tuple) else [value]


def _operation(value: object) -> str:
    options = (*OPERATION_GROUPS, *(op.value for op in Operation))
    return _choice(
        "operation",
        options,
        "an operation or a group of them",
    )(value)


def _rule_name(value: object) -> str:
    text = value if isinstance(value, str) else None
    if text is None or not _RULE_NAME.fullmatch(text):
        raise fail(
            "rule_name",
            "expected a rule name of 1-100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    if text in RESERVED_RULE_NAMES:
        raise fail("rule_name", "expected a rule name other than 'default' and 'fail-closed'")
    return text


def _workflow_name(value: object) -> str:
    if not isinstance(value, str) or not _WORKFLOW_NAME.fullmatch(value):
        raise fail(
            "workflow_name",
            "expected a workflow name of letters, digits, '_', '.' or '-'",
        )
    return value


def _connection_glob(value: object) -> str:
    if not isinstance(value, str) or not _CONNECTION_GLOB.fullmatch(value):
        raise fail(
            "connection_glob",
            "expected a connection name or glob (lowercase letters, digits, '_', '.', '-', "
            "with * and ?)",
        )
    return value


def _subject_glob(value: object) -> str:
    return _string(value, "subject", "expected a subject or a glob such as 'ci:*'")


def _group(value: object) -> str:
    return _string(value, "group", "expected a group name")


def _object_glob(kind: str, noun: str) -> Callable[[object], str]:
    expected = (
        f"expected a {noun} name or glob, as '{noun}' or 'schema.{noun}' "
        "(* and ? as wildcards, no spaces)"
    )

    def check(value: object) -> str:
        if not isinstance(value, str):
            raise fail(kind, expected)
        parts = value.split(".")
        if len(parts) > 2 or not all(_OBJECT_PART.fullmatch(part) for part in parts):
            raise fail(kind, expected)
        return value

    return check


def _setting_glob(value: object) -> str:
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        raise fail(
            "setting_glob",
            "expected a setting name or glob such as search_path, role or 'system:*'",
        )
    return value


def _claim_key(value: object) -> str:
    if not isinstance(value, str) or not _CLAIM_KEY.fullmatch(value):
        raise fail("claim_key", "expected a claim name (no spaces)")
    return value


def _tag_key(value: object) -> str:
    if not isinstance(value, str) or not _TAG_KEY.fullmatch(value):
        raise fail(
            "tag_key",
            "expected a tag name of 1-63 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    return value


def scalar_text(value: object) -> str:
    """A claim value as compared: YAML true/false/numbers become their usual spelling."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise fail("scalar", "expected a string, number or true/false")


def _tag_value(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail("tag_value", "expected a tag value (a string)")
    text = scalar_text(value)
    if len(text) > 256:
        raise fail("tag_value", "expected a tag value of at most 256 characters")
    return text


def _regex(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise fail("regex", "expected a regular expression (a non-empty string)")
    if len(value) > MAX_TEXT_PATTERN:
        raise fail("regex", f"expected a regular expression of at most {MAX_TEXT_PATTERN} chars")
    try:
        re.compile(value)
    except re.error as exc:
        raise fail("regex", f"expected a valid regular expression ({exc})") from None
    return value


def _cidr(value: object) -> str:
    expected = "expected an IP address or network such as 10.0.0.0/8 or 2001:db8::/32"
    if not isinstance(value, str):
        raise fail("cidr", expected)
    try:
        return str(ipaddress.ip_network(value.strip()))
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise fail("cidr", expected) from None
    raise fail(
        "cidr",
        f"expected a network address without host bits set ({loose} covers this address)",
        suggestion=str(loose),
    )


def _ip_address(value: object) -> str:
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            pass
    raise fail("ip_address", "expected an IP address such as 10.0.0.7 or ::1")


def _days(value: object) -> tuple[int, ...]:
    """``mon``, ``mon-fri`` (ranges wrap: ``fri-mon``) -> day numbers, Monday 0."""
    expected = f"expected a day ({', '.join(DAYS)}) or a range such as mon-fri"
    if isinstance(value, tuple):  # the default, already normalised (YAML gives no tuples)
        return value
    if not isinstance(value, str):
        raise fail("day", expected)
    text = value.strip().lower()
    first, dash, last = text.partition("-")
    names = [first, last] if dash else [first]
    if any(name not in DAYS for name in names):
        fixed = [name if name in DAYS else closest(name, DAYS) for name in names]
        known = [name for name in fixed if name is not None]
        suggestion = "-".join(known) if len(known) == len(fixed) else None
        raise fail("day", expected, suggestion=suggestion)
    start = DAYS.index(first)
    if not dash:
        return (start,)
    end = DAYS.index(last)
    return tuple((start + step) % 7 for step in range((end - start) % 7 + 1))


def _hour_range(value: object) -> tuple[int, ...]:
    """``"09:00-17:30"`` -> minutes since midnight ``(540, 1050)``; the end is exclusive."""
    expected = "expected a time range such as 09:00-17:30 (24:00 may end a range)"
    if isinstance(value, tuple):  # the default, already normalised (YAML gives no tuples)
        return value
    match = _HOUR_RANGE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise fail("hours", expected)
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        raise fail("hours", expected)
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start == end:
        raise fail("hours", "expected a time range whose start and end differ")
    return start, end


def _timezone(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail("timezone", "expected a time zone name such as UTC or Europe/Berlin")
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        suggestion = closest(name, zoneinfo.available_timezones())
        raise fail(
            "timezone",
            "expected a time zone name from the IANA database, such as UTC or Europe/Berlin",
            suggestion=suggestion,
        ) from None
    return name


def _moment(value: object) -> datetime:
    expected = "expected a date and time with a UTC offset, such as 2025-01-06T09:30:00+01:00"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise fail("datetime", expected) from None
    if not isinstance(value, datetime):
        raise fail("datetime", expected)
    if value.tzinfo is None:
        # Unquoted YAML timestamps arrive as datetimes: aware when written with an offset
        # (or Z), naive when written without one, which would be ambiguous.
        raise fail("datetime", expected)
    return value.astimezone(UTC)


def _non_empty_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail("text", "expected a non-empty string")
    return value


RuleName = Annotated[str, BeforeValidator(_rule_name)]
WorkflowName = Annotated[str, BeforeValidator(_workflow_name)]
ActionName = Annotated[
    Action, BeforeValidator(_choice("action", tuple(a.value for a in Action), "an action"))
]
DefaultAction = Annotated[
    Action, BeforeValidator(_choice("default_action", ("allow", "deny"), "a default action"))
]
AccessName = Annotated[
    str, BeforeValidator(_choice("access", ("read", "write", "any"), "a kind of access"))
]
OperationName = Annotated[str, BeforeValidator(_operation)]
ProtocolName = Annotated[str, BeforeValidator(_choice("protocol", PROTOCOLS, "a protocol"))]
FeatureName = Annotated[
    str,
    BeforeValidator(_choice("feature", tuple(f.value for f in Feature), "a statement feature")),
]
ConnectionGlob = Annotated[str, BeforeValidator(_connection_glob)]
SubjectGlob = Annotated[str, BeforeValidator(_subject_glob)]
GroupName = Annotated[str, BeforeValidator(_group)]
TableGlob = Annotated[str, BeforeValidator(_object_glob("table_glob", "table"))]
FunctionGlob = Annotated[str, BeforeValidator(_object_glob("function_glob", "function"))]
SettingGlob = Annotated[str, BeforeValidator(_setting_glob)]
ClaimKey = Annotated[str, BeforeValidator(_claim_key)]
ClaimValue = Annotated[str, BeforeValidator(scalar_text)]
TagKey = Annotated[str, BeforeValidator(_tag_key)]
TagValue = Annotated[str, BeforeValidator(_tag_value)]
TextPattern = Annotated[str, BeforeValidator(_regex)]
Network = Annotated[str, BeforeValidator(_cidr)]
IpAddress = Annotated[str, BeforeValidator(_ip_address)]
DaySpan = Annotated[tuple[int, ...], BeforeValidator(_days)]
HourRange = Annotated[tuple[int, int], BeforeValidator(_hour_range)]
TimeZoneName = Annotated[str, BeforeValidator(_timezone)]
Moment = Annotated[datetime, BeforeValidator(_moment)]
NonEmptyText = Annotated[str, BeforeValidator(_non_empty_text)]
ShortText = Annotated[NonEmptyText, Field(max_length=1000)]


def non_empty(kind: str) -> AfterValidator:
    """An empty list in a condition would never match: always a mistake, so an error."""

    def check(value: tuple[object, ...]) -> tuple[object, ...]:
        if not value:
            raise fail(kind, "expected at least one item (an empty list never matches)")
        return value

    return AfterValidator(check)
