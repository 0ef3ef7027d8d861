"""Issue 30: fraud signals, hold for review, the review queue and appeals — the photo hash, the carrier of imported invoices, the code's own data and the review state on
uploads; the upload_signals, review_decisions and review_appeals tables; the queue's indexes

Revision ID: 0017
Revises: 0014
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def _upload_columns() -> tuple[sa.Column, ...]:
    return (
        sa.Column("photo_hash", sa.BigInteger(), nullable=True),
        sa.Column("carrier_hash", sa.String(64), nullable=True),
        sa.Column("carrier_mask", sa.String(8), nullable=True),
        sa.Column("code_data", sa.JSON(), nullable=True),
        sa.Column("review_state", sa.String(10), nullable=True),
        sa.Column("review_since", UTC, nullable=True),
        sa.Column("hold_until", UTC, nullable=True),
    )


def _ref(owner: str, column: str, table: str, *, cascade: bool = False, nullable: bool = False) -> sa.Column:
    """`owner.column` referring to `table.id`, its constraint named as the models' convention does."""
    key = sa.ForeignKey(f"{table}.id", ondelete="CASCADE" if cascade else None, name=f"fk_{owner}_{column}_{table}")
    return sa.Column(column, BigId, key, nullable=nullable)


def _partial(condition: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


UPLOAD_INDEXES = (
    ("ix_uploads_review", ["review_state", "review_since", "id"], "review_state IS NOT NULL"),
    ("ix_uploads_campaign_review", ["campaign_id", "review_state", "review_since", "id"], "review_state IS NOT NULL"),
    ("ix_uploads_hold_due", ["hold_until"], "review_state = 'held'"),
    # (customer_id, id too: the comparison is an index-only scan)
    ("ix_uploads_campaign_photo_hash", ["campaign_id", "photo_hash", "customer_id", "id"], "photo_hash IS NOT NULL"),
    ("ix_uploads_campaign_carrier", ["campaign_id", "carrier_hash"], "carrier_hash IS NOT NULL"),
)


def upgrade() -> None:
    for column in _upload_columns():  # nullable: a plain ADD COLUMN on both databases
        op.add_column("uploads", column)
    for name, columns, condition in UPLOAD_INDEXES:
        op.create_index(name, "uploads", columns, unique=False, **_partial(condition))
    op.create_table(
        "upload_signals",
        sa.Column("id", BigId, primary_key=True),
        _ref("upload_signals", "upload_id", "uploads", cascade=True),
        _ref("upload_signals", "campaign_id", "campaigns", cascade=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_upload_signals"),
    )
    op.create_index("ix_upload_signals_upload", "upload_signals", ["upload_id"])
    op.create_index("ix_upload_signals_campaign_kind", "upload_signals", ["campaign_id", "kind", "upload_id"])
    op.create_index("ix_upload_signals_kind", "upload_signals", ["kind", "upload_id"])
    op.create_table(
        "review_decisions",
        sa.Column("id", BigId, primary_key=True),
        _ref("review_decisions", "upload_id", "uploads", cascade=True),
        _ref("review_decisions", "campaign_id", "campaigns", cascade=True),
        _ref("review_decisions", "actor_id", "admin_users", nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("undone_at", UTC, nullable=True),
        _ref("review_decisions", "undone_by", "admin_users", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_decisions"),
    )
    op.create_index("ix_review_decisions_upload", "review_decisions", ["upload_id", "id"])
    op.create_table(
        "review_appeals",
        sa.Column("id", BigId, primary_key=True),
        _ref("review_appeals", "upload_id", "uploads", cascade=True),
        _ref("review_appeals", "campaign_id", "campaigns", cascade=True),
        _ref("review_appeals", "customer_id", "customers"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("decided_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_appeals"),
        sa.UniqueConstraint("upload_id", name="uq_review_appeals_upload_id"),
    )
    op.create_index("ix_review_appeals_campaign_customer", "review_appeals", ["campaign_id", "customer_id"])


def downgrade() -> None:
    op.drop_table("review_appeals")
    op.drop_table("review_decisions")
    op.drop_table("upload_signals")
    for name, _, _ in UPLOAD_INDEXES:
        op.drop_index(name, table_name="uploads")
    for column in reversed(_upload_columns()):  # SQLite ≥ 3.35 drops a column in place
        op.drop_column("uploads", column.name)
