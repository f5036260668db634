"""``GET /api/evidence``: the evidence pack of a period, built by the gateway, as a zip.

For auditors who hold no configuration, database password or keys: the gateway builds the
same pack ``proctor evidence export`` writes (docs/evidence.md) and sends it zipped. Only the
``auditor`` and ``admin`` API roles may ask. Query: ``from`` and ``to`` (days, both included,
or ISO date-times), ``connection`` and ``tag`` (``KEY=VALUE``), each repeatable.

Building a pack reads the whole period and verifies its recordings: it runs in a thread, one
at a time per worker (a second request meanwhile gets 429 with ``Retry-After``), and the
temporary files are removed once the zip is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from proctor.api.identity_setup import IdentityRuntime
from proctor.api.pages import NO_STORE
from proctor.api.routes import bearer_identity
from proctor.config import ProctorConfig
from proctor.evidence import scope
from proctor.evidence.inputs import pack_inputs, remembered_head
from proctor.evidence.model import Scope
from proctor.evidence.pack import PackError, PackResult, export_pack, zip_pack
from proctor.identity.access import Role
from proctor.identity.exchange import OAuthError
from proctor.store import SqlStore
from proctor.store.evidence import EvidenceStore

log = logging.getLogger("proctor.api")
CHUNK = 1 << 20


def add_evidence_routes(
    app: web.Application, runtime: IdentityRuntime, cfg: ProctorConfig, store: object
) -> None:
    routes = EvidenceRoutes(runtime, cfg, store if isinstance(store, SqlStore) else None)
    app.router.add_get("/api/evidence", routes.export)


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response(
        {"error": error, "message": message}, status=status, headers=dict(NO_STORE)
    )


class EvidenceRoutes:
    def __init__(self, runtime: IdentityRuntime, cfg: ProctorConfig, store: SqlStore | None):
        self._rt = runtime
        self._cfg = cfg
        self._source = EvidenceStore(store) if store is not None else None
        self._busy = asyncio.Lock()

    async def export(self, request: web.Request) -> web.StreamResponse:
        try:
            identity = await bearer_identity(request, self._rt)
        except OAuthError as exc:
            return _error(exc.status, exc.error, exc.description)
        if not self._rt.roles.has(identity, Role.AUDITOR):
            return _error(
                403,
                "forbidden",
                f"{identity.subject} may not export evidence: it needs the auditor or admin role",
            )
        if self._source is None:
            return _error(503, "unavailable", "this gateway's store cannot export evidence")
        query = request.query
        try:
            start, end = scope.parse_period(query.get("from", ""), query.get("to", ""))
            tags = scope.parse_tags(query.getall("tag", []))
            chosen = scope.scope_connections(
                self._cfg.connection_models(), query.getall("connection", []), tags
            )
        except scope.ScopeError as exc:
            return _error(400, "bad_request", str(exc))
        if self._busy.locked():
            response = _error(429, "busy", "an evidence pack is being built; try again shortly")
            response.headers["Retry-After"] = "30"
            return response
        covered = scope.export_scope(start, end, chosen, tags, identity.subject)
        async with self._busy:
            tmp = Path(tempfile.mkdtemp(prefix="proctor-evidence-"))
            try:
                name = f"evidence-{start:%Y%m%d}-{end:%Y%m%d}"
                try:
                    await asyncio.to_thread(self._build, covered, tmp / name)
                except PackError as exc:
                    return _error(500, "export_failed", str(exc))
                archive = await asyncio.to_thread(zip_pack, tmp / name, tmp / f"{name}.zip")
                log.info(
                    "evidence_exported",
                    extra={"subject": identity.subject, "start": str(start), "end": str(end)},
                )
                return await _send(request, archive)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def _build(self, covered: Scope, out: Path) -> PackResult:
        assert self._source is not None
        head = remembered_head(Path(self._cfg.gateway.state_dir))
        signer, recordings = pack_inputs(self._cfg, (head,) if head else ())
        return export_pack(self._source, covered, out, signer=signer, recordings=recordings)


async def _send(request: web.Request, archive: Path) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            **NO_STORE,
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{archive.name}"',
        }
    )
    f = await asyncio.to_thread(archive.open, "rb")
    try:
        response.content_length = os.fstat(f.fileno()).st_size
        await response.prepare(request)
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            await response.write(chunk)
    finally:
        f.close()
    await response.write_eof()
    return response
