"""Approvals: requests as the approvals work uses them, one row per decision, grant origin.

``approval_requests`` from 0002 was schema only and never written, so it is replaced whole:
it gains workflow, statement hash, scope and the requester's groups and person keys, and
loses the foreign key to ``sessions`` (a request is made before the batched session row may
have reached the store). Decisions get their own table: a workflow may need several.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)
ID = sa.String(64)


def upgrade() -> None:
    op.drop_index("ix_approval_requests_requester", table_name="approval_requests")
    op.drop_index("ix_approval_requests_status", table_name="approval_requests")
    op.drop_table("approval_requests")
    op.create_table(
        "approval_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("requester_groups", sa.Text(), nullable=False),
        sa.Column("requester_persons", sa.Text(), nullable=False),
        sa.Column("connection", sa.Text(), nullable=False),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("session_id", ID, nullable=True),
        sa.Column("statement_text", sa.Text(), nullable=True),
        sa.Column("statement_hash", sa.String(64), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_approval_requests"),
    )
    op.create_index("ix_approval_requests_status", "approval_requests", ["status"])
    op.create_index("ix_approval_requests_requester", "approval_requests", ["requester"])
    op.create_index("ix_approval_requests_session_id", "approval_requests", ["session_id"])
    op.create_table(
        "approval_decisions",
        sa.Column("request_id", ID, nullable=False),
        sa.Column("approver", sa.Text(), nullable=False),
        sa.Column("approver_groups", sa.Text(), nullable=False),
        sa.Column("approve", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["approval_requests.id"],
            name="fk_approval_decisions_request_id_approval_requests",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "approver", name="pk_approval_decisions"),
    )
    with op.batch_alter_table("access_grants") as batch:
        batch.add_column(sa.Column("request_id", ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_grants") as batch:
        batch.drop_column("request_id")
    op.drop_table("approval_decisions")
    op.drop_index("ix_approval_requests_session_id", table_name="approval_requests")
    op.drop_index("ix_approval_requests_requester", table_name="approval_requests")
    op.drop_index("ix_approval_requests_status", table_name="approval_requests")
    op.drop_table("approval_requests")
    op.create_table(
        "approval_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("connection", sa.Text(), nullable=False),
        sa.Column("session_id", ID, nullable=True),
        sa.Column("statement_text", sa.Text(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_approval_requests_session_id_sessions",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_approval_requests"),
    )
    op.create_index("ix_approval_requests_status", "approval_requests", ["status"])
    op.create_index("ix_approval_requests_requester", "approval_requests", ["requester"])
