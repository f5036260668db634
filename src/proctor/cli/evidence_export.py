"""What ``proctor evidence export`` opens: the store, the recordings, the signing key, and who
is exporting (only the ``auditor`` and ``admin`` roles may)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from proctor.cli.login_cmd import LoginError, load_credentials
from proctor.cli.recordings_support import load
from proctor.cli.store_open import open_store_from_config
from proctor.config import ProctorConfig
from proctor.evidence.inputs import pack_inputs, remembered_head
from proctor.evidence.pack import PackError, Recordings
from proctor.identity.access import Role, RoleResolver
from proctor.model import Identity
from proctor.recording.keys import SigningKey
from proctor.store import SqlStore
from proctor.store.evidence import EvidenceStore


@dataclass
class ExportInputs:
    config: ProctorConfig
    store: SqlStore
    source: EvidenceStore
    signer: SigningKey
    recordings: Recordings | None

    def close(self) -> None:
        self.store.close()


def open_inputs(config_path: Path) -> ExportInputs:
    cfg = load(config_path)
    try:
        head = remembered_head(Path(cfg.gateway.state_dir))
        signer, recordings = pack_inputs(cfg, (head,) if head else ())
    except PackError as exc:
        raise click.ClickException(str(exc)) from exc
    store = open_store_from_config(config_path)
    return ExportInputs(cfg, store, EvidenceStore(store), signer, recordings)


def exporter_subject(inputs: ExportInputs) -> str:
    """The subject of the Proctor token in use, if it has the auditor (or admin) role."""
    secret = os.environ.get("PROCTOR_TOKEN") or None
    if secret is None:
        try:
            secret = load_credentials().access_token
        except LoginError:
            secret = None
    if secret is None:
        raise click.ClickException(
            "exporting evidence needs an auditor or admin identity: set PROCTOR_TOKEN to "
            "your Proctor token, or run `proctor login`"
        )
    record = inputs.store.verify_token(secret)
    if record is None:
        raise click.ClickException(
            "the Proctor token is not valid here (expired, revoked, or from another gateway)"
        )
    identity = Identity(subject=record.subject, groups=frozenset(record.groups))
    identity_cfg = inputs.config.identity
    roles = RoleResolver(identity_cfg.roles if identity_cfg is not None else None)
    if not roles.has(identity, Role.AUDITOR):
        raise click.ClickException(
            f"{record.subject} may not export evidence: it needs the auditor or admin role "
            "(identity.roles in the configuration)"
        )
    return record.subject
