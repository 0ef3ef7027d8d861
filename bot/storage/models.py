"""SQLAlchemy 2 ORM models: the core tables every part of the service shares."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Primary keys are BIGINT on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


_clock_offset = dt.timedelta(0)
_clock_offset_allowed = False


def utcnow() -> dt.datetime:
    """The service's current time (aware, UTC): the one time source of service code. In sandbox
    mode only, the clock control (bot.sandbox_chat.clock) may have moved it ahead."""
    return dt.datetime.now(dt.timezone.utc) + _clock_offset


def clock_offset() -> dt.timedelta:
    return _clock_offset


def allow_clock_offset(allowed: bool) -> None:
    """Sandbox mode's start-up allows moving the clock; its shutdown forbids it again and puts the
    clock back (nothing else calls this)."""
    global _clock_offset_allowed, _clock_offset
    _clock_offset_allowed = allowed
    if not allowed:
        _clock_offset = dt.timedelta(0)


def set_clock_offset(offset: dt.timedelta) -> None:
    """Move utcnow() by `offset` (≥ 0) from the real time; refused unless sandbox mode allowed it."""
    global _clock_offset
    if not _clock_offset_allowed:
        raise RuntimeError("the clock can only be moved in sandbox mode")
    if offset < dt.timedelta(0):
        raise ValueError("the clock offset cannot be negative")
    _clock_offset = offset


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class Channel(Base):
    """A LINE official account (Messaging API channel) of the team."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The bot's user ID, sent as `destination` in webhooks; identifies the channel.
    line_destination: Mapped[str | None] = mapped_column(String(64), unique=True)
    channel_secret: Mapped[str | None] = mapped_column(String(200))
    access_token: Mapped[str | None] = mapped_column(Text)
    liff_id: Mapped[str | None] = mapped_column(String(100))
    # The LINE Login channel of the LIFF app: the `client_id` its ID tokens are verified for.
    login_channel_id: Mapped[str | None] = mapped_column(String(20))
    basic_id: Mapped[str | None] = mapped_column(String(50))  # "@123abcde", for keyword links
    linked: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AdminUser(Base):
    """A marketer or operator using the admin CLI, with one of the eight roles (無權限: none of the rights)."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The web console's password (an argon2 hash); None: no console sign-in by password.
    password_hash: Mapped[str | None] = mapped_column(String(200))


class ConsoleSession(Base):
    """A signed-in console session: the cookie holds a random token, this row its SHA-256."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConsoleLoginLink(Base):
    """A one-time console sign-in link (`admin-cli users login-link`): only the token's SHA-256
    is kept; it works once (`used_at`), until `expires_at`."""

    __tablename__ = "console_login_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """Who did what: every mutating admin action names its actor."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id"))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Campaign(Base):
    """An invoice-registration campaign; its conditions are the domain's settings as JSON."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    name: Mapped[str] = mapped_column(String(200))
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]
    rules_url: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    # Step-2 conditions and reward, serialised by flows.campaigns (validated there).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Per-person cap duplicated as a column so the database can enforce it (None = unlimited).
    cap: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[dt.datetime | None]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the retention purge removed its personal data (None: not yet).
    purged_at: Mapped[dt.datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    channel: Mapped[Channel] = relationship(lazy="raise")


class MessageTemplate(Base):
    """A marketer-edited custom message of one campaign (Jinja2 source rendering flex JSON)."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("campaign_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(Text)  # the flex container (Jinja2 → JSON)
    alt_text: Mapped[str | None] = mapped_column(String(400))  # Jinja2; None: the kind's default
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Trigger(Base):
    """What sends a campaign's invoice card: a postback, keyword or bot-module trigger."""

    __tablename__ = "triggers"
    __table_args__ = (UniqueConstraint("channel_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # postback | keyword_exact | keyword_contains | module
    value: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """A LINE user of one channel (shopper or donor)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("channel_id", "line_user_id"),
        # 活動資訊's search by LINE UID (migration 0014; on PostgreSQL also a pg_trgm index on
        # display_name for the search by part of a name, made by the migration only).
        Index("ix_customers_line_user_id", "line_user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    line_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    phone_consent_at: Mapped[dt.datetime | None]
    blocked_at: Mapped[dt.datetime | None]  # LINE refused pushes: the user blocked the account
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Participation(Base):
    """One customer in one campaign; its row is the lock that makes the cap exact."""

    __tablename__ = "participations"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        CheckConstraint("passed_count >= 0", name="passed_count_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    passed_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Upload(Base):
    """One invoice registered by a customer to a campaign, and where its verification stands."""

    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_campaign_status", "campaign_id", "status"),
        Index("ix_uploads_customer", "customer_id"),
        # Statistics: distinct participants of a campaign as an index-only scan.
        Index("ix_uploads_campaign_customer", "campaign_id", "customer_id"),
        # 活動資訊's participant list: a page in each sort order, date ranges (migration 0014).
        Index("ix_uploads_campaign_uploaded", "campaign_id", "uploaded_at", "id"),
        Index("ix_uploads_campaign_verified", "campaign_id", "verified_at", "id"),
        Index("ix_uploads_campaign_invoice_date", "campaign_id", "invoice_date", "id"),
        Index("ix_uploads_campaign_invoice_number", "campaign_id", "invoice_number", "id"),
        # The review queue (issue 30, migration 0017): uploads under review by campaign and
        # state in the order they came in; the held ones by when their hold ends; a campaign's
        # photo hashes (compared exactly, as an index-only scan on PostgreSQL).
        Index("ix_uploads_review", "review_state", "review_since", "id",
              sqlite_where=text("review_state IS NOT NULL"), postgresql_where=text("review_state IS NOT NULL")),
        Index("ix_uploads_campaign_review", "campaign_id", "review_state", "review_since", "id",
              sqlite_where=text("review_state IS NOT NULL"), postgresql_where=text("review_state IS NOT NULL")),
        Index("ix_uploads_hold_due", "hold_until",
              sqlite_where=text("review_state = 'held'"), postgresql_where=text("review_state = 'held'")),
        Index("ix_uploads_campaign_photo_hash", "campaign_id", "photo_hash", "customer_id", "id",
              sqlite_where=text("photo_hash IS NOT NULL"), postgresql_where=text("photo_hash IS NOT NULL")),
        Index("ix_uploads_campaign_carrier", "campaign_id", "carrier_hash",
              sqlite_where=text("carrier_hash IS NOT NULL"), postgresql_where=text("carrier_hash IS NOT NULL")),
        # The team-wide "same invoice once" rule, enforced by the database.
        Index(
            "uq_uploads_passed_invoice",
            "invoice_number",
            "period",
            unique=True,
            sqlite_where=text("status = 'passed'"),
            postgresql_where=text("status = 'passed'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    source: Mapped[str] = mapped_column(String(10))  # photo | manual | carrier
    status: Mapped[str] = mapped_column(String(20))  # pending | passed | invalid | not_qualified | duplicate | unreadable
    reason: Mapped[str | None] = mapped_column(Text)
    invoice_number: Mapped[str | None] = mapped_column(String(10))
    invoice_date: Mapped[dt.date | None]
    period: Mapped[str | None] = mapped_column(String(5))
    random_code: Mapped[str | None] = mapped_column(String(4))
    encrypt: Mapped[str | None] = mapped_column(String(24))
    buyer_ban: Mapped[str | None] = mapped_column(String(8))
    seller_ban: Mapped[str | None] = mapped_column(String(8))
    seller_name: Mapped[str | None] = mapped_column(String(200))
    total_amount: Mapped[int | None] = mapped_column(BigInteger)
    photo_path: Mapped[str | None] = mapped_column(Text)
    tier: Mapped[int | None] = mapped_column(Integer)
    is_draft: Mapped[bool] = mapped_column(Boolean, default=False)  # made before publishing
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[dt.datetime | None]
    # Issue 30 (migration 0017). The photo's 64-bit perceptual hash (signed, as BIGINT holds
    # it); erased with the photo.
    photo_hash: Mapped[int | None] = mapped_column(BigInteger)
    # The carrier an imported invoice came from: its keyed hash (as carrier_queries) and a
    # masked form for reviewers (`/AB****3`).
    carrier_hash: Mapped[str | None] = mapped_column(String(64))
    carrier_mask: Mapped[str | None] = mapped_column(String(8))
    # What the user's code said before MOF's record replaced it (amount, seller BAN, date, the
    # QR's items): the mismatch signal's evidence and the reviewer's "QR" column.
    code_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Review (bot/review): NULL (never under review) | held (hold period, no flag) | flagged
    # (signals: waits for a person) | appealed (回報問題) | approved | rejected | released.
    review_state: Mapped[str | None] = mapped_column(String(10))
    review_since: Mapped[dt.datetime | None]  # when it entered review (the queue's age)
    hold_until: Mapped[dt.datetime | None]  # held: released automatically at this time

    items: Mapped[list["InvoiceItem"]] = relationship(
        back_populates="upload", cascade="all, delete-orphan", lazy="raise", order_by="InvoiceItem.row_num"
    )


class InvoiceItem(Base):
    """One line of a verified (or QR-read) invoice."""

    __tablename__ = "invoice_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    row_num: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 4))

    upload: Mapped[Upload] = relationship(back_populates="items", lazy="raise")


class UploadSignal(Base):
    """A fraud signal found when an upload was settled (bot/review/signals.py): its kind and the
    evidence (upload and customer ids, distances, counts; never a LINE user ID or barcode)."""

    __tablename__ = "upload_signals"
    __table_args__ = (
        Index("ix_upload_signals_upload", "upload_id"),
        Index("ix_upload_signals_campaign_kind", "campaign_id", "kind", "upload_id"),
        Index("ix_upload_signals_kind", "kind", "upload_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # flows.review.signals.SignalKind
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReviewDecision(Base):
    """One reviewer's (or the hold's end's) decision on an upload; never deleted. An undone
    decision keeps its row with `undone_at` / `undone_by`."""

    __tablename__ = "review_decisions"
    __table_args__ = (Index("ix_review_decisions_upload", "upload_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id"))  # None: the hold's end
    kind: Mapped[str] = mapped_column(String(10))  # approve | reject | correct | release
    reason: Mapped[str | None] = mapped_column(String(100))  # reject: one of the campaign's reasons
    note: Mapped[str | None] = mapped_column(Text)  # reject: the reviewer's free text
    # Before/after: review state, status, reward state; correct: the fields changed.
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[dt.datetime | None]
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id"))


class ReviewAppeal(Base):
    """A shopper's 回報問題 on a result (one per upload): their note goes to the queue."""

    __tablename__ = "review_appeals"
    __table_args__ = (Index("ix_review_appeals_campaign_customer", "campaign_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    note: Mapped[str | None] = mapped_column(Text)  # personal: erased by forget-me and the purge
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]


class VerificationJob(Base):
    """A durable job: verify one upload with the MOF API until it has an outcome or expires."""

    __tablename__ = "verification_jobs"
    __table_args__ = (Index("ix_verification_jobs_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upload_id: Mapped[int] = mapped_column(
        ForeignKey("uploads.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutgoingMessage(Base):
    """Every message sent (or to be pushed) to a LINE user, with its billable flag: the outbox."""

    __tablename__ = "outgoing_messages"
    __table_args__ = (
        Index("ix_outgoing_messages_due", "state", "not_before"),
        # The sender's claim walks queued rows in id order and checks each recipient's older
        # queued rows: over queued rows only, whatever number of sent rows the table keeps.
        Index("ix_outgoing_messages_queued", "id", postgresql_where=text("state = 'queued'"),
              sqlite_where=text("state = 'queued'")),
        Index("ix_outgoing_messages_queued_to", "channel_id", "to", "id", postgresql_where=text("state = 'queued'"),
              sqlite_where=text("state = 'queued'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    to: Mapped[str] = mapped_column(String(64))  # LINE user ID
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))  # message type (system or custom)
    delivery: Mapped[str] = mapped_column(String(10))  # reply | push
    billable: Mapped[bool] = mapped_column(Boolean)
    messages: Mapped[dict[str, Any]] = mapped_column()  # {"messages": [LINE message objects]}
    # One message per purpose: a second insert with the same key is the same message.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="queued")  # queued | sent | failed
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # An answer to a user's event: replied with this token while it is fresh (judged from
    # event_at, LINE's event timestamp), else pushed. Cleared once used.
    reply_token: Mapped[str | None] = mapped_column(String(200))
    event_at: Mapped[dt.datetime | None]
    # Claims made while the token was fresh: above 1, an earlier claim may have replied already
    # (a reply has no retry key), so the row is never pushed as well.
    reply_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CarrierQuery(Base):
    """A mobile-barcode carrier a customer gave for a campaign: re-queried at MOF on the
    verification schedule until 3 days after the issue-date window, then its code and barcode are
    deleted. The barcode is personal data: kept sealed, and found by its keyed hash."""

    __tablename__ = "carrier_queries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id", "barcode_hash"),
        Index("ix_carrier_queries_due", "state", "next_query_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # The plain barcode ("/ABC+123") of rows from before migration 0011, until the service's
    # start-up seals it (liff_pages.carriers.seal_plain_barcodes); NULL for every other row.
    barcode: Mapped[str | None] = mapped_column(String(8))
    # HMAC-SHA256 of the barcode under a key derived from APP_SECRET (liff_pages.sealing).
    barcode_hash: Mapped[str | None] = mapped_column(String(64))
    # AES-GCM (nonce + ciphertext) of the barcode and of the verification code; NULL once deleted.
    sealed_barcode: Mapped[str | None] = mapped_column(Text)
    sealed_code: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="active")  # active | done
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_query_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    query_until: Mapped[dt.datetime]  # 3 days after the issue-date window ends
    lease_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CouponCode(Base):
    """One code of a campaign's imported pool; handed out once, atomically."""

    __tablename__ = "coupon_codes"
    __table_args__ = (
        UniqueConstraint("campaign_id", "code"),
        Index("ix_coupon_codes_free", "campaign_id", "upload_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    tier: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(200))
    upload_id: Mapped[int | None] = mapped_column(
        ForeignKey("uploads.id", ondelete="SET NULL"), unique=True
    )
    assigned_at: Mapped[dt.datetime | None]
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Reward(Base):
    """The reward owed for one passed upload; waits (no code) while the pool is exhausted."""

    __tablename__ = "rewards"
    __table_args__ = (Index("ix_rewards_campaign_state", "campaign_id", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    tier: Mapped[int | None] = mapped_column(Integer)
    bot_name: Mapped[str] = mapped_column(String(200))
    module_name: Mapped[str] = mapped_column(String(200))
    coupon_code: Mapped[str | None] = mapped_column(String(200))
    coupon_link: Mapped[str | None] = mapped_column(Text)
    # given | waiting | none (list-only) | held (under review: no code taken yet) | revoked (rejected)
    state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    given_at: Mapped[dt.datetime | None]


class WebhookEvent(Base):
    """LINE webhook events already accepted, by `webhookEventId`, so redeliveries run once."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # The inbox (bot/line/inbox.py): the event's JSON, stored before the 200 and handled under
    # a lease. state: queued | running | done | failed; NULL for rows from before the inbox.
    payload: Mapped[str | None] = mapped_column(Text)
    user_key: Mapped[str | None] = mapped_column(String(200))  # channel key + user: one at a time
    event_at: Mapped[dt.datetime | None]  # LINE's event timestamp (reply-token freshness, order)
    state: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    handled_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_webhook_events_due", "state", "next_attempt_at"),
        Index("ix_webhook_events_user", "user_key", "state"),
        # The claim walks queued events in its order and stops at the batch's size, checking
        # each one's user for an earlier unfinished event: not the whole backlog per claim.
        Index("ix_webhook_events_queued", "next_attempt_at", "event_at", postgresql_where=text("state = 'queued'"),
              sqlite_where=text("state = 'queued'")),
    )


class RateLimit(Base):
    """A rate shared by every process (GCRA): `tat` is the theoretical arrival time of the
    next call, in epoch seconds (bot/verification/rate.py)."""

    __tablename__ = "rate_limits"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    tat: Mapped[float] = mapped_column(Float)


class PrivacyKey(Base):
    """A key of the privacy features: `pseudonym` (the secret of LINE user ID pseudonyms) and
    `photo_links` (its generation is mixed into every photo-link token; rotating revokes them)."""

    __tablename__ = "privacy_keys"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StateEntry(Base):
    """The embedded state store (no Redis): key → JSON value with an absolute expiry."""

    __tablename__ = "state_entries"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)


from bot.storage import crm_models as _crm_models  # noqa: E402,F401
