"""message templates: the alternative text of a custom message

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alt_text", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_templates", schema=None) as batch_op:
        batch_op.drop_column("alt_text")
