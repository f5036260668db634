"""One gateway worker process: its listeners, its sessions, its drain on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from pathlib import Path

from aiohttp import web

from proctor import __version__
from proctor.adapters.postgres.ports import CancelTarget, PgContext, PgSettings
from proctor.adapters.postgres.upstream_tls import send_cancel
from proctor.api.approvals_routes import add_approval_routes
from proctor.api.evidence_routes import add_evidence_routes
from proctor.api.identity_setup import IdentityRuntime, build_identity, public_url
from proctor.api.routes import add_identity_routes
from proctor.approvals.grants import AccessGrants
from proctor.codecs.pgwire import encode
from proctor.config import ProctorConfig
from proctor.identity.revalidation import REASON_TEXT
from proctor.pipeline.masking import MaskerChooser
from proctor.recording.recorder import SignedRecorder, TeeRecorders
from proctor.recording.writer import BatchingStoreWriter, RecorderFactory
from proctor.server.cancel import CancelRouter
from proctor.server.http import build_app
from proctor.server.metrics import Metrics
from proctor.server.notify import build_notifier
from proctor.server.pg_listener import PgListener
from proctor.server.reviews import ServerReviews, build_reviews
from proctor.server.spec import WorkerSpec
from proctor.server.store_listener import StoreListener
from proctor.server.streams import TcpNetwork
from proctor.server.tls import server_context
from proctor.sql.templates import TemplateAnalyzer
from proctor.store import SqlStore
from proctor.store.interfaces import Store
from proctor.store.notifications import listen_conninfo

log = logging.getLogger("proctor.worker")

METRICS_FLUSH_INTERVAL = 1.0


class StartupError(Exception):
    """The worker cannot start (a port is taken, ...): restarting it would not help."""


def listening_socket(address: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        # Every worker binds the same port; the kernel spreads new connections across them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {address}:{port}: {exc.strerror}") from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._stop = asyncio.Event()
        self._draining = False

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log.info("drain_requested", extra={"worker": self.spec.index})
            self._stop.set()

    @staticmethod
    async def _flush_metrics(metrics: Metrics) -> None:
        while True:
            await asyncio.sleep(METRICS_FLUSH_INTERVAL)
            metrics.flush()

    async def run(self) -> None:
        spec = self.spec
        cfg = spec.config
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

        store = spec.store_factory()
        identity = build_identity(cfg, store)
        recorders: RecorderFactory = (
            TeeRecorders(BatchingStoreWriter(store), open_signed_recorder(cfg, spec))
            if cfg.recordings.enabled
            else BatchingStoreWriter(store)
        )
        metrics = Metrics()
        network = TcpNetwork()

        async def _send(target: CancelTarget) -> None:
            await send_cancel(network, target)

        cancel = CancelRouter(spec.index, spec.run_dir, _send)
        await cancel.serve()
        reuse = spec.workers > 1
        listener: PgListener | None = None
        pg_cfg = cfg.listeners.postgres
        # Reviewers hear about requests through the configured channels, from a thread of
        # its own (delivery never blocks the event loop).
        notifier = (
            build_notifier(cfg.approvals.notify, public_url(cfg))
            if (cfg.approvals.notify)
            else None
        )
        reviews = build_reviews(
            cfg,
            store,
            spec.policy,
            public_url(cfg),
            publish=notifier.publish if notifier is not None else None,
        )
        if pg_cfg is not None:
            chooser = MaskerChooser(spec.masking_profiles, spec.policy)
            chooser.warm()
            ctx = PgContext(
                settings=PgSettings(
                    max_message_size=cfg.gateway.max_message_size,
                    allow_cleartext_without_tls=pg_cfg.allow_cleartext_without_tls,
                    gateway_version=__version__,
                    policy_hash=spec.policy.fingerprint(),
                ),
                connections=cfg.connection_models(),
                authenticator=identity.authenticator,
                authorize=identity.authorize,
                access_grant=identity.grants.admitting if identity.grants else None,
                recorders=recorders,
                network=network,
                cancel_keys=cancel,
                observer=metrics,
                policy=spec.policy,
                analyzer=TemplateAnalyzer(),
                masking=chooser if chooser.used else None,
                reviews=reviews,
            )
            tls = server_context(spec.tls_files) if spec.tls_files else None
            listener = PgListener(
                ctx, tls, cfg.gateway.max_connections, cfg.gateway.handshake_timeout
            )
            sock = listening_socket(pg_cfg.address, pg_cfg.port, reuse)
            listener.server = await loop.create_server(listener.protocol_factory, sock=sock)

        def readiness() -> str | None:
            if self._draining:
                return "draining"
            if not recorders.healthy:
                return "session recording unavailable"
            return None

        connection_names = frozenset(cfg.connection_models())
        runner = web.AppRunner(
            build_app(
                metrics,
                readiness,
                [
                    lambda app: add_identity_routes(app, identity),
                    lambda app: add_approval_routes(app, identity, reviews, connection_names),
                    lambda app: add_evidence_routes(app, identity, cfg, store),
                ],
            ),
            access_log=None,
        )
        await runner.setup()
        http_cfg = cfg.listeners.http
        http_sock = listening_socket(http_cfg.address, http_cfg.port, reuse)
        await web.SockSite(runner, http_sock).start()
        log.info(
            "worker_ready",
            extra={
                "worker": spec.index,
                "postgres": f"{pg_cfg.address}:{pg_cfg.port}" if pg_cfg else None,
                "http": f"{http_cfg.address}:{http_cfg.port}",
            },
        )

        # Everything allocated so far lives as long as the worker: keep it out of the cyclic
        # collector, whose full passes would otherwise walk it again and again under load.
        gc.freeze()
        flusher = loop.create_task(self._flush_metrics(metrics))
        idler = (
            loop.create_task(listener.enforce_idle_timeout(cfg.gateway.idle_timeout))
            if listener is not None
            else None
        )
        revalidator = (
            loop.create_task(end_revoked_sessions(listener, identity))
            if listener is not None
            else None
        )
        expirer = loop.create_task(reviews.expire_loop()) if reviews is not None else None
        grants_changed = asyncio.Event()
        grant_ender = (
            loop.create_task(end_ungranted_sessions(listener, identity.grants, grants_changed))
            if listener is not None and identity.grants is not None
            else None
        )
        store_listener = start_store_listener(store, reviews, grants_changed)
        await self._stop.wait()
        self._draining = True
        if revalidator is not None:
            revalidator.cancel()
        if expirer is not None:
            expirer.cancel()
        if grant_ender is not None:
            grant_ender.cancel()
        if listener is not None:
            listener.stop_accepting()
            await listener.drain(cfg.gateway.drain_timeout)
        if store_listener is not None:
            # After the drain: statements still held while sessions drain want their wake-up.
            store_listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await store_listener
        flusher.cancel()
        if idler is not None:
            idler.cancel()
        metrics.flush()
        await runner.cleanup()
        await cancel.close()
        await asyncio.to_thread(recorders.close)
        if notifier is not None:
            await asyncio.to_thread(notifier.close)
        await asyncio.to_thread(store.close)
        log.info("worker_stopped", extra={"worker": spec.index})


def open_signed_recorder(cfg: ProctorConfig, spec: WorkerSpec) -> SignedRecorder:
    """The worker's tamper-evident recorder (keys were made by the supervisor before fork)."""
    from proctor.recording.keystore import load_keys
    from proctor.recording.storage.factory import open_blob_storage

    rec = cfg.recordings
    return SignedRecorder(
        open_blob_storage(rec, check=False),
        load_keys(rec.keys_dir, encrypt=rec.encrypt),
        policy_hash=spec.policy.fingerprint(),
        checkpoint_every=rec.checkpoint_every,
        checkpoint_interval=rec.checkpoint_interval,
        head_interval=rec.head_interval,
        fail_closed=rec.on_failure == "refuse",
        max_backlog=rec.max_backlog_mb * 1024 * 1024,
        ledger_frontier=Path(cfg.gateway.state_dir) / "ledger-frontier.json",
    )


async def end_revoked_sessions(listener: PgListener, identity: IdentityRuntime) -> None:
    """Every few seconds, end the sessions whose Proctor token was revoked (57P01)."""
    while True:
        await asyncio.sleep(identity.revalidate_interval)
        token_ids = {
            s.identity.token_id
            for s in listener.sessions
            if s.identity is not None and s.identity.token_id is not None
        }
        if not token_ids:
            continue
        ended = await asyncio.to_thread(identity.revalidator.ended, token_ids)
        for session in list(listener.sessions):
            reason = ended.get(session.identity.token_id or "") if session.identity else None
            if reason is None:
                continue
            relay = session.relay
            if relay is None or relay.at_message_boundary:
                session.client.write(
                    encode.error_response(
                        "57P01", f"terminating connection: {REASON_TEXT[reason]}", severity="FATAL"
                    )
                )
            log.info("session_token_ended", extra={"session": session.id, "reason": reason})
            session.close("token_revoked")


def start_store_listener(
    store: Store, reviews: ServerReviews | None, grants_changed: asyncio.Event
) -> asyncio.Task[None] | None:
    """On a PostgreSQL store, listen for changes made by other workers and gateways: a held
    statement wakes when its request is decided, grant checks run when a grant is revoked.
    None on SQLite (polling covers it there)."""
    conninfo = listen_conninfo(store) if isinstance(store, SqlStore) else None
    if conninfo is None or reviews is None:
        return None
    held = reviews

    def changed(key: str) -> None:
        if key.startswith("grt_"):
            grants_changed.set()
        else:
            held.changed_elsewhere(key)

    def connected() -> None:
        held.wake_all()
        grants_changed.set()

    return asyncio.get_running_loop().create_task(StoreListener(conninfo, changed, connected).run())


GRANT_CHECK_INTERVAL = 1.0


async def end_ungranted_sessions(
    listener: PgListener,
    grants: AccessGrants,
    changed: asyncio.Event | None = None,
    interval: float = GRANT_CHECK_INTERVAL,
) -> None:
    """Every second, or as soon as ``changed`` is set (a grant was revoked somewhere), end
    the sessions admitted by a just-in-time access grant that has expired or been revoked
    (57P01), unless a renewed grant covers them."""
    changed = changed or asyncio.Event()
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await changed.wait()
        changed.clear()
        relying = [(s, s.access_grant) for s in listener.sessions if s.access_grant is not None]
        if not relying:
            continue
        try:
            settled = await asyncio.to_thread(grants.settle, [g for _, g in relying if g])
        except Exception:
            log.exception("grant_check_failed")
            continue
        for session, held in relying:
            outcome = settled.get(held.id) if held is not None else None
            if held is None or outcome is None:
                continue
            if outcome.ended is None:
                session.access_grant = outcome.grant
                continue
            relay = session.relay
            if relay is None or relay.at_message_boundary:
                session.client.write(
                    encode.error_response(
                        "57P01",
                        f"terminating connection: {outcome.ended}",
                        hint=f"ask for access again with `proctor request {held.connection}`",
                        severity="FATAL",
                    )
                )
            log.info("session_grant_ended", extra={"session": session.id, "grant": held.id})
            session.close("access_grant_ended")
