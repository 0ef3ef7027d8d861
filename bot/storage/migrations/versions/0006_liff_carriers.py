"""LIFF pages: the channel's LINE Login channel ID and the carrier re-query table

Revision ID: 0006
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = bot.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("login_channel_id", sa.String(length=20), nullable=True))
    op.create_table(
        "carrier_queries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE",
                                                       name="fk_carrier_queries_campaign_id_campaigns"),
                  nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id",
                                                       name="fk_carrier_queries_customer_id_customers"),
                  nullable=False),
        sa.Column("barcode", sa.String(length=8), nullable=False),
        sa.Column("sealed_code", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_query_at", When, nullable=False),
        sa.Column("query_until", When, nullable=False),
        sa.Column("lease_until", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_carrier_queries"),
        sa.UniqueConstraint("campaign_id", "customer_id", "barcode",
                            name="uq_carrier_queries_campaign_id_customer_id_barcode"),
    )
    op.create_index("ix_carrier_queries_due", "carrier_queries", ["state", "next_query_at"])


def downgrade() -> None:
    op.drop_index("ix_carrier_queries_due", table_name="carrier_queries")
    op.drop_table("carrier_queries")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("login_channel_id")
