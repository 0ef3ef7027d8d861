"""The durable email outbox: queued in the sync transaction (one row per contribution + kind,
unique dedupe key), sent by a loop that claims rows with a compare-and-set lease, retries with
exponential backoff, and marks them sent; backends are SMTP (stdlib smtplib in a thread), a
directory of .eml files (default) or the console."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import smtplib
import ssl
import sys
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Mapping, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import leases
from bot.storage.crm_models import EmailOutbox
from bot.storage.database import Database
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

KIND_CONFIRMATION = "confirmation"
KIND_RECEIPT = "receipt"
KIND_ANNUAL_RECEIPT = "annual_receipt"


class EmailSettingsError(ValueError):
    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable


@dataclass(frozen=True)
class EmailSettings:
    """Where emails go. ``backend``: file (default; one .eml per message in ``directory``),
    console (stdout) or smtp. Read from EMAIL_* / SMTP_* environment variables."""

    backend: str = "file"
    sender: str = "noreply@localhost"
    directory: Path = Path("./data/outbox-mail")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    max_attempts: int = 8
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    lease_seconds: float = 120.0
    poll_seconds: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, data_dir: Path = Path("./data")) -> "EmailSettings":
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = (env.get(name) or "").strip()
            return value or None

        backend = (get("EMAIL_BACKEND") or "file").lower()
        if backend not in {"file", "console", "smtp"}:
            raise EmailSettingsError("EMAIL_BACKEND", "must be file, console or smtp")
        port = get("SMTP_PORT") or "25"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise EmailSettingsError("SMTP_PORT", "must be a port number")
        if backend == "smtp" and not get("SMTP_HOST"):
            raise EmailSettingsError("SMTP_HOST", "is required when EMAIL_BACKEND=smtp")

        def flag(name: str) -> bool:
            return (get(name) or "").lower() in {"1", "true", "yes", "on"}

        return cls(
            backend=backend,
            sender=get("EMAIL_FROM") or "noreply@localhost",
            directory=Path(get("EMAIL_FILE_DIR") or data_dir / "outbox-mail"),
            smtp_host=get("SMTP_HOST") or "127.0.0.1",
            smtp_port=int(port),
            smtp_username=get("SMTP_USERNAME"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=flag("SMTP_STARTTLS"),
            smtp_ssl=flag("SMTP_SSL"),
        )


# ---------------------------------------------------------------- queueing


async def queue_email(session: AsyncSession, *, page_id: int, contribution_id: int | None, kind: str,
                      to_address: str, subject: str, body: str, key: str | None = None) -> bool:
    """Add an email to the outbox in the caller's transaction unless this contribution already
    has one of this kind (the caller holds the contribution's row lock), or — for an email not
    about one contribution (an annual receipt) — unless ``key`` was queued before. True when queued."""
    if key is None:
        assert contribution_id is not None
        key = dedupe_key(contribution_id, kind)
    exists = (await session.execute(select(EmailOutbox.id).where(EmailOutbox.dedupe_key == key))).first()
    if exists is not None:
        return False
    session.add(EmailOutbox(page_id=page_id, contribution_id=contribution_id, kind=kind, dedupe_key=key,
                            to_address=to_address, subject=subject, body=body))
    return True


def dedupe_key(contribution_id: int, kind: str) -> str:
    return f"contribution:{contribution_id}:{kind}"


# ---------------------------------------------------------------- backends


class EmailBackend(Protocol):
    async def send(self, message: EmailMessage, dedupe_key: str) -> None: ...


def build_message(row: EmailOutbox, sender: str) -> EmailMessage:
    """The MIME message; its Message-ID is derived from the dedupe key, so even a resend after a
    crash between "sent" and "marked sent" is recognisable as the same message downstream."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{row.dedupe_key.replace(':', '.')}@{domain}>"
    message.set_content(row.body)
    return message


class FileBackend:
    """Writes each message to ``{directory}/{dedupe key}.eml`` (atomically; an existing file
    means it was already sent and is not written again)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, key: str) -> Path:
        return self.directory / (key.replace(":", "_") + ".eml")

    async def send(self, message: EmailMessage, dedupe_key: str) -> None:
        await asyncio.to_thread(self._write, message, dedupe_key)

    def _write(self, message: EmailMessage, key: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(key)
        if target.exists():
            return
        tmp = target.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(bytes(message))
        os.replace(tmp, target)


class ConsoleBackend:
    """Prints each message to stdout (local use; not the log stream)."""

    async def send(self, message: EmailMessage, dedupe_key: str) -> None:
        sys.stdout.write(f"----- email {dedupe_key}\n{message.as_string()}\n")
        sys.stdout.flush()


class SmtpBackend:
    """The stdlib smtplib client, run in a worker thread."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage, dedupe_key: str) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        smtp_cls = smtplib.SMTP_SSL if s.smtp_ssl else smtplib.SMTP
        with smtp_cls(s.smtp_host, s.smtp_port, timeout=30) as client:
            if s.smtp_starttls and not s.smtp_ssl:
                client.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                client.login(s.smtp_username, s.smtp_password or "")
            client.send_message(message)


def make_backend(settings: EmailSettings) -> EmailBackend:
    if settings.backend == "smtp":
        return SmtpBackend(settings)
    if settings.backend == "console":
        return ConsoleBackend()
    return FileBackend(settings.directory)


# ---------------------------------------------------------------- sending


def backoff(attempts: int, settings: EmailSettings) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failures: base × 2^(n-1), capped, ± jitter
    (bot.leases, shared with the other queues)."""
    return leases.backoff(max(attempts, 1), dt.timedelta(seconds=settings.backoff_seconds),
                          dt.timedelta(seconds=settings.backoff_max_seconds))


async def _claim(db: Database, settings: EmailSettings, now: dt.datetime, limit: int) -> list[tuple[int, str]]:
    """Claim up to ``limit`` due rows: queued and due, or sending with an expired lease (a sender
    that died), in one claim (bot.leases), so two senders never claim one row."""
    due = or_(
        (EmailOutbox.state == "queued") & (EmailOutbox.not_before <= now),
        (EmailOutbox.state == "sending") & (EmailOutbox.lease_until < now),
    )
    token = uuid.uuid4().hex
    async with db.session() as session, session.begin():
        rows = await leases.claim(
            session, EmailOutbox, due=due, order_by=(EmailOutbox.not_before, EmailOutbox.id), limit=limit,
            values=dict(state="sending", claim_token=token,
                        lease_until=now + dt.timedelta(seconds=settings.lease_seconds)),
            returning=(EmailOutbox.id, EmailOutbox.not_before))
    return [(r.id, token) for r in sorted(rows, key=lambda r: (r.not_before, r.id))]


async def send_due(db: Database, backend: EmailBackend, settings: EmailSettings, *, limit: int = 50,
                   now: dt.datetime | None = None) -> int:
    """One pass of the sender: claim due emails, send each, mark sent or schedule a retry.
    Returns how many were sent."""
    now = now or utcnow()
    sent = 0
    for row_id, token in await _claim(db, settings, now, limit):
        async with db.session() as session:
            row = await session.get(EmailOutbox, row_id)
            if row is None or row.claim_token != token:
                continue
            message = build_message(row, settings.sender)
            key = row.dedupe_key
        try:
            await backend.send(message, key)
        except Exception as exc:  # any transport failure: retry later
            await _failed(db, row_id, token, exc, settings, now)
            continue
        async with db.session() as session:
            await session.execute(
                update(EmailOutbox).where(EmailOutbox.id == row_id, EmailOutbox.claim_token == token)
                .values(state="sent", sent_at=utcnow(), lease_until=None, last_error=None,
                        attempts=EmailOutbox.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        sent += 1
        log.info("email sent", extra={"fields": {"outbox_id": row_id, "kind": key.rpartition(":")[2]}})
    return sent


async def _failed(db: Database, row_id: int, token: str, exc: Exception, settings: EmailSettings,
                  now: dt.datetime) -> None:
    """Schedule the retry from the pass's clock (`now`), as the claim was: the backoff is then
    the same whatever time the pass spent before this row."""
    async with db.session() as session:
        row = await session.get(EmailOutbox, row_id)
        if row is None or row.claim_token != token:
            return
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:500]
        row.lease_until = None
        if row.attempts >= settings.max_attempts:
            row.state = "failed"
        else:
            row.state = "queued"
            row.not_before = now + backoff(row.attempts, settings)
        await session.commit()
    log.warning("email send failed", extra={"fields": {"outbox_id": row_id, "attempts": row.attempts,
                                                        "error": type(exc).__name__}})


async def run_sender(db: Database, backend: EmailBackend, settings: EmailSettings) -> None:
    """Send due emails forever (until cancelled)."""
    while True:
        try:
            await send_due(db, backend, settings)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("email sender pass failed")
        await asyncio.sleep(settings.poll_seconds)


async def outbox_counts(session: AsyncSession) -> dict[str, int]:
    """How many outbox rows are in each state."""
    rows = (await session.execute(select(EmailOutbox.state, func.count()).group_by(EmailOutbox.state))).all()
    return {state: count for state, count in rows}
