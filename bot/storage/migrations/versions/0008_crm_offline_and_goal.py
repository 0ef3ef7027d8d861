"""crm: test flag on contributions (offline donations may be test entries) and Backme's goal

Revision ID: 0008
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crm_contributions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("crm_donation_pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backme_goal", sa.Numeric(precision=14, scale=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crm_donation_pages", schema=None) as batch_op:
        batch_op.drop_column("backme_goal")
    with op.batch_alter_table("crm_contributions", schema=None) as batch_op:
        batch_op.drop_column("is_test")
