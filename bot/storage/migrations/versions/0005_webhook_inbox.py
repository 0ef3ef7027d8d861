"""the webhook inbox (event payloads handled under leases), reply tokens on outbox rows, and
the shared MOF rate limit

Revision ID: 0005
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        # Rows from before the inbox carry no payload: state NULL, never claimed.
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("user_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("event_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("state", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handled_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.create_index("ix_webhook_events_due", ["state", "next_attempt_at"])
        batch_op.create_index("ix_webhook_events_user", ["user_key", "state"])
    with op.batch_alter_table("outgoing_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_token", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("event_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reply_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "rate_limits",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    with op.batch_alter_table("outgoing_messages", schema=None) as batch_op:
        batch_op.drop_column("reply_attempts")
        batch_op.drop_column("event_at")
        batch_op.drop_column("reply_token")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_user")
        batch_op.drop_index("ix_webhook_events_due")
        for name in ("last_error", "handled_at", "lease_until", "lease_owner", "next_attempt_at", "attempts",
                     "state", "event_at", "user_key", "payload"):
            batch_op.drop_column(name)
