"""Test scaffolding for the queue: simple but real result callbacks that record each call as
a row (audit_log) and set the upload's status, so tests can count how often each ran."""
from __future__ import annotations

import datetime as dt
import os

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditEntry, Upload
from flows.einvoice.model import MofError, NotFoundYet, Verified

VERIFIED = "test.verified"
EXPIRED = "test.expired"
PENDING = "test.pending"


def _row(action: str, upload: Upload, now: dt.datetime, **detail: object) -> AuditEntry:
    return AuditEntry(action=action, target=f"upload:{upload.id}", detail={"pid": os.getpid(), **detail}, at=now)


class RecordingCallbacks:
    async def on_outcome(self, session: AsyncSession, upload: Upload, outcome: Verified, now: dt.datetime) -> None:
        upload.status = "passed"
        upload.verified_at = now
        upload.seller_name = outcome.invoice.seller_name
        session.add(_row(VERIFIED, upload, now, seller=outcome.invoice.seller_name))

    async def on_expired(self, session: AsyncSession, upload: Upload, now: dt.datetime) -> None:
        upload.status = "invalid"
        upload.verified_at = now
        session.add(_row(EXPIRED, upload, now))

    async def on_pending(
        self, session: AsyncSession, upload: Upload, outcome: NotFoundYet | MofError, now: dt.datetime
    ) -> None:
        session.add(_row(PENDING, upload, now, outcome=type(outcome).__name__))


CALLBACKS = RecordingCallbacks()
