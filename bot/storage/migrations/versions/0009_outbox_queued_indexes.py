"""partial indexes over queued outbox rows (the sender's claim)

Revision ID: 0009
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None

QUEUED = sa.text("state = 'queued'")


def upgrade() -> None:
    op.create_index("ix_outgoing_messages_queued", "outgoing_messages", ["id"],
                    postgresql_where=QUEUED, sqlite_where=QUEUED)
    op.create_index("ix_outgoing_messages_queued_to", "outgoing_messages", ["channel_id", "to", "id"],
                    postgresql_where=QUEUED, sqlite_where=QUEUED)


def downgrade() -> None:
    op.drop_index("ix_outgoing_messages_queued_to", table_name="outgoing_messages")
    op.drop_index("ix_outgoing_messages_queued", table_name="outgoing_messages")
