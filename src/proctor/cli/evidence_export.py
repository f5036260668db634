"""What ``proctor evidence export`` opens: the store, the recordings, the signing key, and who
is exporting (only the ``auditor`` and ``admin`` roles may)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from proctor.cli.login_cmd import LoginError, load_credentials
from proctor.cli.recordings_support import HEAD_FILE, load, read_remembered_head
from proctor.cli.store_open import open_store_from_config
from proctor.config import ProctorConfig
from proctor.evidence.pack import Recordings
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
    from proctor.recording.keystore import KeyStoreError, ensure_keys, load_keys
    from proctor.recording.storage import StorageError
    from proctor.recording.storage.factory import open_blob_storage

    cfg = load(config_path)
    rec = cfg.recordings
    keys_dir = Path(rec.keys_dir)
    try:
        # The manifest is signed with the recordings' signing key; a gateway that records
        # nothing still gets one, so its packs are signed too.
        ensure_keys(keys_dir, encrypt=False)
        keys = load_keys(keys_dir, encrypt=False)
    except (KeyStoreError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot load the signing key: {exc}") from exc
    recordings = None
    if rec.enabled:
        try:
            storage = open_blob_storage(rec, check=True)
        except StorageError as exc:
            raise click.ClickException(f"cannot open the recordings storage: {exc}") from exc
        head = read_remembered_head(Path(cfg.gateway.state_dir) / HEAD_FILE)
        recordings = Recordings(storage, keys.public, (head,) if head else ())
    store = open_store_from_config(config_path)
    return ExportInputs(cfg, store, EvidenceStore(store), keys.signer, recordings)


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


def scope_connections(
    cfg: ProctorConfig, names: Sequence[str], tags: Mapping[str, str]
) -> tuple[str, ...]:
    """The connections chosen by ``--connection`` and ``--tag`` (empty: all of them).

    A name that is no longer configured is still accepted — old sessions outlive a removed
    connection — but a tag filter can only match connections configured now.
    """
    if not names and not tags:
        return ()
    configured = cfg.connection_models()
    chosen = set(names)
    if tags:
        tagged = {
            c.name for c in configured.values() if all(c.tags.get(k) == v for k, v in tags.items())
        }
        chosen = (chosen & tagged) if names else tagged
        if not chosen:
            raise click.ClickException(
                "no configured connection has the tags "
                + ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))
            )
    return tuple(sorted(chosen))
