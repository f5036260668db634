"""``proctor approvals|request|grants``: reviewers and requesters, through the gateway's API.

These commands talk to the gateway's HTTP API (``proctor.api.approvals_routes``) with a
Proctor token: ``$PROCTOR_URL`` and ``$PROCTOR_TOKEN`` when set, else the ``proctor login``
credentials. They never open the store: the gateway applies the workflows.

Exit status: 0 done; 1 refused, not found, no longer pending, or the gateway unreachable (the
message says which); 2 usage errors. ``proctor request --wait`` exits 0 only when access was
granted.

``--json`` prints exactly what the API returns (docs/approvals.md lists the fields): a request
object for ``show``/``approve``/``deny``/``withdraw``, an array of them for ``list``, an
array of grant objects for ``grants list``, and ``{"request": …, "grant": … | null}`` for
``request``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from proctor.cli.login_cmd import _request, api_target
from proctor.cli.options import json_option
from proctor.cli.store_open import format_duration, print_table, printable

EXIT_REFUSED = 1


class ApiRefused(click.ClickException):
    """The gateway said no (or could not be asked): exit status 1."""

    exit_code = EXIT_REFUSED


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One API call; the parsed JSON answer, or `ApiRefused` with the gateway's message."""
    gateway, token = api_target()
    if method == "POST" and body is None:
        body = {}
    status, answer = _request(f"{gateway}{path}", bearer=token, json_body=body)
    if 200 <= status < 300:
        return answer
    message = None
    if isinstance(answer, dict):
        message = answer.get("message") or answer.get("error_description") or answer.get("error")
    if status == 401:
        raise ApiRefused(f"the gateway refused the token: {message or 'HTTP 401'}")
    raise ApiRefused(str(message) if message else f"the gateway answered HTTP {status}")


def _emit(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def _age(iso: str | None, now: datetime) -> str:
    if not iso:
        return "-"
    return format_duration(now - datetime.fromisoformat(iso))


def _left(iso: str | None, now: datetime) -> str:
    if not iso:
        return "-"
    left = datetime.fromisoformat(iso) - now
    return "expired" if left.total_seconds() <= 0 else format_duration(left)


def _what(r: dict[str, Any], width: int = 60) -> str:
    if r.get("kind") == "access":
        seconds = int(r.get("duration_seconds") or 0)
        return f"access for {format_duration(timedelta(seconds=seconds))}"
    text = " ".join(str(r.get("statement") or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _check_id(value: str, prefix: str) -> str:
    if not re.fullmatch(rf"{prefix}[0-9a-f]{{1,64}}", value):
        raise click.BadParameter(f"expected an id like {prefix}1a2b3c")
    return value


# -- proctor approvals ---------------------------------------------------------------------------


@click.group("approvals")
def approvals_group() -> None:
    """Review held statements and access requests (as approver or requester)."""


@approvals_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Decided, expired and withdrawn too.")
@click.option("--mine", is_flag=True, help="Only requests you made.")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
@json_option
def list_command(show_all: bool, mine: bool, limit: int, as_json: bool) -> None:
    """Pending requests you may see (yours, and those you review), newest first."""
    query = {"status": "all" if show_all else "pending", "limit": str(limit)}
    if mine:
        query["mine"] = "1"
    found = call("GET", "/api/approvals?" + urllib.parse.urlencode(query))
    if as_json:
        _emit(found)
        return
    if not found:
        click.echo("No requests." if show_all else "No pending requests.")
        return
    now = datetime.now(UTC)
    print_table(
        ["ID", "STATUS", "REQUESTER", "CONNECTION", "AGE", "EXPIRES IN", "YOU", "WHAT"],
        [
            [
                r["id"],
                r["status"],
                r["requester"],
                r["connection"],
                _age(r.get("created_at"), now),
                _left(r.get("expires_at"), now) if r["status"] == "pending" else "-",
                "decide" if r.get("can_decide") else ("mine" if r.get("can_withdraw") else "-"),
                _what(r),
            ]
            for r in found
        ],
    )


def _show(r: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    lines = [
        ("request", r["id"]),
        ("kind", r["kind"]),
        ("status", r["status"]),
        ("requester", f"{r['requester']} (groups: {', '.join(r['requester_groups']) or 'none'})"),
        ("connection", r["connection"]),
        ("workflow", r["workflow"]),
    ]
    if r["kind"] == "statement":
        lines += [("rule", r.get("rule") or "-"), ("session", r.get("session_id") or "-")]
        lines += [("scope", r.get("scope") or "statement")]
    else:
        lines += [("asks for", _what(r))]
    if r.get("reason"):
        lines.append(("reason", r["reason"]))
    lines.append(("requested", f"{r['created_at']} ({_age(r['created_at'], now)} ago)"))
    if r["status"] == "pending":
        lines.append(("expires", f"{r['expires_at']} (in {_left(r['expires_at'], now)})"))
        lines.append(("still needs", r.get("still_needed") or "-"))
    else:
        lines.append(("decided", r.get("decided_at") or "-"))
    if r.get("url"):
        lines.append(("url", r["url"]))
    for key, value in lines:
        click.echo(f"{key + ':':<13}{printable(str(value))}")
    if r["kind"] == "statement":
        click.echo("statement:")
        for line in str(r.get("statement") or "").splitlines() or [""]:
            click.echo(f"  {printable(line)}")
        if r.get("statement_hash"):
            click.echo(f"sha256:      {r['statement_hash']}")
    if r.get("decisions"):
        click.echo("decisions:")
        for d in r["decisions"]:
            verb = "approved" if d["approve"] else "denied"
            glass = " (BREAK-GLASS)" if d.get("break_glass") else ""
            reason = f": {d['reason']}" if d.get("reason") else ""
            click.echo(printable(f"  {d['at']}  {verb} by {d['approver']}{glass}{reason}"))
    if r.get("can_decide"):
        click.echo(f"\nDecide: proctor approvals approve|deny {r['id']} --reason …")


@approvals_group.command("show")
@click.argument("request_id")
@json_option
def show_command(request_id: str, as_json: bool) -> None:
    """One request: the statement (or access asked for), decisions, what it still needs."""
    found = call("GET", f"/api/approvals/{_check_id(request_id, 'apr_')}")
    if as_json:
        _emit(found)
    else:
        _show(found)


def _decided(r: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _emit(r)
        return
    status = r["status"]
    if status == "pending":
        click.echo(f"Recorded; {r['id']} still needs {r.get('still_needed') or 'more approvals'}.")
    else:
        click.echo(f"{r['id']} is now {status}.")


@approvals_group.command("approve")
@click.argument("request_id")
@click.option("--reason", help="Why (some workflows require one; break-glass always does).")
@click.option(
    "--scope",
    type=click.Choice(["statement", "session"]),
    help="statement (default): this one execution; session: the identical statement for the "
    "rest of that session.",
)
@click.option(
    "--break-glass",
    is_flag=True,
    help="Approve your own request where the workflow allows it (flagged and notified).",
)
@json_option
def approve_command(
    request_id: str, reason: str | None, scope: str | None, break_glass: bool, as_json: bool
) -> None:
    """Approve a request: a held statement runs as soon as enough approvals are in."""
    body: dict[str, Any] = {"reason": reason, "break_glass": break_glass}
    if scope is not None:
        body["scope"] = scope
    found = call("POST", f"/api/approvals/{_check_id(request_id, 'apr_')}/approve", body)
    _decided(found, as_json)


@approvals_group.command("deny")
@click.argument("request_id")
@click.option("--reason", help="Why; the requester sees it.")
@json_option
def deny_command(request_id: str, reason: str | None, as_json: bool) -> None:
    """Deny a request: a held statement fails (42501) and its session goes on."""
    found = call("POST", f"/api/approvals/{_check_id(request_id, 'apr_')}/deny", {"reason": reason})
    _decided(found, as_json)


@approvals_group.command("withdraw")
@click.argument("request_id")
@json_option
def withdraw_command(request_id: str, as_json: bool) -> None:
    """Withdraw your own pending request."""
    found = call("POST", f"/api/approvals/{_check_id(request_id, 'apr_')}/withdraw")
    _decided(found, as_json)


# -- proctor request -----------------------------------------------------------------------------


@click.command("request")
@click.argument("connection")
@click.option("--duration", required=True, help="How long, e.g. 30m, 2h (at most the maximum).")
@click.option("--reason", help="Why, e.g. a ticket (usually required).")
@click.option("--wait", is_flag=True, help="Wait for the decision; exit 0 only when granted.")
@click.option(
    "--timeout", type=float, default=None, help="Seconds to wait (default: until it expires)."
)
@json_option
def request_command(
    connection: str,
    duration: str,
    reason: str | None,
    wait: bool,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Ask for just-in-time access to CONNECTION for a while."""
    made = call(
        "POST",
        "/api/access-requests",
        {"connection": connection, "duration": duration, "reason": reason},
    )
    if not wait:
        if as_json:
            _emit({"request": made, "grant": None})
        else:
            click.echo(f"Requested access to {connection}: {made['id']} (pending).")
            if made.get("url"):
                click.echo(f"Reviewers: {made['url']}")
            click.echo(f"Check with: proctor approvals show {made['id']}")
        return
    if not as_json:
        click.echo(f"Requested access to {connection}: {made['id']}; waiting for a decision…")
    deadline = None if timeout is None else time.monotonic() + timeout
    current = made
    while current["status"] == "pending":
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(1.0)
        current = call("GET", f"/api/approvals/{made['id']}")
    grant = None
    if current["status"] == "approved":
        grants = call("GET", "/api/access-grants?mine=1")
        grant = next((g for g in grants if g.get("request_id") == made["id"]), None)
    if as_json:
        _emit({"request": current, "grant": grant})
    elif grant is not None:
        click.echo(
            f"Granted by {grant['granted_by']}: {grant['id']} for {connection} until "
            f"{grant['expires_at']}."
        )
    if current["status"] == "pending":
        raise ApiRefused(f"{made['id']} is still pending (gave up waiting)")
    if current["status"] != "approved":
        last = (current.get("decisions") or [{}])[-1]
        why = f" by {last['approver']}: {last.get('reason') or 'no reason'}" if last else ""
        raise ApiRefused(f"{made['id']} was {current['status']}{why}")


# -- proctor grants ------------------------------------------------------------------------------


@click.group("grants")
def grants_group() -> None:
    """Just-in-time access grants."""


@grants_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Everyone's (auditors and admins).")
@click.option("--active", is_flag=True, help="Only grants in force now.")
@json_option
def grants_list_command(show_all: bool, active: bool, as_json: bool) -> None:
    """Your access grants (or everyone's with --all), newest first."""
    query = {} if show_all else {"mine": "1"}
    if active:
        query["active"] = "1"
    found = call("GET", "/api/access-grants?" + urllib.parse.urlencode(query))
    if as_json:
        _emit(found)
        return
    if not found:
        click.echo("No access grants.")
        return
    now = datetime.now(UTC)
    print_table(
        ["ID", "SUBJECT", "CONNECTION", "STATE", "UNTIL", "GRANTED BY", "REASON"],
        [
            [
                g["id"],
                g["subject"],
                g["connection"],
                "active"
                if g["active"]
                else ("revoked" if g.get("revoked_at") else _state_of(g, now)),
                g["expires_at"],
                g["granted_by"],
                g.get("reason") or "-",
            ]
            for g in found
        ],
    )


def _state_of(grant: dict[str, Any], now: datetime) -> str:
    return "expired" if datetime.fromisoformat(grant["expires_at"]) <= now else "not yet"


@grants_group.command("revoke")
@click.argument("grant_id")
@json_option
def grants_revoke_command(grant_id: str, as_json: bool) -> None:
    """End an access grant now (admins); sessions relying on it end within seconds."""
    found = call("POST", f"/api/access-grants/{_check_id(grant_id, 'grt_')}/revoke")
    if as_json:
        _emit(found)
    else:
        click.echo(f"Revoked {found['id']} ({found['subject']} on {found['connection']}).")


COMMANDS: list[click.Command] = [approvals_group, request_command, grants_group]
