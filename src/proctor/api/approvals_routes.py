"""The approvals REST API (for ``proctor approvals``/``request``/``grants`` and a web console).

| route | who | what |
|---|---|---|
| ``GET /api/approvals`` | any | requests the caller may see (``status``, ``mine``, ``limit``) |
| ``GET /api/approvals/{id}`` | may see it | one request, its decisions, what it still needs |
| ``POST /api/approvals/{id}/approve`` | approvers | ``{"reason", "scope", "break_glass"}`` |
| ``POST /api/approvals/{id}/deny`` | approvers | ``{"reason"}`` |
| ``POST /api/approvals/{id}/withdraw`` | the requester | give up a pending request |
| ``GET /api/approvals/events`` | any | Server-Sent Events: request changes (``mine``) |
| ``POST /api/access-requests`` | any | ``{"connection", "duration": "2h", "reason"}`` |
| ``GET /api/access-grants`` | any | grants (``mine``, ``active``; auditors, admins: all) |
| ``POST /api/access-grants/{id}/revoke`` | admin | end a grant (its sessions end too) |
| ``POST /api/approvals/slack`` | Slack | Approve / Deny clicks (``slack_routes``) |
| ``GET /approvals/{id}`` | anyone | a small page: status, and how to decide with the CLI |

Every ``/api`` route but the Slack callback (signed by Slack; its members mapped to Proctor
identities in the configuration) takes ``Authorization: Bearer prt_…`` (a Proctor token).
Who sees what: admins and auditors see every request; approvers (the API role, or anyone a
request's workflow names as approver) see requests they review; everyone sees their own. Who
may *decide* is the workflow's business (`ApprovalService.decide`), never the API role's.

Errors are JSON ``{"error": code, "message": text}``: 400 ``bad_request``, 401
``invalid_token``, 403 ``forbidden`` (the refusal says why: separation of duties, not an
approver, reason missing ...), 404 ``not_found``, 409 ``conflict`` (no longer pending,
already answered), 503 ``unavailable`` (this gateway's store cannot hold approvals).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from proctor.api.approval_feed import CLOSED, ApprovalFeed
from proctor.api.identity_setup import IdentityRuntime
from proctor.api.pages import NO_STORE, page
from proctor.api.routes import bearer_identity
from proctor.api.slack_routes import add_slack_route
from proctor.approvals import workflows as wf
from proctor.approvals.notify.payload import request_json as shared_request_json
from proctor.approvals.notify.payload import timestamp
from proctor.approvals.service import (
    ApprovalService,
    DecisionConflict,
    DecisionRefused,
    RequestRefused,
)
from proctor.config.units import parse_duration
from proctor.identity.access import Role
from proctor.identity.exchange import OAuthError
from proctor.model import (
    AccessGrant,
    ApprovalEvent,
    ApprovalRequest,
    Identity,
    RequestStatus,
    Scope,
)
from proctor.server.reviews import ServerReviews

log = logging.getLogger("proctor.api")

REQUEST_ID = r"apr_[0-9a-f]{1,64}"
GRANT_ID = r"grt_[0-9a-f]{1,64}"
MAX_BODY = 16 * 1024
MAX_REASON = 2000
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
HEARTBEAT = 15.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


def _error(status: int, error: str, message: str) -> web.Response:
    headers = dict(NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return web.json_response({"error": error, "message": message}, status=status, headers=headers)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=NO_STORE)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


# -- JSON shapes (documented in docs/approvals.md; keep them stable) -----------------------------


def request_json(
    request: ApprovalRequest, service: ApprovalService, viewer: Identity | None = None
) -> dict[str, Any]:
    """The request as notifications carry it (one shape everywhere), plus what the API
    knows: what it still needs, where to act, and what the viewer may do."""
    pending = request.status is RequestStatus.PENDING
    body = shared_request_json(request)
    body["still_needed"] = _still_needed(service, request) if pending else None
    body["url"] = service.url(request.id)
    if viewer is not None:
        body["can_decide"] = can_decide(service, viewer, request)
        body["can_withdraw"] = pending and is_own(viewer, request)
    return body


def grant_json(grant: AccessGrant, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": grant.id,
        "subject": grant.subject,
        "connection": grant.connection,
        "granted_by": grant.granted_by,
        "reason": grant.reason,
        "request_id": grant.request_id,
        "starts_at": _iso(grant.starts_at),
        "expires_at": _iso(grant.expires_at),
        "revoked_at": _iso(grant.revoked_at),
        "active": grant.active(now or datetime.now(UTC)),
    }


def event_json(event: ApprovalEvent, service: ApprovalService, viewer: Identity) -> str:
    return json.dumps(
        {
            "type": event.type,
            "at": _iso(event.at),
            "actor": event.actor,
            "request": request_json(event.request, service, viewer),
        }
    )


def _still_needed(service: ApprovalService, request: ApprovalRequest) -> str | None:
    try:
        return service.still_needed(request)
    except KeyError:  # the workflow has left the configuration
        return None


# -- who may see and do what ---------------------------------------------------------------------


def is_own(identity: Identity, request: ApprovalRequest) -> bool:
    return identity.subject == request.requester or bool(
        wf.persons(identity) & request.requester_persons
    )


def _workflow_approver(service: ApprovalService, identity: Identity, name: str) -> bool:
    try:
        return wf.is_approver(service.config.workflow(name), identity)
    except KeyError:
        return False


def can_decide(service: ApprovalService, identity: Identity, request: ApprovalRequest) -> bool:
    if request.status is not RequestStatus.PENDING or is_own(identity, request):
        return False
    if any(d.approver == identity.subject for d in request.decisions):
        return False
    return _workflow_approver(service, identity, request.workflow)


def may_see(
    service: ApprovalService,
    identity: Identity,
    roles: Collection[Role],
    request: ApprovalRequest,
) -> bool:
    if Role.ADMIN in roles or Role.AUDITOR in roles or Role.APPROVER in roles:
        return True
    return is_own(identity, request) or _workflow_approver(service, identity, request.workflow)


# -- routes --------------------------------------------------------------------------------------


def add_approval_routes(
    app: web.Application,
    runtime: IdentityRuntime,
    reviews: ServerReviews | None,
    connections: Collection[str],
) -> None:
    routes = ApprovalRoutes(runtime, reviews, frozenset(connections))
    add_slack_route(app, reviews)
    app.router.add_get("/api/approvals", routes.wrap(routes.list_requests))
    app.router.add_get("/api/approvals/events", routes.wrap(routes.events))
    app.router.add_get(f"/api/approvals/{{id:{REQUEST_ID}}}", routes.wrap(routes.get))
    for action in ("approve", "deny", "withdraw"):
        app.router.add_post(f"/api/approvals/{{id:{REQUEST_ID}}}/{action}", routes.wrap(routes.act))
    app.router.add_post("/api/access-requests", routes.wrap(routes.request_access))
    app.router.add_get("/api/access-grants", routes.wrap(routes.grants))
    app.router.add_post(f"/api/access-grants/{{id:{GRANT_ID}}}/revoke", routes.wrap(routes.revoke))
    app.router.add_get("/approvals/{id}", routes.page)
    app.on_shutdown.append(routes.shutdown)


class ApprovalRoutes:
    def __init__(
        self, runtime: IdentityRuntime, reviews: ServerReviews | None, connections: frozenset[str]
    ) -> None:
        self.rt = runtime
        self.reviews = reviews
        self.connections = connections
        self.feed = (
            ApprovalFeed(reviews.service, reviews.service.config.poll_interval)
            if reviews is not None
            else None
        )
        if reviews is not None and self.feed is not None:
            reviews.service.subscribe(self.feed.publish)
            reviews.add_change_listener(self.feed.nudge)
        self.heartbeat = HEARTBEAT

    def wrap(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ApiError as exc:
                return _error(exc.status, exc.error, str(exc))
            except OAuthError as exc:
                return _error(exc.status, exc.error, exc.description)

        return wrapped

    # -- helpers --------------------------------------------------------------------------------

    @property
    def service(self) -> ApprovalService:
        if self.reviews is None:
            raise ApiError(503, "unavailable", "this gateway's store cannot hold approvals")
        return self.reviews.service

    async def _caller(self, request: web.Request) -> tuple[Identity, frozenset[Role]]:
        self.service  # noqa: B018 - 503 before anything else when approvals are unavailable
        identity = await bearer_identity(request, self.rt)
        return identity, self.rt.roles.roles(identity)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if (request.content_length or 0) > MAX_BODY:
            raise ApiError(400, "bad_request", "the request body is too large")
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "bad_request", "send a JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "send a JSON object")
        return body

    @staticmethod
    def _text(body: Mapping[str, Any], name: str) -> str | None:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ApiError(400, "bad_request", f"{name} must be a string")
        if len(value) > MAX_REASON:
            raise ApiError(400, "bad_request", f"{name} is longer than {MAX_REASON} characters")
        return value.strip() or None

    async def _request(self, request_id: str) -> ApprovalRequest:
        found = await asyncio.to_thread(self.service.get, request_id)
        if found is None:
            raise ApiError(404, "not_found", f"no approval request {request_id}")
        return found

    # -- handlers -------------------------------------------------------------------------------

    async def list_requests(self, request: web.Request) -> web.Response:
        identity, roles = await self._caller(request)
        status_name = request.query.get("status", "pending")
        status: RequestStatus | None
        if status_name == "all":
            status = None
        else:
            try:
                status = RequestStatus(status_name)
            except ValueError:
                choices = ", ".join(["all", *(s.value for s in RequestStatus)])
                raise ApiError(400, "bad_request", f"status must be one of {choices}") from None
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            raise ApiError(400, "bad_request", "limit must be a number") from None
        limit = max(1, min(limit, MAX_LIMIT))
        mine = request.query.get("mine") in ("1", "true", "yes")
        service = self.service
        found = await asyncio.to_thread(
            service.store.list_requests,
            status=status,
            requester=identity.subject if mine else None,
            limit=limit,
        )
        visible = [r for r in found if may_see(service, identity, roles, r)]
        return _json([request_json(r, service, identity) for r in visible])

    async def get(self, request: web.Request) -> web.Response:
        identity, roles = await self._caller(request)
        found = await self._request(request.match_info["id"])
        if not may_see(self.service, identity, roles, found):
            raise ApiError(403, "forbidden", f"{identity.subject} may not see request {found.id}")
        return _json(request_json(found, self.service, identity))

    async def act(self, request: web.Request) -> web.Response:
        identity, _ = await self._caller(request)
        action = request.path.rsplit("/", 1)[1]
        request_id = request.match_info["id"]
        body = await self._body(request)
        current = await self._request(request_id)
        if current.status.final:
            raise ApiError(409, "conflict", f"request {request_id} is {current.status.value}")
        service = self.service
        if action == "withdraw":
            if not is_own(identity, current):
                raise ApiError(403, "forbidden", "only the requester may withdraw a request")
            done = await asyncio.to_thread(service.withdraw, request_id, identity.subject)
            if done is None:
                raise ApiError(409, "conflict", f"request {request_id} is no longer pending")
            log.info("approval_withdrawn", extra={"request": request_id, "by": identity.subject})
            self._wake(request_id)
            return _json(request_json(done, service, identity))
        reason = self._text(body, "reason")
        scope_name = body.get("scope")
        scope = None
        if scope_name is not None:
            try:
                scope = Scope(scope_name)
            except ValueError:
                raise ApiError(400, "bad_request", "scope must be statement or session") from None
        break_glass = body.get("break_glass", False)
        if not isinstance(break_glass, bool):
            raise ApiError(400, "bad_request", "break_glass must be true or false")
        try:
            updated = await asyncio.to_thread(
                service.decide,
                request_id,
                identity,
                approve=action == "approve",
                reason=reason,
                break_glass=break_glass,
                scope=scope,
            )
        except DecisionConflict as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        except DecisionRefused as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        log.info(
            "approval_decided",
            extra={
                "request": request_id,
                "by": identity.subject,
                "approve": action == "approve",
                "status": updated.status.value,
                "break_glass": break_glass,
            },
        )
        self._wake(request_id)
        return _json(request_json(updated, service, identity))

    def _wake(self, request_id: str) -> None:
        if self.reviews is not None:
            self.reviews.wake(request_id)

    async def request_access(self, request: web.Request) -> web.Response:
        identity, _ = await self._caller(request)
        body = await self._body(request)
        connection = body.get("connection")
        if not isinstance(connection, str) or not connection:
            raise ApiError(400, "bad_request", "name the connection")
        if connection not in self.connections:
            raise ApiError(404, "not_found", f"no connection named {connection!r}")
        try:
            seconds = parse_duration(body.get("duration"))
        except ValueError as exc:
            raise ApiError(400, "bad_request", f"duration: {exc}") from None
        reason = self._text(body, "reason")
        service = self.service
        try:
            made = await asyncio.to_thread(
                service.request_access,
                identity=identity,
                connection=connection,
                duration=timedelta(seconds=seconds),
                reason=reason,
            )
        except RequestRefused as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        log.info(
            "access_requested",
            extra={"request": made.id, "by": identity.subject, "connection": connection},
        )
        return _json(request_json(made, service, identity), status=201)

    async def grants(self, request: web.Request) -> web.Response:
        identity, roles = await self._caller(request)
        sees_all = Role.ADMIN in roles or Role.AUDITOR in roles
        mine = request.query.get("mine") in ("1", "true", "yes") or not sees_all
        active = request.query.get("active") in ("1", "true", "yes")
        now = datetime.now(UTC)
        found = await asyncio.to_thread(
            self.service.store.grants,
            subject=identity.subject if mine else None,
            active_at=now if active else None,
        )
        return _json([grant_json(g, now) for g in found])

    async def revoke(self, request: web.Request) -> web.Response:
        identity, roles = await self._caller(request)
        if Role.ADMIN not in roles:
            raise ApiError(403, "forbidden", "only admins may revoke access grants")
        grant_id = request.match_info["id"]
        store = self.service.store
        grant = await asyncio.to_thread(store.get_grant, grant_id)
        if grant is None:
            raise ApiError(404, "not_found", f"no access grant {grant_id}")
        now = datetime.now(UTC)
        if not grant.active(now):
            state = "revoked" if grant.revoked_at is not None else "expired"
            raise ApiError(409, "conflict", f"access grant {grant_id} has already {state}")
        if not await asyncio.to_thread(store.revoke_grant, grant_id, now):
            raise ApiError(409, "conflict", f"access grant {grant_id} has already been revoked")
        log.info("access_grant_revoked", extra={"grant": grant_id, "by": identity.subject})
        revoked = await asyncio.to_thread(store.get_grant, grant_id)
        assert revoked is not None
        return _json(grant_json(revoked, now))

    async def events(self, request: web.Request) -> web.StreamResponse:
        identity, roles = await self._caller(request)
        mine = request.query.get("mine") in ("1", "true", "yes")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # reverse proxies: do not buffer the stream
            }
        )
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the client went away
            await self._stream(response, identity, roles, mine)
        return response

    async def _stream(
        self,
        response: web.StreamResponse,
        identity: Identity,
        roles: frozenset[Role],
        mine: bool,
    ) -> None:
        assert self.feed is not None
        service = self.service
        await response.write(b"retry: 3000\n: connected\n\n")
        async with self.feed.subscribe() as queue:
            while True:
                try:
                    async with asyncio.timeout(self.heartbeat):
                        item = await queue.get()
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if item is CLOSED:
                    break
                assert isinstance(item, ApprovalEvent)
                target = item.request
                if mine and not is_own(identity, target):
                    continue
                if not may_see(service, identity, roles, target):
                    continue
                data = event_json(item, service, identity)
                event_id = f"{target.id}.{item.type}.{len(target.decisions)}"
                await response.write(
                    f"id: {event_id}\nevent: {item.type}\ndata: {data}\n\n".encode()
                )

    async def shutdown(self, _: web.Application) -> None:
        if self.feed is not None:
            await self.feed.close()

    # -- the page the notice links to -----------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        """What anyone holding the link sees: the request's state and how to decide it.

        No sign-in here (the console comes later), so the statement text, the reason and the
        decisions' reasons are not shown: they are for reviewers, through the API or the CLI.
        """
        request_id = request.match_info["id"]
        if self.reviews is None:
            return page("Approvals unavailable", "<p>This gateway cannot hold approvals.</p>", 503)
        if not re.fullmatch(REQUEST_ID, request_id):
            return page("No such request", "<p>That is not an approval request id.</p>", 404)
        found = await asyncio.to_thread(self.reviews.service.get, request_id)
        if found is None:
            return page(
                "No such request", f"<p>No approval request {html.escape(request_id)}.</p>", 404
            )
        e = html.escape
        rid = e(found.id)
        what = (
            f"run a statement on <b>{e(found.connection)}</b> (policy rule "
            f"<code>{e(found.rule or '-')}</code>)"
            if found.kind.value == "statement"
            else f"access to <b>{e(found.connection)}</b> for "
            f"{e(str(timedelta(seconds=found.duration_seconds or 0)))}"
        )
        rows = [
            ("Status", f"<b id='status'>{e(found.status.value)}</b>"),
            ("Requester", e(found.requester)),
            ("Asks to", what),
            ("Workflow", e(found.workflow)),
            ("Requested", e(_iso(found.created_at) or "")),
            ("Expires", e(_iso(found.expires_at) or "")),
        ]
        if found.status is RequestStatus.PENDING:
            rows.append(("Still needs", e(_still_needed(self.reviews.service, found) or "-")))
        else:
            who = ", ".join(
                f"{'approved' if d.approve else 'denied'} by {d.approver}" for d in found.decisions
            )
            rows.append(("Decided", e(f"{_iso(found.decided_at) or ''} {who}".strip())))
        table = "".join(f"<tr><th align='left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
        body = f"<p>Request <code id='request'>{rid}</code></p><table>{table}</table>"
        if found.status is RequestStatus.PENDING:
            body += (
                "<p>Reviewers see the statement and decide with the Proctor CLI "
                "(<code>PROCTOR_URL</code> and <code>PROCTOR_TOKEN</code> set, or after "
                "<code>proctor login</code>):</p>"
                f"<pre>proctor approvals show {rid}\n"
                f'proctor approvals approve {rid} --reason "…"\n'
                f'proctor approvals deny {rid} --reason "…"</pre>'
            )
        return page(f"Approval request {found.id}", body)
