"""``approvals.notify:``: where approval requests and decisions are announced.

```yaml
approvals:
  notify:
    - {name: sec-webhook, kind: webhook, url: https://hooks.example/proctor,
       secret: "${env:WEBHOOK_SECRET}", events: [requested, approved, denied, break_glass]}
    - {name: slack-dba, kind: slack, url: "${env:SLACK_WEBHOOK_URL}",
       signing_secret: "${env:SLACK_SIGNING_SECRET}",
       users: {U024BE7LH: bob, U0G9QF9C6: {subject: carol, groups: [dba]}}}
    - {name: teams, kind: teams, url: "${env:TEAMS_WEBHOOK_URL}"}
    - {name: mail, kind: email, host: smtp.example, port: 587, starttls: true,
       username: proctor, password: "${env:SMTP_PASSWORD}", from: proctor@example,
       to: [dba@example]}
```

Each entry is one model chosen by ``kind``. The choice is made here rather than by a pydantic
discriminated union because the union puts the tag into error locations
(``notify[1].slack.url``), which names no key of the file; dispatching ourselves keeps every
problem at the path the operator wrote, and lets an unknown key be answered with the keys of
*that* kind.

Secrets: the webhook ``secret``, Slack's ``signing_secret`` and bot ``token``, the SMTP
``password``, and every channel ``url`` (Slack and Teams webhook URLs *are* credentials: whoever
holds one may post). Written literally they show as ``<hidden>`` (a URL keeps its scheme and
host) in ``repr`` and ``public_view``; written as references, the reference text shows.
Validators never quote a secret: checks on them are reported for the entry, not the key,
because a key's problem quotes the value found.

Slack ``users``: who a button click is from. Slack tells the gateway a Slack member id, which
says nothing about Proctor identities; the mapping to a Proctor subject (and the groups that
workflows check) is written down here, explicitly, rather than guessed from a display name or
an e-mail a Slack admin can change.
"""

from __future__ import annotations

import difflib
import enum
import re
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError, ValidationError

from proctor.config.base import HIDDEN, ConfigModel
from proctor.config.fields import ConfigPath, Duration, Host, Port, PositiveCount, Text

# Every ApprovalEvent.type the approvals core emits (proctor.model.approval.ApprovalEvent).
EVENT_TYPES = (
    "requested",
    "decision",  # one approval of several needed
    "approved",
    "denied",
    "expired",
    "withdrawn",
    "break_glass",
)
# People read chat and mail: by default they hear about what needs them, and about
# self-approvals (always notified, DESIGN of issue 7). Machines (webhooks) get everything.
HUMAN_DEFAULT_EVENTS = ("requested", "break_glass")

MIN_SECRET_LENGTH = 16  # an HMAC key someone could guess is no key: `openssl rand -hex 32`
MAX_ATTEMPTS = 20

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
# One plain address; no display names, and nothing that could end a header (CR, LF, ',').
_ADDRESS = re.compile(r"[^@\s<>,;:\"()\[\]\\]+@[A-Za-z0-9.-]+")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
# A Slack member id: U… (or W… for Enterprise Grid), as "Copy member ID" gives it.
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")


class ChannelKind(enum.StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"
    EMAIL = "email"


def _channel_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise PydanticCustomError(
            "channel_name",
            "expected a name of 1-63 lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    return value


def _events(value: object) -> object:
    if value == "all":
        return EVENT_TYPES
    if isinstance(value, str):
        # `events: requested` is almost certainly meant as a one-item list, but a string that
        # is not "all" is refused rather than guessed at.
        raise PydanticCustomError("events", "expected a list of event types, or all")
    return value


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise PydanticCustomError("event_type", f"expected one of {', '.join(EVENT_TYPES)}")
    return value


def _unique_events(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise PydanticCustomError("events", "expected at least one event type (or omit events)")
    return tuple(dict.fromkeys(value))


def _channel_url(value: str) -> str:
    # The URL may be a credential (Slack, Teams): messages describe it, never quote it.
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        pass
    elif parts.scheme == "http" and parts.hostname in _LOOPBACK:
        pass  # a local receiver (tests, a sidecar)
    else:
        # Notifications carry statement text and request details: not over plain http.
        raise PydanticCustomError("url", "expected an https URL (http only for a loopback address)")
    if parts.fragment:
        raise PydanticCustomError("url", "expected a URL without a fragment")
    return value


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise PydanticCustomError(
            "email_address", "expected a plain e-mail address such as dba@example.com"
        )
    return value


def _slack_user_id(value: str) -> str:
    if not _SLACK_USER_ID.fullmatch(value):
        raise PydanticCustomError(
            "slack_user_id",
            "expected a Slack member id such as U024BE7LH (in Slack: the person's profile, "
            "then ⋮ → Copy member ID)",
        )
    return value


def _slack_user(value: object) -> object:
    # `U024BE7LH: bob` is short for `U024BE7LH: {subject: bob}`.
    return {"subject": value} if isinstance(value, str) else value


ChannelName = Annotated[str, AfterValidator(_channel_name)]
EventType = Annotated[str, AfterValidator(_event_type)]
Events = Annotated[tuple[EventType, ...], BeforeValidator(_events), AfterValidator(_unique_events)]
ChannelUrl = Annotated[Text, AfterValidator(_channel_url)]
Address = Annotated[Text, AfterValidator(_address)]
Attempts = Annotated[PositiveCount, Field(le=MAX_ATTEMPTS)]


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/xyz`` -> ``https://hooks.slack.com/<hidden>``.

    Webhook URLs carry their token in the path or the query; the host is enough to tell
    which receiver a channel posts to.
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return HIDDEN
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = f":{parts.port}" if parts.port is not None else ""
    has_more = parts.path not in ("", "/") or parts.query or parts.username or parts.password
    return f"{parts.scheme}://{host}{port}/{HIDDEN if has_more else ''}"


class SlackUserConfig(ConfigModel):
    """The Proctor identity a Slack member acts as when clicking Approve / Deny.

    ``email`` is optional and only serves separation of duties: a requester known by that
    e-mail (under another subject) may not approve their own request from Slack either.
    """

    subject: Text
    groups: tuple[Text, ...] = ()
    email: Address | None = None

    @property
    def identity_key(self) -> tuple[str, frozenset[str], str | None]:
        """What makes two mappings the same identity (order of groups does not matter)."""
        return (self.subject, frozenset(self.groups), self.email.lower() if self.email else None)


SlackUserId = Annotated[str, AfterValidator(_slack_user_id)]
SlackUser = Annotated[SlackUserConfig, BeforeValidator(_slack_user)]


class _ChannelConfig(ConfigModel):
    """What every channel has: a name, a kind, the events it carries and a retry budget."""

    # Fields holding a secret (hidden when literal) and URLs (host kept, the rest hidden).
    secret_fields: ClassVar[tuple[str, ...]] = ()
    url_fields: ClassVar[tuple[str, ...]] = ("url",)
    default_events: ClassVar[tuple[str, ...]] = EVENT_TYPES

    name: ChannelName
    events: Events | None = None  # None: the kind's default_events
    # Delivery attempts per event, the first included (retries back off exponentially).
    max_attempts: Attempts = 6
    timeout: Annotated[Duration, Field(gt=0, le=120)] = 10.0  # per attempt

    @property
    def kind_name(self) -> str:
        return str(getattr(self, "kind", ""))

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self.events if self.events is not None else self.default_events)

    def shown_value(self, field_name: str) -> object:
        shown = super().shown_value(field_name)
        if shown is None or self.uses_reference(field_name):
            return shown
        if field_name in self.secret_fields:
            return HIDDEN
        if field_name in self.url_fields and isinstance(shown, str):
            return redact_url(shown)
        return shown

    def _check_secret_length(self, field_name: str) -> None:
        value = getattr(self, field_name)
        if value is not None and len(value) < MIN_SECRET_LENGTH:
            # Reported for the entry: a problem at the key would quote the (secret) value.
            raise PydanticCustomError(
                "secret_length",
                f"{field_name}: expected a secret of at least {MIN_SECRET_LENGTH} characters "
                "(for example the output of `openssl rand -hex 32`)",
            )


class WebhookChannelConfig(_ChannelConfig):
    """A CloudEvents 1.0 JSON POST signed with HMAC-SHA256 (``Proctor-Signature``)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("secret",)

    kind: Literal[ChannelKind.WEBHOOK] = ChannelKind.WEBHOOK
    url: ChannelUrl
    # Required: an unsigned webhook lets anyone who can reach the receiver forge approvals
    # news. Receivers check it with proctor.approvals.notify.verify_webhook_signature.
    secret: Text
    ca_file: ConfigPath | None = None  # a private CA for the receiver's certificate

    @model_validator(mode="after")
    def _strong_secret(self) -> Self:
        self._check_secret_length("secret")
        return self


class SlackChannelConfig(_ChannelConfig):
    """A Block Kit message with Approve / Deny buttons.

    ``url``: an incoming webhook (``https://hooks.slack.com/services/...``), or
    ``https://slack.com/api/chat.postMessage`` with a bot ``token`` and a ``channel``.
    ``signing_secret``: the Slack app's, for verifying button clicks at
    ``<public_url>/api/approvals/slack``; without it the message has no buttons (a click
    could not be verified), only a link.
    ``users``: Slack member id -> the Proctor identity that member decides as. A click from a
    member not listed is refused (the reply names the member id to add).
    """

    secret_fields: ClassVar[tuple[str, ...]] = ("signing_secret", "token")
    default_events: ClassVar[tuple[str, ...]] = HUMAN_DEFAULT_EVENTS

    kind: Literal[ChannelKind.SLACK] = ChannelKind.SLACK
    url: ChannelUrl
    signing_secret: Text | None = None
    token: Text | None = None  # xoxb-...: chat.postMessage
    channel: Text | None = None  # chat.postMessage: channel id or name
    users: dict[SlackUserId, SlackUser] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _token_and_channel(self) -> Self:
        if (self.token is None) != (self.channel is None):
            raise PydanticCustomError(
                "required_by_mode",
                "token and channel go together (chat.postMessage): give both, or neither for "
                "an incoming webhook URL",
            )
        if self.users and self.signing_secret is None:
            # Without the secret a click cannot be verified, so nobody could ever use the
            # mapping: say so rather than leave the operator wondering where the buttons are.
            raise PydanticCustomError(
                "required_by_mode",
                "users: Slack users can only decide through buttons, which need the Slack "
                "app's signing_secret; add signing_secret or remove users",
            )
        return self


class TeamsChannelConfig(_ChannelConfig):
    """An Adaptive Card posted to a Teams Workflows (or legacy incoming webhook) URL."""

    default_events: ClassVar[tuple[str, ...]] = HUMAN_DEFAULT_EVENTS

    kind: Literal[ChannelKind.TEAMS] = ChannelKind.TEAMS
    url: ChannelUrl


class EmailChannelConfig(_ChannelConfig):
    """Plain-text and HTML mail over SMTP.

    ``starttls`` (default) upgrades a plain connection (port 587); ``ssl`` connects with TLS
    from the first byte (port 465). Certificates are verified against the system CAs or
    ``ca_file``. With neither, mail and password cross the network in clear: only for a relay
    on loopback.
    """

    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    url_fields: ClassVar[tuple[str, ...]] = ()
    default_events: ClassVar[tuple[str, ...]] = HUMAN_DEFAULT_EVENTS

    kind: Literal[ChannelKind.EMAIL] = ChannelKind.EMAIL
    host: Host
    port: Port | None = None  # None: 465 with ssl, else 587 with starttls, else 25
    starttls: bool | None = None  # None: true unless ssl is
    ssl: bool = False
    ca_file: ConfigPath | None = None
    username: Text | None = None
    password: Text | None = None
    sender: Address = Field(alias="from")
    to: Annotated[tuple[Address, ...], Field(min_length=1)]
    subject_prefix: str = "[Proctor]"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ssl and self.starttls:
            raise PydanticCustomError(
                "tls_mode",
                "ssl and starttls are exclusive: ssl for TLS from the start (port 465), "
                "starttls to upgrade a plain connection (port 587)",
            )
        if (self.username is None) != (self.password is None):
            raise PydanticCustomError(
                "required_by_mode", "username and password go together: give both or neither"
            )
        if any(c in self.subject_prefix for c in "\r\n"):
            raise PydanticCustomError("subject_prefix", "subject_prefix: expected one line")
        return self

    @property
    def uses_starttls(self) -> bool:
        return self.starttls if self.starttls is not None else not self.ssl

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        if self.ssl:
            return 465
        return 587 if self.uses_starttls else 25


NotifyChannelConfig = (
    WebhookChannelConfig | SlackChannelConfig | TeamsChannelConfig | EmailChannelConfig
)

_MODELS: dict[str, type[_ChannelConfig]] = {
    ChannelKind.WEBHOOK.value: WebhookChannelConfig,
    ChannelKind.SLACK.value: SlackChannelConfig,
    ChannelKind.TEAMS.value: TeamsChannelConfig,
    ChannelKind.EMAIL.value: EmailChannelConfig,
}
_KINDS = ", ".join(_MODELS)


def _one_error(kind: str, message: str, loc: tuple[str | int, ...], value: object) -> None:
    raise ValidationError.from_exception_data(
        "NotifyChannelConfig",
        [InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)],
    )


def _channel(
    value: object, _handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> _ChannelConfig:
    if isinstance(value, _ChannelConfig):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("model_type", "expected a mapping of keys")
    kind = value.get("kind")
    if kind is None:
        _one_error("missing", f"required key is missing (one of: {_KINDS})", ("kind",), None)
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        _one_error("kind", f"expected one of {_KINDS}", ("kind",), kind)
    assert model is not None
    allowed = [field.alias or name for name, field in model.model_fields.items()]
    # Unknown keys are reported together with the entry's other problems, as pydantic would.
    errors = [
        InitErrorDetails(
            # "unused_for_mode": the translator adds no "found ...", which could be a secret.
            type=PydanticCustomError("unused_for_mode", _unknown_key(str(key), str(kind), allowed)),
            loc=(key,),
            input=None,
        )
        for key in value
        if key not in allowed
    ]
    known = {key: item for key, item in value.items() if key in allowed}
    try:
        channel = model.model_validate(known, context=info.context)
    except ValidationError as exc:
        errors += [_reraised(error) for error in exc.errors(include_url=False)]
    if errors:
        # Raised inside a validator, these are merged at this entry's location.
        raise ValidationError.from_exception_data("NotifyChannelConfig", errors)
    return channel


def _reraised(error: ErrorDetails) -> InitErrorDetails:
    # The message is already rendered: keep it (and the type the translator keys on) as is.
    message = error["msg"].replace("{", "{{").replace("}", "}}")
    return InitErrorDetails(
        type=PydanticCustomError(error["type"], message),
        loc=error["loc"],
        input=error["input"],
    )


def _unknown_key(key: str, kind: str, allowed: list[str]) -> str:
    message = f"unknown key {key!r} for kind {kind}"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; expected one of: {', '.join(allowed)}"


def _unique_names(channels: tuple[Any, ...]) -> tuple[Any, ...]:
    seen: dict[str, int] = {}
    errors = []
    for index, channel in enumerate(channels):
        first = seen.setdefault(channel.name, index)
        if first != index:
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError(
                        "duplicate_name",
                        f"duplicate channel name: notify[{first}] has the same name",
                    ),
                    loc=(index, "name"),
                    input=channel.name,
                )
            )
    errors += _conflicting_slack_users(channels)
    if errors:
        raise ValidationError.from_exception_data("NotifyChannels", errors)
    return channels


def _conflicting_slack_users(channels: tuple[Any, ...]) -> list[InitErrorDetails]:
    """A Slack member mapped by two channels must be the same Proctor identity in both: the
    callback route cannot tell which channel's message a click came from."""
    seen: dict[str, tuple[int, SlackUserConfig]] = {}
    errors = []
    for index, channel in enumerate(channels):
        if not isinstance(channel, SlackChannelConfig):
            continue
        for user_id, user in channel.users.items():
            first = seen.setdefault(user_id, (index, user))
            if first[0] != index and first[1].identity_key != user.identity_key:
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "slack_user_conflict",
                            f"Slack member {user_id} is mapped differently in "
                            f"notify[{first[0]}]; map each member to one identity",
                        ),
                        loc=(index, "users", user_id),
                        input=None,
                    )
                )
    return errors


# One entry of `approvals.notify`, validated by its kind. A wrap validator that never calls
# the handler: unlike a plain one it keeps the union's serializer for model_dump.
NotifyChannel = Annotated[NotifyChannelConfig, WrapValidator(_channel)]
# `approvals.notify`: channel names are unique (logs and metrics are labelled by them), and a
# Slack member maps to one identity.
NotifyChannels = Annotated[tuple[NotifyChannel, ...], AfterValidator(_unique_names)]
