"""a partial index over queued inbox events, in claim order (the inbox's claim)

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

QUEUED = sa.text("state = 'queued'")


def upgrade() -> None:
    op.create_index("ix_webhook_events_queued", "webhook_events", ["next_attempt_at", "event_at"],
                    postgresql_where=QUEUED, sqlite_where=QUEUED)


def downgrade() -> None:
    op.drop_index("ix_webhook_events_queued", table_name="webhook_events")
