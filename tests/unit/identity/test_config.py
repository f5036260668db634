"""The identity: section of proctor.yaml: precise problems, secrets never shown."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proctor.config import ConfigError, config_warnings, load_config

BASE = """\
version: 1
connections:
  - name: shop
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    credential: {username: app}
"""


def load(tmp_path: Path, identity: str, environ: dict[str, str] | None = None) -> object:
    path = tmp_path / "proctor.yaml"
    path.write_text(BASE + "identity:\n" + textwrap.indent(textwrap.dedent(identity), "  "))
    return load_config(path, environ=environ or {})


def problems(tmp_path: Path, identity: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, identity)
    return [str(p).split(": ", 1)[1] for p in caught.value.problems]


def test_a_full_section_loads(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        public_url: https://proctor.acme.test/
        providers:
          - name: okta
            issuer: https://acme.okta.com/oauth2/default
            client_id: 0oa1
            client_secret: ${env:OKTA_SECRET}
            subject_claim: email
            groups: {claims: [groups], map: {okta-dba: [dba]}}
        workload:
          - name: github
            issuer: https://token.actions.githubusercontent.com
            audiences: [https://proctor.acme.test]
            rules:
              - match: {repository: acme/payments, ref: refs/heads/main}
                subject: ci:payments-deploy
                groups: [ci]
                connections: [shop]
        access:
          - {connections: [shop], groups: [dba, ci]}
        roles:
          admin: {groups: [proctor-admins]}
        """,
        environ={"OKTA_SECRET": "s3cret"},
    )
    identity = config.identity  # type: ignore[attr-defined]
    assert identity.public_url == "https://proctor.acme.test"
    assert identity.providers[0].client_secret == "s3cret"
    assert "s3cret" not in repr(config)
    assert "${env:OKTA_SECRET}" in repr(config)
    assert config_warnings(config) == [] or all(  # type: ignore[arg-type]
        "client_secret" not in w.path
        for w in config_warnings(config)  # type: ignore[arg-type]
    )


def test_literal_client_secret_is_hidden_and_warned(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        providers:
          - {name: kc, issuer: "https://kc.test/realms/a", client_id: p, client_secret: hunter2}
        """,
    )
    assert "hunter2" not in repr(config)
    assert "hunter2" not in config.fingerprint()  # type: ignore[attr-defined]
    warnings = config_warnings(config)  # type: ignore[arg-type]
    assert any(w.path == "identity.providers[0].client_secret" for w in warnings)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "providers: [{name: a, issuer: 'http://idp.example', client_id: x}]",
            "identity.providers[0].issuer: expected an https URL (http only for a loopback "
            "address), found 'http://idp.example'",
        ),
        (
            "providers: [{name: a, issuer: 'https://idp.test', client_id: x, algorithms: [HS256]}]",
            "identity.providers[0].algorithms[0]: unsigned (none) and shared-secret (HS*) "
            "algorithms are never accepted",
        ),
        (
            "providers: [{name: a, issuer: 'https://idp.test', client_id: x, algorithms: [none]}]",
            "identity.providers[0].algorithms[0]: unsigned (none)",
        ),
        (
            "providers: [{name: a, issuer: 'https://idp.test', client_id: x, clock_skew: 1h}]",
            "identity.providers[0].clock_skew: expected at most 5m",
        ),
        (
            "workload: [{name: g, issuer: 'https://g.test', audiences: [a], "
            "rules: [{match: {repo: x}, subject: ci:x, connections: [nope]}]}]",
            "identity.workload[0].rules[0].connections[0]: no connection named 'nope' "
            "(connections: shop)",
        ),
        (
            "workload: [{name: g, issuer: 'https://g.test', audiences: [a], rules: []}]",
            "identity.workload[0].rules:",
        ),
        (
            "workload: [{name: g, issuer: 'https://g.test', audiences: [a], "
            "rules: [{match: {}, subject: ci:x}]}]",
            "identity.workload[0].rules[0].match:",
        ),
        (
            "workload: [{name: g, issuer: 'https://g.test', audiences: [a], "
            "rules: [{match: {ref: {glob: a, regex: b}}, subject: ci:x}]}]",
            "identity.workload[0].rules[0].match.ref: expected a string, a list of strings, "
            "{glob: PATTERN} or {regex: PATTERN}",
        ),
        (
            "workload: [{name: g, issuer: 'https://g.test', audiences: [a], "
            "rules: [{match: {ref: {regex: '('}}, subject: ci:x}]}]",
            "identity.workload[0].rules[0].match.ref: not a valid regular expression",
        ),
        (
            "workload: [{name: g, issuer: 'https://g.test', audiences: [a], "
            "rules: [{match: {ref: x}, subject: 'ci x'}]}]",
            "identity.workload[0].rules[0].subject: expected a subject",
        ),
        (
            "access: [{connections: [shop]}]",
            "identity.access[0]: name who (groups: [...] or subjects: [...])",
        ),
        (
            "access: [{groups: [a]}]",
            "identity.access[0]: name the connections",
        ),
        (
            "access: [{connections: [shopp], groups: [a]}]",
            "identity.access[0].connections[0]: no connection named 'shopp'",
        ),
        (
            "providers: [{name: a, issuer: 'https://i.test', client_id: x, scope: [openid]}]",
            "identity.providers[0].scope: unknown key 'scope'; did you mean 'scopes'?",
        ),
        (
            "providers: [{name: a, issuer: 'https://i.test', client_id: x}]\n"
            "workload: [{name: a, issuer: 'https://g.test', audiences: [a], "
            "rules: [{match: {r: x}, subject: ci:x}]}]",
            "identity: duplicate provider name 'a': used by providers[0] and workload[0]",
        ),
    ],
)
def test_problems(tmp_path: Path, section: str, expected: str) -> None:
    found = problems(tmp_path, section)
    assert any(p.startswith(expected) for p in found), found


def test_secret_values_are_not_shown_in_problems(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "providers: [{name: a, issuer: 'https://i.test', client_id: x, client_secret: 7}]",
    )
    assert any("client_secret" in p and "(not shown)" in p for p in found), found


def test_jwks_file_must_be_a_jwks(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("not json")
    found = problems(
        tmp_path,
        "workload: [{name: g, issuer: 'https://g.test', audiences: [a], jwks_file: bad.json, "
        "rules: [{match: {r: x}, subject: ci:x}]}]",
    )
    assert any("expected a JWKS document" in p for p in found), found
    found = problems(
        tmp_path,
        "workload: [{name: g, issuer: 'https://g.test', audiences: [a], jwks_file: nope.json, "
        "rules: [{match: {r: x}, subject: ci:x}]}]",
    )
    assert any("no such file" in p for p in found), found
