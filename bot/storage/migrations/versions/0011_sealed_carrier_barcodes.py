"""carrier barcodes sealed and matched by a keyed hash (the plain column is emptied by the
service's start-up, which has the key: liff_pages.carriers.seal_plain_barcodes); the page texts
kept in LIFF answers already sent (a carrier's text holds its barcode) are dropped

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "carrier_queries"
LEGACY_TEXTS = "liff_texts"  # bot.chat.liff_answers.LEGACY_TEXTS_KEY


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("barcode_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sealed_barcode", sa.Text(), nullable=True))
        batch_op.alter_column("barcode", existing_type=sa.String(length=8), nullable=True)
        batch_op.drop_constraint("uq_carrier_queries_campaign_id_customer_id_barcode", type_="unique")
        batch_op.create_unique_constraint("uq_carrier_queries_campaign_id_customer_id_barcode_hash",
                                          ["campaign_id", "customer_id", "barcode_hash"])
    _drop_sent_liff_texts()


def _drop_sent_liff_texts() -> None:
    """A held answer needs its page texts only while queued (a queued one keeps them until it
    goes, minutes at most); sent and failed rows lose them."""
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, CAST(messages AS TEXT) FROM outgoing_messages WHERE state <> 'queued' "
        "AND CAST(messages AS TEXT) LIKE :mark"), {"mark": f'%"{LEGACY_TEXTS}"%'}).all()
    for row_id, text in rows:
        messages = json.loads(text)
        if isinstance(messages, dict) and messages.pop(LEGACY_TEXTS, None) is not None:
            connection.execute(sa.text("UPDATE outgoing_messages SET messages = :m WHERE id = :id")
                               .bindparams(sa.bindparam("m", type_=sa.JSON)), {"m": messages, "id": row_id})


def downgrade() -> None:
    # Sealed barcodes cannot be opened here (the key is the service's): such rows go.
    op.execute(sa.text(f"DELETE FROM {TABLE} WHERE barcode IS NULL"))
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint("uq_carrier_queries_campaign_id_customer_id_barcode_hash", type_="unique")
        batch_op.create_unique_constraint("uq_carrier_queries_campaign_id_customer_id_barcode",
                                          ["campaign_id", "customer_id", "barcode"])
        batch_op.alter_column("barcode", existing_type=sa.String(length=8), nullable=False)
        batch_op.drop_column("sealed_barcode")
        batch_op.drop_column("barcode_hash")
