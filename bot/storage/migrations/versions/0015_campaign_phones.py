"""Phones with their consent per campaign (campaign_phones), in E.164 digits; customers lose
their one phone per channel (issue 28, items 6–7)

Each customer's phone moves to the campaign it was given for: the campaign of the customer's
latest manual entry at or before the consent time (the manual page stored the phone with its
upload, at the same instant). A phone without a consent time, without such an entry, or that is
not a Taiwan mobile number is not moved: no campaign has its consent. Downgrading gives each
customer their latest phone back, as 09 and 8 digits (the form before).

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

import bot.storage.models
from flows.contact.phones import PhoneError, canonical_phone, national_phone

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = bot.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign_phones",
        sa.Column("id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE",
                                                       name="fk_campaign_phones_campaign_id_campaigns"),
                  nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", name="fk_campaign_phones_customer_id_customers"),
                  nullable=False),
        sa.Column("phone", sa.String(length=15), nullable=False),
        sa.Column("consent_at", When, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_phones"),
        sa.UniqueConstraint("campaign_id", "customer_id", name="uq_campaign_phones_campaign_id_customer_id"),
    )
    op.create_index("ix_campaign_phones_customer_id", "campaign_phones", ["customer_id"])
    bind = op.get_bind()
    # Raw values in and out (SQLite keeps the UTC text as written; it compares as text).
    rows = bind.execute(sa.text(
        "SELECT c.id, c.phone, c.phone_consent_at, "
        "(SELECT u.campaign_id FROM uploads u WHERE u.customer_id = c.id AND u.source = 'manual' "
        " AND u.uploaded_at <= c.phone_consent_at ORDER BY u.uploaded_at DESC, u.id DESC LIMIT 1) "
        "FROM customers c WHERE c.phone IS NOT NULL")).all()
    moved = dropped = 0
    for customer_id, phone, consent_at, campaign_id in rows:
        try:
            canonical = canonical_phone(phone)
        except PhoneError:
            canonical = None
        if canonical is None or consent_at is None or campaign_id is None:
            dropped += 1
            continue
        bind.execute(sa.text("INSERT INTO campaign_phones (campaign_id, customer_id, phone, consent_at, created_at) "
                             "VALUES (:campaign, :customer, :phone, :at, :at)"),
                     {"campaign": campaign_id, "customer": customer_id, "phone": canonical, "at": consent_at})
        moved += 1
    if rows:  # counts only: the numbers are personal data
        log.warning("campaign_phones: %d phones moved to their campaign, %d without a campaign's consent dropped",
                    moved, dropped)
    op.drop_column("customers", "phone_consent_at")
    op.drop_column("customers", "phone")


def downgrade() -> None:
    op.add_column("customers", sa.Column("phone", sa.String(length=30), nullable=True))
    op.add_column("customers", sa.Column("phone_consent_at", When, nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT p.customer_id, p.phone, p.consent_at FROM campaign_phones p "
        "ORDER BY p.customer_id, p.consent_at, p.id")).all()
    latest = {customer_id: (phone, at) for customer_id, phone, at in rows}
    for customer_id, (phone, at) in latest.items():
        bind.execute(sa.text("UPDATE customers SET phone = :phone, phone_consent_at = :at WHERE id = :id"),
                     {"phone": national_phone(phone), "at": at, "id": customer_id})
    op.drop_index("ix_campaign_phones_customer_id", table_name="campaign_phones")
    op.drop_table("campaign_phones")
