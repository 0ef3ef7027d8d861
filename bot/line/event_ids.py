"""The identifiers of a webhook event, checked against LINE's formats before the event is stored."""
from __future__ import annotations

import re
from typing import Any

# Each one goes into a bounded column or key: webhook_events.event_id (64) and the outbox's
# dedupe keys; the source into webhook_events.user_key (200), customers.line_user_id and
# outgoing_messages.to (64); the reply token into outgoing_messages.reply_token (200); a
# message ID into state-store entries and the content URL. LINE's own formats
# (developers.line.biz, "Get user IDs" and the FAQ): user, group and room IDs are U, C and R
# followed by 32 lowercase hex digits; a webhookEventId is a ULID (26 letters and digits);
# message IDs are digits. What LINE documents only loosely (the event ID's alphabet, the reply
# token) is bounded by its column, in characters every database takes (no NUL, no space).
_FORMATS: tuple[tuple[str, str, re.Pattern[str], str], ...] = (
    ("", "webhookEventId", re.compile(r"[0-9A-Za-z]{1,64}"), "at most 64 ASCII letters and digits (a ULID)"),
    ("source", "userId", re.compile(r"U[0-9a-f]{32}"), "U followed by 32 lowercase hex digits"),
    ("source", "groupId", re.compile(r"C[0-9a-f]{32}"), "C followed by 32 lowercase hex digits"),
    ("source", "roomId", re.compile(r"R[0-9a-f]{32}"), "R followed by 32 lowercase hex digits"),
    ("", "replyToken", re.compile(r"[!-~]{1,200}"), "at most 200 visible ASCII characters"),
    ("message", "id", re.compile(r"[0-9]{1,32}"), "at most 32 digits"),
)


class BadEventId(ValueError):
    """An identifier LINE never sends (its message names the field, not the value): a 400."""


def check_ids(data: dict[str, Any], index: int) -> None:
    """Raises BadEventId for the first identifier of event `index` (its JSON, shape already
    checked by bot.line.event_check) that is present and not in LINE's format."""
    for parent, name, pattern, expected in _FORMATS:
        holder = data.get(parent) if parent else data
        if type(holder) is not dict:
            continue
        value = holder.get(name)
        if value is None:
            continue
        if type(value) is not str or not pattern.fullmatch(value):
            where = f"{parent}.{name}" if parent else name
            raise BadEventId(f"events[{index}].{where}: expected {expected}")
