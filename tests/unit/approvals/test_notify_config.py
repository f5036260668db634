"""approvals.notify channel configuration: validation, located problems, secrets hidden."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from proctor.config.base import ConfigModel, record_references
from proctor.config.errors import ConfigProblem
from proctor.config.notify import (
    HUMAN_DEFAULT_EVENTS,
    EmailChannelConfig,
    NotifyChannels,
    SlackChannelConfig,
    WebhookChannelConfig,
    redact_url,
)
from proctor.config.references import resolve_references
from proctor.config.validation import validation_problems
from proctor.config.yaml_source import parse_yaml

WEBHOOK_SECRET = "whsec-S3CRET-1234567890"
SLACK_SIGNING = "slack-S3CRET-abcdef0123"
SLACK_TOKEN = "xoxb-S3CRET-999"
SMTP_PASSWORD = "smtp-S3CRET-pw"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/S3CRETtoken"
TEAMS_URL = "https://prod.westeurope.logic.azure.com/workflows/abc/triggers?sig=S3CRETsig"
SECRETS = (WEBHOOK_SECRET, SLACK_SIGNING, SLACK_TOKEN, SMTP_PASSWORD, "S3CRETtoken", "S3CRETsig")


class Root(ConfigModel):
    """Stands in for the approvals section the core hooks this into."""

    notify: NotifyChannels = ()


def load(text: str, environ: dict[str, str] | None = None) -> Root | list[ConfigProblem]:
    """What load_config does, for a document whose root is ``Root``."""
    document = parse_yaml(textwrap.dedent(text), "proctor.yaml")
    resolved = resolve_references(document.data, Path("/etc/proctor"), environ or {})
    assert not resolved.failures, resolved.failures
    try:
        root = Root.model_validate(resolved.data)
    except ValidationError as exc:
        return validation_problems(
            exc.errors(include_url=False), document, Root, resolved.references, set()
        )
    record_references(root, resolved.references)
    return root


def loaded(text: str, environ: dict[str, str] | None = None) -> Root:
    result = load(text, environ)
    assert isinstance(result, Root), "\n".join(str(p) for p in result)
    return result


def problems(text: str) -> dict[str, str]:
    result = load(text)
    assert isinstance(result, list), "expected problems"
    return {p.path: p.message for p in result}


EXAMPLE = """\
notify:
  - {name: sec-webhook, kind: webhook, url: https://hooks.example/proctor,
     secret: "${env:WEBHOOK_SECRET}", events: [requested, approved, denied, break_glass]}
  - {name: slack-dba, kind: slack, url: "${env:SLACK_WEBHOOK_URL}",
     signing_secret: "${env:SLACK_SIGNING_SECRET}"}
  - {name: teams, kind: teams, url: "${env:TEAMS_WEBHOOK_URL}"}
  - {name: mail, kind: email, host: smtp.example, port: 587, starttls: true,
     username: proctor, password: "${env:SMTP_PASSWORD}", from: proctor@example,
     to: [dba@example]}
"""
ENVIRON = {
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "SLACK_WEBHOOK_URL": SLACK_URL,
    "SLACK_SIGNING_SECRET": SLACK_SIGNING,
    "TEAMS_WEBHOOK_URL": TEAMS_URL,
    "SMTP_PASSWORD": SMTP_PASSWORD,
}


def test_the_documented_example_loads() -> None:
    root = loaded(EXAMPLE, ENVIRON)
    webhook, slack, teams, mail = root.notify
    assert isinstance(webhook, WebhookChannelConfig) and webhook.secret == WEBHOOK_SECRET
    assert webhook.event_types == {"requested", "approved", "denied", "break_glass"}
    assert isinstance(slack, SlackChannelConfig) and slack.url == SLACK_URL
    assert slack.event_types == set(HUMAN_DEFAULT_EVENTS)
    assert teams.kind_name == "teams"
    assert isinstance(mail, EmailChannelConfig)
    assert (mail.sender, mail.to, mail.effective_port, mail.uses_starttls) == (
        "proctor@example",
        ("dba@example",),
        587,
        True,
    )


def test_references_show_as_written_never_resolved() -> None:
    root = loaded(EXAMPLE, ENVIRON)
    shown = repr(root) + str(root.public_view())
    for secret in SECRETS:
        assert secret not in shown
    assert "${env:WEBHOOK_SECRET}" in shown and "${env:SLACK_WEBHOOK_URL}" in shown


LITERAL = f"""\
notify:
  - {{name: hook, kind: webhook, url: "https://hooks.example/p?token=S3CRETtoken",
     secret: {WEBHOOK_SECRET}}}
  - {{name: slack, kind: slack, url: "{SLACK_URL}", signing_secret: {SLACK_SIGNING},
     token: {SLACK_TOKEN}, channel: C123}}
  - {{name: teams, kind: teams, url: "{TEAMS_URL}"}}
  - {{name: mail, kind: email, host: smtp.example, username: u, password: {SMTP_PASSWORD},
     from: p@example, to: [d@example]}}
"""


def test_literal_secrets_and_urls_are_hidden() -> None:
    root = loaded(LITERAL)
    shown = repr(root) + str(root.public_view())
    for secret in SECRETS:
        assert secret not in shown
    view = root.public_view()["notify"]
    assert isinstance(view, list)
    assert view[0]["url"] == "https://hooks.example/<hidden>"
    assert view[0]["secret"] == "<hidden>"
    assert view[1]["url"] == "https://hooks.slack.com/<hidden>"
    assert view[1]["token"] == "<hidden>" and view[1]["channel"] == "C123"
    assert view[2]["url"] == "https://prod.westeurope.logic.azure.com/<hidden>"
    assert view[3]["password"] == "<hidden>" and view[3]["username"] == "u"
    # The gateway still gets the values.
    slack = root.notify[1]
    assert isinstance(slack, SlackChannelConfig) and slack.url == SLACK_URL


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.example", "https://h.example/"),
        ("https://h.example/", "https://h.example/"),
        ("https://h.example:8443/x", "https://h.example:8443/<hidden>"),
        ("https://u:p@h.example", "https://h.example/<hidden>"),
        ("http://[::1]:80/x?a=b", "http://[::1]:80/<hidden>"),
        ("nonsense", "<hidden>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_problems_are_located_and_never_quote_secrets() -> None:
    found = problems(
        f"""\
        notify:
          - {{name: hook, kind: webhook, url: "http://hooks.example/S3CRETtoken",
             secret: short}}
          - {{name: slack, kind: slack, url: "{SLACK_URL}", signing_secert: x}}
          - {{name: Bad Name, kind: fax}}
          - {{name: mail, kind: email, host: smtp.example, from: p@example, to: [],
             ssl: true, starttls: true}}
          - {{kind: teams, url: "{TEAMS_URL}", events: [requested, approve]}}
        """
    )
    assert found["notify[0].url"].startswith("expected an https URL")
    assert "not shown" in found["notify[0].url"]
    assert found["notify[1].signing_secert"] == (
        "unknown key 'signing_secert' for kind slack; did you mean 'signing_secret'?"
    )
    assert found["notify[2].kind"].startswith("expected one of webhook, slack, teams, email")
    assert "notify[4].name" in found and found["notify[4].name"] == "required key is missing"
    assert found["notify[4].events[1]"].startswith("expected one of requested, decision")
    assert "notify[3].to" in found
    for message in found.values():
        for secret in (*SECRETS, "short"):
            assert secret not in message


def test_entry_level_checks() -> None:
    found = problems(
        """\
        notify:
          - {name: hook, kind: webhook, url: https://h.example, secret: short}
          - {name: s, kind: slack, url: https://hooks.slack.com/x, token: xoxb-1}
          - {name: m, kind: email, host: smtp.example, from: p@example, to: [d@example],
             ssl: true, starttls: true}
          - {name: m2, kind: email, host: smtp.example, from: p@example, to: [d@example],
             username: u}
        """
    )
    assert found["notify[0]"].startswith("secret: expected a secret of at least 16 characters")
    assert "short" not in found["notify[0]"]
    assert found["notify[1]"].startswith("token and channel go together")
    assert found["notify[2]"].startswith("ssl and starttls are exclusive")
    assert found["notify[3]"].startswith("username and password go together")


def test_names_are_unique() -> None:
    found = problems(
        """\
        notify:
          - {name: t, kind: teams, url: https://a.example/x}
          - {name: t, kind: teams, url: https://b.example/x}
        """
    )
    assert found == {"notify[1].name": "duplicate channel name: notify[0] has the same name"}


def test_events_all_and_defaults() -> None:
    root = loaded(
        """\
        notify:
          - {name: a, kind: teams, url: https://a.example/x, events: all}
          - {name: b, kind: webhook, url: https://b.example/x, secret: 0123456789abcdef}
          - {name: c, kind: teams, url: http://127.0.0.1:9/x, events: [denied, denied]}
        """
    )
    a, b, c = root.notify
    assert "withdrawn" in a.event_types and "withdrawn" in b.event_types
    assert c.events == ("denied",)
    assert problems("notify: [{name: a, kind: teams, url: https://a.example, events: requested}]")


@pytest.mark.parametrize(
    ("extra", "port", "starttls"),
    [("", 587, True), ("ssl: true", 465, False), ("starttls: false", 25, False)],
)
def test_email_ports(extra: str, port: int, starttls: bool) -> None:
    root = loaded(
        "notify: [{name: m, kind: email, host: smtp.example, from: p@example, to: [d@x.example]"
        + (", " + extra if extra else "")
        + "}]"
    )
    mail = root.notify[0]
    assert isinstance(mail, EmailChannelConfig)
    assert (mail.effective_port, mail.uses_starttls) == (port, starttls)


def test_addresses_cannot_inject_headers() -> None:
    found = problems(
        'notify: [{name: m, kind: email, host: smtp.example, from: "p@example\\nBcc: x@y",'
        " to: [d@example]}]"
    )
    assert found["notify[0].from"].startswith("expected a plain e-mail address")


# -- Slack members -> Proctor identities (the button callback) -----------------------------------


def test_slack_users_map_members_to_identities() -> None:
    root = loaded(
        f"""\
        notify:
          - name: slack
            kind: slack
            url: "{SLACK_URL}"
            signing_secret: "${{env:SLACK_SIGNING_SECRET}}"
            users:
              U024BE7LH: bob
              W0G9QF9C6: {{subject: carol, groups: [dba, approver], email: carol@example.com}}
        """,
        {"SLACK_SIGNING_SECRET": SLACK_SIGNING},
    )
    slack = root.notify[0]
    assert isinstance(slack, SlackChannelConfig)
    bob, carol = slack.users["U024BE7LH"], slack.users["W0G9QF9C6"]
    assert (bob.subject, bob.groups, bob.email) == ("bob", (), None)
    assert (carol.subject, carol.groups, carol.email) == (
        "carol",
        ("dba", "approver"),
        "carol@example.com",
    )
    # The mapping is not secret: it shows in the public view (and the fingerprint).
    assert slack.public_view()["users"]["U024BE7LH"] == {
        "subject": "bob",
        "groups": [],
        "email": None,
    }
    assert slack.public_view()["signing_secret"] == "${env:SLACK_SIGNING_SECRET}"


def test_slack_users_without_a_signing_secret_are_refused() -> None:
    found = problems(
        """\
        notify:
          - {name: s, kind: slack, url: https://hooks.slack.com/x, users: {U024BE7LH: bob}}
        """
    )
    assert found["notify[0]"].startswith("users: Slack users can only decide through buttons")
    assert "signing_secret" in found["notify[0]"]


def test_slack_member_ids_and_mappings_are_checked_where_written() -> None:
    found = problems(
        f"""\
        notify:
          - name: s
            kind: slack
            url: https://hooks.slack.com/x
            signing_secret: {SLACK_SIGNING}
            users:
              bob: bob
              u024be7lh: bob
              U1111111: {{subject: ""}}
              U2222222: {{subject: x, grops: [a]}}
              U3333333: {{subject: x, email: "x@y\\nBcc: z@w"}}
              U4444444: [bob]
        """
    )
    assert found["notify[0].users.bob"].startswith("invalid key: expected a Slack member id")
    assert "notify[0].users.u024be7lh" in found
    assert found["notify[0].users.U1111111.subject"].startswith("expected a non-empty string")
    assert found["notify[0].users.U2222222.grops"] == "unknown key 'grops'"
    assert found["notify[0].users.U3333333.email"].startswith("expected a plain e-mail address")
    assert "notify[0].users.U4444444" in found
    for message in found.values():
        assert SLACK_SIGNING not in message


def test_a_slack_member_maps_to_one_identity_across_channels() -> None:
    found = problems(
        f"""\
        notify:
          - {{name: a, kind: slack, url: https://hooks.slack.com/a, signing_secret: {SLACK_SIGNING},
             users: {{U024BE7LH: bob, U0G9QF9C6: {{subject: carol, groups: [dba, x]}}}}}}
          - {{name: b, kind: slack, url: https://hooks.slack.com/b, signing_secret: {SLACK_SIGNING},
             users: {{U024BE7LH: mallory, U0G9QF9C6: {{subject: carol, groups: [x, dba]}}}}}}
        """
    )
    assert found == {
        "notify[1].users.U024BE7LH": "Slack member U024BE7LH is mapped differently in "
        "notify[0]; map each member to one identity"
    }
