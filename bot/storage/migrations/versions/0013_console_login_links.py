"""the web console: one-time sign-in links (only the token's hash is kept)

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_login_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", bot.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["admin_users.id"], name=op.f("fk_console_login_links_user_id_admin_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_login_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_login_links_token_hash")),
    )
    op.create_index(op.f("ix_console_login_links_user_id"), "console_login_links", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_console_login_links_user_id"), table_name="console_login_links")
    op.drop_table("console_login_links")
