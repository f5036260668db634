"""Inline masking: sensitive values never leave the gateway.

Protocol-neutral: the PostgreSQL adapter (and later MySQL, SSH, HTTP/MCP) hands it columns
and cells, text, JSON or a stream; it hands back masked values. See docs/masking.md.

    masker = Masker(Profile.from_dict(config))       # once per profile, shared
    plan = masker.plan_columns([ColumnInfo("email"), ColumnInfo("id", TypeCategory.NUMERIC)])
    plan.mask_cell(0, "jane@example.com")             # '[EMAIL]'
    masker.mask_text("card 4111 1111 1111 1111")      # 'card [CARD]'
    masker.mask_json('{"ssn": "123456789"}')          # '{"ssn": "[SSN]"}'
"""

from proctor.masking.engine import ColumnInfo, ColumnPlan, Masker, MaskingStats
from proctor.masking.entities import Entity, TypeCategory
from proctor.masking.errors import MaskingError, ProfileError
from proctor.masking.profile import Profile
from proctor.masking.scanner import HAVE_HYPERSCAN
from proctor.masking.strategies import Kind, Strategy
from proctor.masking.stream import ByteStreamMasker, StreamMasker

__all__ = [
    "HAVE_HYPERSCAN",
    "ByteStreamMasker",
    "ColumnInfo",
    "ColumnPlan",
    "Entity",
    "Kind",
    "Masker",
    "MaskingError",
    "MaskingStats",
    "Profile",
    "ProfileError",
    "Strategy",
    "StreamMasker",
    "TypeCategory",
]
