"""The gateway's HTTP listener: liveness, readiness and Prometheus metrics.

The API and browser sign-in of later issues mount on the same application.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web

from proctor import __version__
from proctor.server.metrics import Metrics

ReadinessCheck = Callable[[], str | None]


def build_app(
    metrics: Metrics,
    readiness: ReadinessCheck,
    mounts: Sequence[Callable[[web.Application], None]] = (),
) -> web.Application:
    """``mounts`` add further routes (the identity API: ``proctor.api.routes``)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": __version__})

    async def readyz(_: web.Request) -> web.Response:
        problem = readiness()
        if problem:
            return web.json_response({"status": "not ready", "reason": problem}, status=503)
        return web.json_response({"status": "ready"})

    async def metrics_view(_: web.Request) -> web.Response:
        body, content_type = metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application(client_max_size=1 << 20)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    for mount in mounts:
        mount(app)
    return app
