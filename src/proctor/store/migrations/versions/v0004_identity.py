"""Identity: browser sign-in state, SAML assertion replay cache, refresh grants.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)
ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "login_states",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name="pk_login_states"),
    )
    op.create_index("ix_login_states_expires_at", "login_states", ["expires_at"])
    op.create_table(
        "saml_assertions",
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("assertion_id", sa.String(255), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("issuer", "assertion_id", name="pk_saml_assertions"),
    )
    op.create_index("ix_saml_assertions_expires_at", "saml_assertions", ["expires_at"])
    op.create_table(
        "refresh_grants",
        sa.Column("id", ID, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("token_id", ID, nullable=False),
        sa.Column("provider_refresh", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_grants"),
        sa.UniqueConstraint("secret_hash", name="uq_refresh_grants_secret_hash"),
    )
    op.create_index("ix_refresh_grants_token_id", "refresh_grants", ["token_id"])


def downgrade() -> None:
    op.drop_index("ix_refresh_grants_token_id", table_name="refresh_grants")
    op.drop_table("refresh_grants")
    op.drop_index("ix_saml_assertions_expires_at", table_name="saml_assertions")
    op.drop_table("saml_assertions")
    op.drop_index("ix_login_states_expires_at", table_name="login_states")
    op.drop_table("login_states")
