"""Indexes for "what changed since T" (the approvals live feed) and period reads (evidence).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_approval_requests_created_at", "approval_requests", ["created_at"])
    op.create_index("ix_approval_requests_decided_at", "approval_requests", ["decided_at"])
    op.create_index("ix_approval_decisions_at", "approval_decisions", ["at"])


def downgrade() -> None:
    op.drop_index("ix_approval_decisions_at", table_name="approval_decisions")
    op.drop_index("ix_approval_requests_decided_at", table_name="approval_requests")
    op.drop_index("ix_approval_requests_created_at", table_name="approval_requests")
