"""Legal holds: sessions or whole connections whose recordings retention must not delete.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)
ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=True),
        sa.Column("connection", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("released_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_legal_holds"),
    )
    op.create_index("ix_legal_holds_session_id", "legal_holds", ["session_id"])
    op.create_index("ix_legal_holds_connection", "legal_holds", ["connection"])


def downgrade() -> None:
    op.drop_index("ix_legal_holds_connection", table_name="legal_holds")
    op.drop_index("ix_legal_holds_session_id", table_name="legal_holds")
    op.drop_table("legal_holds")
