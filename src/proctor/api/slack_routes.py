"""``POST /api/approvals/slack``: Approve / Deny clicks on Slack approval messages.

Set as the Slack app's *Interactivity Request URL*. What is checked, in order (the rules
themselves are in ``proctor.approvals.notify.slack_callback``):

| answer | when |
|---|---|
| 503 | this gateway's store cannot hold approvals |
| 404 | no Slack channel with a ``signing_secret`` is configured |
| 413 | the body is larger than ``MAX_BODY`` |
| 401 | ``X-Slack-Signature`` / ``X-Slack-Request-Timestamp`` missing, wrong, or older than 5 min |
| 400 | not a form body, or not a Proctor approve/deny click |
| 200, empty | a click on the Open link (nothing to decide) |
| 200, ephemeral | refused (see below) |
| 404 | no such request |
| 200, ``replace_original`` | decided: the message now says who approved or denied |

Refused: the member is not mapped, separation of duties, not an approver, a reason is
required, already answered, no longer pending. Refusals are 200 on purpose: Slack shows the
reply of a 200 answer only, and the person who clicked must learn why nothing happened.
Every answer is JSON with a ``text`` for Slack; 4xx answers also carry ``error`` (a code),
like the rest of the API.

Each reply to a verified click is also posted to the click's ``response_url`` when that is a
Slack URL (``slack_replies``): Slack shows Block Kit click replies from there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from proctor.api.slack_replies import ResponseUrlReplies
from proctor.approvals.notify.signing import SignatureError
from proctor.approvals.notify.slack import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SlackInteraction,
    SlackPayloadError,
    parse_slack_interaction,
)
from proctor.approvals.notify.slack_callback import (
    SlackApp,
    decided_reply,
    ephemeral,
    refusal,
    signing_app,
    slack_apps,
    unmapped_text,
)
from proctor.approvals.service import DecisionConflict, DecisionRefused
from proctor.model import ApprovalRequest, Identity
from proctor.server.reviews import ServerReviews

log = logging.getLogger("proctor.api")

SLACK_PATH = "/api/approvals/slack"
# A click carries the whole message it was made on (blocks, statement), form-encoded JSON:
# tens of kilobytes at most for the messages Proctor sends.
MAX_BODY = 256 * 1024
_FORM = "application/x-www-form-urlencoded"


class _Refused(Exception):
    def __init__(self, status: int, error: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.error = error

    def body(self) -> dict[str, Any]:
        return {**ephemeral(str(self)), "error": self.error}


def add_slack_route(
    app: web.Application, reviews: ServerReviews | None, replies: ResponseUrlReplies | None = None
) -> None:
    callback = SlackCallback(reviews, replies or ResponseUrlReplies())
    app.router.add_post(SLACK_PATH, callback.handle)
    app.on_shutdown.append(callback.shutdown)


class SlackCallback:
    def __init__(self, reviews: ServerReviews | None, replies: ResponseUrlReplies) -> None:
        self.reviews = reviews
        self.replies = replies
        self.apps = slack_apps(reviews.service.config.notify) if reviews is not None else ()

    async def shutdown(self, _: web.Application) -> None:
        await self.replies.close()

    async def handle(self, request: web.Request) -> web.Response:
        try:
            app, interaction = await self._verified_click(request)
        except _Refused as exc:
            return web.json_response(exc.body(), status=exc.status)
        if interaction is None:  # the Open link: Slack reports it, nothing to decide
            return web.json_response({})
        status = 200
        try:
            reviewer = app.reviewer(interaction)
            if reviewer is None:
                reply = self._refusal(interaction, None, unmapped_text(interaction))
            else:
                reply = await self._decide(interaction, reviewer)
        except _Refused as exc:
            status, reply = exc.status, exc.body()
        # The click is Slack's (signed): its reply also goes where Slack shows replies.
        self.replies.post(interaction.response_url, reply)
        return web.json_response(reply, status=status)

    async def _verified_click(
        self, request: web.Request
    ) -> tuple[SlackApp, SlackInteraction | None]:
        if self.reviews is None:
            raise _Refused(503, "unavailable", "this gateway's store cannot hold approvals")
        if not self.apps:
            raise _Refused(
                404,
                "not_found",
                "Slack interactivity is not configured (approvals.notify: a slack channel "
                "with signing_secret)",
            )
        body = await _read_bounded(request)
        try:
            # Before anything else is read from the body: it is not Slack's until this passes.
            app = signing_app(
                self.apps,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                body,
                now=time.time(),
            )
        except SignatureError as exc:
            log.warning("slack_callback_refused", extra={"reason": str(exc)})
            raise _Refused(401, "invalid_signature", f"Slack signature refused: {exc}") from None
        if request.content_type != _FORM:
            raise _Refused(400, "bad_request", f"expected a {_FORM} body")
        try:
            return app, parse_slack_interaction(body)
        except SlackPayloadError as exc:
            raise _Refused(400, "bad_request", str(exc)) from None

    async def _decide(self, interaction: SlackInteraction, reviewer: Identity) -> dict[str, Any]:
        assert self.reviews is not None
        service = self.reviews.service
        request_id = interaction.request_id
        current = await asyncio.to_thread(service.get, request_id)
        if current is None:
            raise _Refused(404, "not_found", f"No approval request {request_id}.")
        if current.status.final:
            return self._refusal(interaction, reviewer, _settled_text(current))
        try:
            workflow = service.config.workflow(current.workflow)
        except KeyError:
            text = f"Workflow {current.workflow} is no longer configured; nobody can decide it."
            return self._refusal(interaction, reviewer, text)
        why = refusal(
            workflow,
            current.workflow,
            current,
            reviewer,
            approve=interaction.approve,
            url=service.url(request_id),
        )
        if why is not None:
            return self._refusal(interaction, reviewer, why)
        try:
            updated = await asyncio.to_thread(
                service.decide, request_id, reviewer, approve=interaction.approve
            )
        except DecisionConflict as exc:
            return self._refusal(interaction, reviewer, f"Nothing recorded: {exc}.")
        except DecisionRefused as exc:
            return self._refusal(interaction, reviewer, str(exc))
        # Held statements waiting in this worker wake now; others hear it from the store.
        self.reviews.wake(request_id)
        log.info(
            "approval_decided",
            extra={
                "request": request_id,
                "by": reviewer.subject,
                "approve": interaction.approve,
                "status": updated.status.value,
                "via": "slack",
                "slack_user": interaction.user_id,
            },
        )
        still = None if updated.status.final else service.still_needed(updated)
        return decided_reply(
            updated,
            reviewer,
            interaction,
            at=updated.decided_at or datetime.now(UTC),
            url=service.url(request_id),
            still_needed=still,
        )

    @staticmethod
    def _refusal(
        interaction: SlackInteraction, reviewer: Identity | None, text: str
    ) -> dict[str, Any]:
        log.info(
            "slack_decision_refused",
            extra={
                "request": interaction.request_id,
                "slack_user": interaction.user_id,
                "by": reviewer.subject if reviewer is not None else None,
                "reason": text,
            },
        )
        return ephemeral(text)


def _settled_text(request: ApprovalRequest) -> str:
    who = ", ".join(
        f"{'approved' if d.approve else 'denied'} by {d.approver}" for d in request.decisions
    )
    return f"Request {request.id} is already {request.status.value}" + (
        f" ({who})." if who else "."
    )


async def _read_bounded(request: web.Request) -> bytes:
    """The raw body (the signature covers these exact bytes), refused past ``MAX_BODY``
    whether or not the client announced its length."""
    if (request.content_length or 0) > MAX_BODY:
        raise _Refused(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise _Refused(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    return bytes(body)
