"""Evidence: the policy version and masking counts of each session; configuration versions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("policy_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("masked", sa.JSON(), nullable=True))
    op.create_table(
        "config_versions",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("kind", "sha256", name="pk_config_versions"),
    )


def downgrade() -> None:
    op.drop_table("config_versions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("masked")
        batch.drop_column("policy_hash")
