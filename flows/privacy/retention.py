"""How long a campaign keeps personal data after it ends, and when the purge is due; how long
handled webhook events are kept."""
from __future__ import annotations

import datetime as dt

DEFAULT_RETENTION_DAYS = 180
#: A customer who never uploaded anything is purged this long after first contact.
UNATTACHED_CUSTOMER_DAYS = DEFAULT_RETENTION_DAYS
#: Handled webhook events (their JSON holds what the user sent) go this long after receipt.
DEFAULT_INBOX_RETENTION_DAYS = 7


def purge_due_at(end_at: dt.datetime, retention_days: int) -> dt.datetime:
    """The moment a campaign's personal data is to be purged: its end plus the retention days."""
    if end_at.tzinfo is None:
        raise ValueError("end_at: must carry a time-zone offset")
    return end_at + dt.timedelta(days=retention_days)


def purge_is_due(end_at: dt.datetime, retention_days: int, now: dt.datetime) -> bool:
    return now >= purge_due_at(end_at, retention_days)
