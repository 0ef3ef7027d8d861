"""活動資訊's participant list: uploads by campaign and each sortable column; customers by LINE
UID, and (PostgreSQL, pg_trgm) by part of a name

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


#: (campaign_id, column, id): a page of the list in any of its sort orders without a sort, and
#: the date range and invoice-number search as index ranges.
SORT_INDEXES = {"ix_uploads_campaign_uploaded": "uploaded_at", "ix_uploads_campaign_verified": "verified_at",
                "ix_uploads_campaign_invoice_date": "invoice_date",
                "ix_uploads_campaign_invoice_number": "invoice_number"}


def upgrade() -> None:
    for name, column in SORT_INDEXES.items():
        op.create_index(name, "uploads", ["campaign_id", column, "id"], unique=False)
    op.create_index("ix_customers_line_user_id", "customers", ["line_user_id"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # A trigram index serves `display_name ILIKE '%part%'`. pg_trgm is a trusted extension (the
    # database owner may create it); where it cannot be created the search still works, by a scan.
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            bind.execute(sa.text("CREATE INDEX ix_customers_display_name_trgm ON customers "
                                 "USING gin (display_name gin_trgm_ops)"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm unavailable, name search will scan: %s", exc.orig)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_customers_display_name_trgm")
    op.drop_index("ix_customers_line_user_id", table_name="customers")
    for name in SORT_INDEXES:
        op.drop_index(name, table_name="uploads")
