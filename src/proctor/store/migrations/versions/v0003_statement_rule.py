"""Statements keep the policy rule that decided them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.add_column(sa.Column("rule", sa.Text(), nullable=True))
    op.create_index("ix_statements_verdict", "statements", ["verdict"])


def downgrade() -> None:
    op.drop_index("ix_statements_verdict", table_name="statements")
    with op.batch_alter_table("statements") as batch:
        batch.drop_column("rule")
