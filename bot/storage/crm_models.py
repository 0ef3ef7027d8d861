"""CRM tables fed by the Backme (挖貝) route: donation pages, contacts and their locations,
relationships, change log, contributions, recurring orders, received deliveries, the receipt
number counters and the durable email outbox."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, false, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, BigId, utcnow

Money = Numeric(14, 2)


class DonationPage(Base):
    """A CRM donation page fed by one Backme project, with its processor settings."""

    __tablename__ = "crm_donation_pages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # the URL segment /backme/{key}
    name: Mapped[str] = mapped_column(String(200))
    backme_secret: Mapped[str] = mapped_column(String(200))  # never logged
    financial_type: Mapped[str] = mapped_column(String(100))  # 費用類型
    receipt_prefix: Mapped[str] = mapped_column(String(30), default="")  # 收據編號前綴
    confirmation_subject: Mapped[str] = mapped_column(String(200), default="")
    confirmation_template: Mapped[str] = mapped_column(Text, default="")  # 付款成功確認信
    e_receipt_enabled: Mapped[bool] = mapped_column(Boolean, default=False)  # 自動寄送email收據
    custom_field_mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    receipt_option_names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reverse_sync_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    reverse_sync_token: Mapped[str | None] = mapped_column(String(200))
    backme_api_base: Mapped[str | None] = mapped_column(String(300))  # https://{tag}.backme.tw
    backme_project_id: Mapped[int | None] = mapped_column(Integer)
    backme_api_token: Mapped[str | None] = mapped_column(String(200))
    link_name: Mapped[str | None] = mapped_column(String(200))
    link_url: Mapped[str | None] = mapped_column(String(500))
    # Last pull of Backme's project statistics (reverse sync).
    backme_money: Mapped[Decimal | None] = mapped_column(Money)
    backme_count: Mapped[int | None] = mapped_column(Integer)
    backme_goal: Mapped[Decimal | None] = mapped_column(Money)  # money_goal, when Backme sends it
    backme_pulled_at: Mapped[dt.datetime | None]
    backme_pull_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReceiptCounter(Base):
    """The next receipt number of a page; locked FOR UPDATE while a number is allocated."""

    __tablename__ = "crm_receipt_counters"

    page_id: Mapped[int] = mapped_column(ForeignKey("crm_donation_pages.id", ondelete="CASCADE"), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class Contact(Base):
    """A CRM contact (person); ``external_identifier`` is ``backer-<Backme member id>``."""

    __tablename__ = "crm_contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_identifier: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_name: Mapped[str] = mapped_column(String(100), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ContactEmail(Base):
    """An email of a contact at a location type (住家 / 帳單 / 其他)."""

    __tablename__ = "crm_emails"
    __table_args__ = (Index("ix_crm_emails_email_key", "email_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))  # case-folded, for lookups
    location_type: Mapped[str] = mapped_column(String(10))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class ContactPhone(Base):
    """A phone of a contact at a location type; ``phone_key`` is digits only, for lookups."""

    __tablename__ = "crm_phones"
    __table_args__ = (Index("ix_crm_phones_phone_key", "phone_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    phone_key: Mapped[str] = mapped_column(String(32))
    is_mobile: Mapped[bool] = mapped_column(Boolean, default=False)
    location_type: Mapped[str] = mapped_column(String(10))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class ContactAddress(Base):
    """A postal address of a contact; a replaced 帳單 address is demoted to 其他, never deleted."""

    __tablename__ = "crm_addresses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True)
    location_type: Mapped[str] = mapped_column(String(10))
    street_address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(50), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    subdivision: Mapped[str | None] = mapped_column(String(8))
    country: Mapped[str] = mapped_column(String(2), default="")


class Relationship(Base):
    """contact_a (訂購者, the buyer) → contact_b (收件者, the recipient)."""

    __tablename__ = "crm_relationships"
    __table_args__ = (UniqueConstraint("contact_a_id", "contact_b_id", "relationship_type"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_a_id: Mapped[int] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"))
    contact_b_id: Mapped[int] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True)
    relationship_type: Mapped[str] = mapped_column(String(20))  # 收件者 (searched in 進階搜尋)
    label_a_b: Mapped[str] = mapped_column(String(20))  # 訂購者
    label_b_a: Mapped[str] = mapped_column(String(20))  # 收件者
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ChangeLogEntry(Base):
    """變更紀錄: one entry per import touching a contact."""

    __tablename__ = "crm_change_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(200))
    trade_no: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Contribution(Base):
    """A donation: a single Backme donation, one installment of a recurring order, or a
    donation made on the CRM page itself (processor other than 挖貝)."""

    __tablename__ = "crm_contributions"
    __table_args__ = (
        UniqueConstraint("page_id", "trade_no"),
        UniqueConstraint("page_id", "receipt_number"),
        Index("ix_crm_contributions_processor_status", "processor", "status"),
        Index("ix_crm_contributions_parent", "page_id", "parent_trade_no"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("crm_donation_pages.id"))
    processor: Mapped[str] = mapped_column(String(30))  # 挖貝 for Backme
    trade_no: Mapped[str] = mapped_column(String(64), index=True)  # 交易編號
    order_type: Mapped[str] = mapped_column(String(10))  # normal | child
    parent_trade_no: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("crm_contacts.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="TWD")
    financial_type: Mapped[str] = mapped_column(String(100))
    instrument: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12))  # pending | completed | failed | cancelled
    status_reason: Mapped[str | None] = mapped_column(Text)  # failure / cancel reason
    status_updated_at: Mapped[dt.datetime | None]
    status_fingerprint: Mapped[str | None] = mapped_column(String(64))
    order_updated_at: Mapped[dt.datetime]  # newest Backme version applied
    fingerprint: Mapped[str] = mapped_column(String(64))
    order_created_at: Mapped[dt.datetime]
    receive_date: Mapped[dt.datetime | None]
    cancel_date: Mapped[dt.datetime | None]
    is_pay_later: Mapped[bool] = mapped_column(Boolean, default=False)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # never counted
    receipt_option: Mapped[str | None] = mapped_column(String(30))
    receipt_title: Mapped[str] = mapped_column(String(200), default="")
    receipt_serial: Mapped[str] = mapped_column(String(20), default="")
    receipt_number: Mapped[str | None] = mapped_column(String(60))
    notification_email: Mapped[str] = mapped_column(String(254), default="")
    custom_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note_text: Mapped[str] = mapped_column(Text, default="")  # reward line, note, unmapped fields
    raw_order: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecurringOrder(Base):
    """A recurring (定期定額) order; its installments are contributions with its parent_trade_no."""

    __tablename__ = "crm_recurring_orders"
    __table_args__ = (UniqueConstraint("page_id", "trade_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("crm_donation_pages.id"))
    processor: Mapped[str] = mapped_column(String(30))
    trade_no: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("crm_contacts.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="TWD")
    status: Mapped[str] = mapped_column(String(12))  # in_progress | suspended | completed | cancelled
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_updated_at: Mapped[dt.datetime | None]
    status_fingerprint: Mapped[str | None] = mapped_column(String(64))
    order_updated_at: Mapped[dt.datetime]
    fingerprint: Mapped[str] = mapped_column(String(64))
    frequency_unit: Mapped[str] = mapped_column(String(10), default="month")
    frequency_interval: Mapped[int] = mapped_column(Integer, default=1)
    start_date: Mapped[dt.datetime]
    end_date: Mapped[dt.datetime | None]
    next_paid_time: Mapped[dt.datetime | None]
    next_paid_amount: Mapped[Decimal | None] = mapped_column(Money)
    raw_order: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReceivedDelivery(Base):
    """Every authenticated, well-formed delivery (audit): what came, when, and what it did."""

    __tablename__ = "crm_received_deliveries"
    __table_args__ = (Index("ix_crm_received_deliveries_page_trade", "page_id", "trade_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("crm_donation_pages.id"))
    delivery_id: Mapped[str | None] = mapped_column(String(100))
    trade_no: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))  # create | update | ignore
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EmailOutbox(Base):
    """A durable email to send (receipt or payment confirmation); one per contribution + kind."""

    __tablename__ = "crm_email_outbox"
    __table_args__ = (Index("ix_crm_email_outbox_due", "state", "not_before"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("crm_donation_pages.id"))
    contribution_id: Mapped[int | None] = mapped_column(ForeignKey("crm_contributions.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # receipt | confirmation
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="queued")  # queued | sending | sent | failed
    claim_token: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
