"""``proctor gateway``: run the gateway in the foreground."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from proctor.cli.options import config_option

if TYPE_CHECKING:
    from proctor.config import ProctorConfig
    from proctor.policy import Policy
    from proctor.store import SqlStore
    from proctor.store.interfaces import Store


def _load(config_path: Path) -> ProctorConfig:
    from proctor.config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def remember_versions(store: SqlStore, cfg: ProctorConfig, policy: Policy) -> None:
    """Note the configuration and policy this gateway runs with (the evidence pack's
    ``config_changes.csv``). The configuration is identified by the SHA-256 of its file, so an
    auditor can hash a copy to match it; the policy by its canonical fingerprint."""
    from proctor.store.evidence import EvidenceStore

    versions = EvidenceStore(store)
    if cfg.config_path.is_file():
        digest = hashlib.sha256(cfg.config_path.read_bytes()).hexdigest()
        versions.config_seen("config", digest, str(cfg.config_path))
    versions.config_seen("policy", policy.fingerprint(), policy.source)


def warn_if_clock_unsynchronized() -> None:
    """Recordings carry the gateway clock's times: say so at start when NTP does not keep it
    synchronized (each recording also notes the clock's state; docs/recording-format.md)."""
    import logging

    from proctor.recording.clock import read_clock

    clock = read_clock()
    if clock is not None and not clock.synchronized:
        logging.getLogger("proctor.gateway").warning(
            "clock_unsynchronized",
            extra={"max_error_seconds": clock.max_error_us / 1e6, "source": clock.source},
        )


def log_acceleration() -> None:
    """Whether the hot path runs compiled (make install builds it with mypyc): a gateway
    without it costs about twice the CPU per message; say so at start."""
    import logging

    import proctor
    from proctor import hotpath

    logger = logging.getLogger("proctor.gateway")
    # The C extensions are optional glue (e.g. the masking scanner's hit collector).
    native = [s for s in hotpath.NATIVE if hotpath.native_current(s)]
    extra = {"reason": proctor.HOT_PATH.reason, "native": native}
    if proctor.HOT_PATH.compiled:
        logger.info("hot_path_compiled", extra=extra)
    else:
        logger.warning("hot_path_interpreted", extra=extra)


@click.command("gateway")
@config_option
@click.option(
    "--workers",
    type=click.IntRange(1, 126),
    default=None,
    help="Worker processes sharing the listening ports (default: gateway.workers from config).",
)
def gateway_command(config_path: Path, workers: int | None) -> None:
    """Run the gateway in the foreground (SIGTERM or Ctrl-C drains and stops it)."""
    from proctor.approvals.service import unknown_workflows
    from proctor.pipeline.masking import MaskingSetupError, load_profiles
    from proctor.policy import PolicyError, load_configured_policy
    from proctor.server import jsonlog, supervisor
    from proctor.server.spec import WorkerSpec
    from proctor.server.tls import TlsFiles, ensure_self_signed
    from proctor.store import open_store

    cfg = _load(config_path)
    try:
        policy = load_configured_policy(cfg)
        masking_profiles = load_profiles(cfg, policy)
    except (PolicyError, MaskingSetupError) as exc:
        raise click.ClickException(str(exc)) from exc
    missing = unknown_workflows(cfg.approvals, policy.workflows())
    if missing:
        raise click.ClickException(
            f"{policy.source}: review rules name workflow(s) {', '.join(missing)} that "
            f"{cfg.config_path} does not declare under approvals.workflows"
        )
    jsonlog.configure(cfg.gateway.log_level, pid=os.getpid())
    warn_if_clock_unsynchronized()
    log_acceleration()
    # Recording keys and storage are checked once, before workers fork: a missing bucket or
    # a wrong secret stops the gateway now, not at the first session.
    from proctor.recording.keystore import ensure_keys
    from proctor.recording.storage import StorageError
    from proctor.recording.storage.factory import open_blob_storage

    if cfg.recordings.enabled:
        ensure_keys(cfg.recordings.keys_dir, encrypt=cfg.recordings.encrypt)
        try:
            open_blob_storage(cfg.recordings, check=True)
        except StorageError as exc:
            raise click.ClickException(f"recordings storage: {exc}") from exc
    url = cfg.store.url
    # Migrate once, before any worker starts, so workers never race on the schema.
    with open_store(url, migrate=True) as store:
        remember_versions(store, cfg, policy)
    count = workers or cfg.gateway.workers
    state_dir = Path(cfg.gateway.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tls_files: TlsFiles | None = None
    pg = cfg.listeners.postgres
    if pg is not None and pg.tls.mode == "auto":
        tls_files = ensure_self_signed(state_dir / "tls")
    elif pg is not None and pg.tls.mode == "files":
        assert pg.tls.cert_file is not None and pg.tls.key_file is not None
        tls_files = TlsFiles(Path(pg.tls.cert_file), Path(pg.tls.key_file))
    run_dir = supervisor.prepare_run_dir(state_dir)

    def store_factory() -> Store:
        return open_store(url, migrate=False)

    specs = {
        i: WorkerSpec(
            config=cfg,
            index=i,
            workers=count,
            run_dir=run_dir,
            tls_files=tls_files,
            store_factory=store_factory,
            policy=policy,
            masking_profiles=masking_profiles,
        )
        for i in range(count)
    }
    raise SystemExit(supervisor.run(specs))
