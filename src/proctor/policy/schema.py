"""The policy document as validated data: what ``policy.yaml`` may contain.

These models only describe and check the file; ``proctor.policy.compiler`` turns a validated
``PolicyDocument`` into the matchers that decide. Shorthands are normalised here (``x`` for
``[x]``, a list of names for ``tables``, a mapping for ``unless``), so the canonical form the
fingerprint hashes does not depend on how a rule was spelt.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from proctor.model import Action
from proctor.policy.fields import (
    UNFILTERED_OPERATIONS,
    AccessName,
    ActionName,
    ClaimKey,
    ClaimValue,
    ConnectionGlob,
    DaySpan,
    DefaultAction,
    FeatureName,
    FunctionGlob,
    GroupName,
    HourRange,
    IpAddress,
    Moment,
    Network,
    NonEmptyText,
    OperationName,
    ProtocolName,
    RuleName,
    SettingGlob,
    ShortText,
    SubjectGlob,
    TableGlob,
    TagKey,
    TagValue,
    TextPattern,
    TimeZoneName,
    WorkflowName,
    closest,
    fail,
    non_empty,
    one_or_more,
)

POLICY_VERSION = 1
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
NO_MASKING = "none"  # the masking profile name that means: results are not masked
# Conditions a masking choice may use: what is known when a session starts (not statements).
SESSION_CONDITIONS = (
    "subjects",
    "groups",
    "claims",
    "connections",
    "tags",
    "protocols",
    "client_addresses",
    "time",
)

OneOrMore = BeforeValidator(one_or_more)


class PolicyModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",  # a misspelt key is an error, never a condition silently ignored
        validate_default=True,
    )


def _version(value: object) -> int:
    if isinstance(value, bool) or value not in (POLICY_VERSION, str(POLICY_VERSION)):
        raise fail(
            "version", f"expected {POLICY_VERSION} (the only policy version this Proctor reads)"
        )
    return POLICY_VERSION


def _tables_shorthand(value: object) -> object:
    # "tables: [customers]" is short for "tables: {names: [customers]}" (any access).
    return {"names": value} if isinstance(value, list | tuple | str) else value


def _unfiltered(value: object) -> bool | tuple[str, ...]:
    # true / false, or a list of the operations (update, delete) that count. Checked here
    # as a whole, so a wrong item gets one message (a union would add "expected a boolean").
    if isinstance(value, bool):
        return value
    expected = "expected true, false or a list of operations (update, delete)"
    if not isinstance(value, str | list | tuple):
        raise fail("unfiltered", expected)
    items = one_or_more(value)
    assert isinstance(items, list | tuple)
    if not items:
        raise fail("unfiltered", "expected at least one item (an empty list never matches)")
    chosen: list[str] = []
    for item in items:
        name = item.strip().lower() if isinstance(item, str) else None
        if name not in UNFILTERED_OPERATIONS:
            suggestion = closest(item, UNFILTERED_OPERATIONS) if isinstance(item, str) else None
            raise fail("unfiltered", expected, suggestion=suggestion)
        chosen.append(name)
    return tuple(chosen)


def _mapping_or_list(value: object) -> object:
    return [value] if isinstance(value, dict) else value


class TablesCondition(PolicyModel):
    names: Annotated[tuple[TableGlob, ...], OneOrMore, non_empty("tables")]
    access: AccessName = "any"


class TimeWindow(PolicyModel):
    """Local days and hours in one time zone. Omitted days: every day; omitted hours: all day."""

    days: Annotated[tuple[DaySpan, ...], OneOrMore, non_empty("days")] = ((0, 1, 2, 3, 4, 5, 6),)
    hours: Annotated[tuple[HourRange, ...], OneOrMore, non_empty("hours")] = ((0, 1440),)
    timezone: TimeZoneName = "UTC"

    @model_validator(mode="before")
    @classmethod
    def _days_or_hours(cls, data: object) -> object:
        if isinstance(data, dict) and "days" not in data and "hours" not in data:
            raise fail("time_window", "expected 'days', 'hours' or both in a time window")
        return data


Unfiltered = Annotated[bool | tuple[str, ...], BeforeValidator(_unfiltered)]


class MatchBlock(PolicyModel):
    """Conditions; every one given must hold. Within a condition, list items are alternatives."""

    subjects: Annotated[tuple[SubjectGlob, ...], OneOrMore, non_empty("subjects")] | None = None
    groups: Annotated[tuple[GroupName, ...], OneOrMore, non_empty("groups")] | None = None
    claims: (
        Annotated[
            dict[ClaimKey, Annotated[tuple[ClaimValue, ...], OneOrMore, non_empty("claims")]],
            Field(min_length=1),
        ]
        | None
    ) = None
    connections: (
        Annotated[tuple[ConnectionGlob, ...], OneOrMore, non_empty("connections")] | None
    ) = None
    tags: (
        Annotated[
            dict[TagKey, Annotated[tuple[TagValue, ...], OneOrMore, non_empty("tags")]],
            Field(min_length=1),
        ]
        | None
    ) = None
    protocols: Annotated[tuple[ProtocolName, ...], OneOrMore, non_empty("protocols")] | None = None
    operations: Annotated[tuple[OperationName, ...], OneOrMore, non_empty("operations")] | None = (
        None
    )
    only_operations: (
        Annotated[tuple[OperationName, ...], OneOrMore, non_empty("only_operations")] | None
    ) = None
    tables: Annotated[TablesCondition, BeforeValidator(_tables_shorthand)] | None = None
    functions: Annotated[tuple[FunctionGlob, ...], OneOrMore, non_empty("functions")] | None = None
    features: Annotated[tuple[FeatureName, ...], OneOrMore, non_empty("features")] | None = None
    settings: Annotated[tuple[SettingGlob, ...], OneOrMore, non_empty("settings")] | None = None
    unfiltered: Unfiltered | None = None
    complete: bool | None = None
    client_addresses: (
        Annotated[tuple[Network, ...], OneOrMore, non_empty("client_addresses")] | None
    ) = None
    time: Annotated[tuple[TimeWindow, ...], OneOrMore, non_empty("time")] | None = None
    # Last: the most expensive, and a last resort (see docs/policy.md).
    text: TextPattern | None = None

    def given(self) -> dict[str, Any]:
        """The conditions written, by name, in the schema's (evaluation) order."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return {name: value for name, value in values.items() if value is not None}


class ReviewSettings(PolicyModel):
    """How a ``review`` is carried out; the approvals feature reads it."""

    workflow: WorkflowName | None = None


class Rule(PolicyModel):
    name: RuleName
    description: ShortText | None = None
    action: ActionName
    message: ShortText | None = None
    review: ReviewSettings | None = None
    match: MatchBlock
    unless: Annotated[tuple[MatchBlock, ...], BeforeValidator(_mapping_or_list)] = ()

    @field_validator("message")
    @classmethod
    def _message_for_action(cls, value: str | None, info: ValidationInfo) -> str | None:
        action = info.data.get("action")
        if action in (Action.DENY, Action.REVIEW) and value is None:
            raise fail(
                "message_required",
                f"required for action {action}: the message the user sees",
            )
        if action is Action.ALLOW and value is not None:
            raise fail("message_unused", "has no effect with action allow (nobody sees it)")
        return value

    @field_validator("review")
    @classmethod
    def _review_for_review(
        cls, value: ReviewSettings | None, info: ValidationInfo
    ) -> ReviewSettings | None:
        action = info.data.get("action")
        if value is not None and action is not None and action is not Action.REVIEW:
            raise fail("review_unused", "only used with action review")
        return value

    @field_validator("unless")
    @classmethod
    def _unless_not_empty(cls, value: tuple[MatchBlock, ...]) -> tuple[MatchBlock, ...]:
        for block in value:
            if not block.given():
                # An empty block always holds, so the rule could never apply.
                raise fail("unless_empty", "expected conditions in every 'unless' block")
        return value


def _profile_name(value: object) -> str:
    if not isinstance(value, str) or not _PROFILE_NAME.fullmatch(value):
        raise fail(
            "profile_name",
            "expected a masking profile name (letters, digits, '_', '.', '-'), or 'none'",
        )
    return value


def _session_only(block: MatchBlock) -> MatchBlock:
    other = [name for name in block.given() if name not in SESSION_CONDITIONS]
    if other:
        raise fail(
            "masking_condition",
            f"{', '.join(other)}: a masking profile is chosen when the session starts, "
            f"so only these conditions apply: {', '.join(SESSION_CONDITIONS)}",
        )
    return block


SessionBlock = Annotated[MatchBlock, AfterValidator(_session_only)]


class MaskingChoice(PolicyModel):
    """Which masking profile a session gets; the first matching entry decides."""

    profile: Annotated[str, BeforeValidator(_profile_name)]
    match: SessionBlock = Field(default_factory=MatchBlock)
    unless: Annotated[tuple[SessionBlock, ...], BeforeValidator(_mapping_or_list)] = ()

    @field_validator("unless")
    @classmethod
    def _unless_not_empty(cls, value: tuple[MatchBlock, ...]) -> tuple[MatchBlock, ...]:
        for block in value:
            if not block.given():
                raise fail("unless_empty", "expected conditions in every 'unless' block")
        return value


class ConnectionDefault(PolicyModel):
    """The default action for connections chosen by name and/or tags."""

    connections: (
        Annotated[tuple[ConnectionGlob, ...], OneOrMore, non_empty("connections")] | None
    ) = None
    tags: (
        Annotated[
            dict[TagKey, Annotated[tuple[TagValue, ...], OneOrMore, non_empty("tags")]],
            Field(min_length=1),
        ]
        | None
    ) = None
    default: DefaultAction

    @model_validator(mode="after")
    def _chooses_connections(self) -> Self:
        if self.connections is None and self.tags is None:
            raise fail(
                "connection_default",
                "expected 'connections', 'tags' or both, choosing where this default applies",
            )
        return self


# --- test cases -------------------------------------------------------------------------------


def _subject_shorthand(value: object) -> object:
    return {"subject": value} if isinstance(value, str) else value


def _name_shorthand(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


def _action_shorthand(value: object) -> object:
    return {"action": value} if isinstance(value, str) else value


class TestIdentity(PolicyModel):
    subject: NonEmptyText
    groups: Annotated[tuple[GroupName, ...], OneOrMore] = ()
    claims: dict[ClaimKey, Any] = Field(default_factory=dict)


class TestConnection(PolicyModel):
    name: ConnectionGlob
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)


class Expectation(PolicyModel):
    action: ActionName
    # A rule name, "default" (no rule decided) or "fail-closed"; omitted: not checked.
    rule: NonEmptyText | None = None
    # Every alert rule that matched, in any order; omitted: not checked.
    alerts: Annotated[tuple[NonEmptyText, ...], OneOrMore] | None = None


class TestCase(PolicyModel):
    __test__ = False  # not a pytest class

    name: ShortText | None = None
    statement: NonEmptyText
    identity: Annotated[TestIdentity, BeforeValidator(_subject_shorthand)] = Field(alias="as")
    connection: Annotated[TestConnection, BeforeValidator(_name_shorthand)]
    protocol: ProtocolName = "postgres"
    client_addr: IpAddress | None = None
    time: Moment | None = None
    expect: Annotated[Expectation, BeforeValidator(_action_shorthand)]

    @property
    def title(self) -> str:
        if self.name:
            return self.name
        text = " ".join(self.statement.split())
        return f"{self.identity.subject}: {text if len(text) <= 60 else text[:57] + '...'}"


class PolicyDocument(PolicyModel):
    version: Annotated[int, BeforeValidator(_version)]
    default: DefaultAction
    connection_defaults: tuple[ConnectionDefault, ...] = ()
    masking: tuple[MaskingChoice, ...] = ()
    rules: tuple[Rule, ...] = ()
    tests: tuple[TestCase, ...] = ()

    def canonical(self) -> dict[str, Any]:
        """What decides, in normal form: the input of the fingerprint (tests excluded)."""
        # An empty masking section is left out, so adding the section to the language did
        # not change the fingerprint of policies that do not use it.
        exclude = {"tests"} if self.masking else {"tests", "masking"}
        return self.model_dump(mode="json", by_alias=True, exclude=exclude, exclude_none=True)
