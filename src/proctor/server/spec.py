"""What a worker process is started with. Kept free of heavy imports: the supervisor imports
it before forking, and prometheus_client must not be imported until multiprocess mode is set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proctor.config import ProctorConfig
    from proctor.masking import Profile
    from proctor.policy import Policy
    from proctor.server.tls import TlsFiles
    from proctor.store.interfaces import Store


@dataclass(frozen=True)
class WorkerSpec:
    config: ProctorConfig
    index: int
    workers: int
    run_dir: Path
    tls_files: TlsFiles | None
    store_factory: Callable[[], Store]
    policy: Policy
    # Validated masking profiles by name (the policy's masking section chooses among them).
    masking_profiles: Mapping[str, Profile] = field(default_factory=dict)
