"""Checks on instants: every datetime the domain accepts carries its UTC offset."""
from __future__ import annotations

import datetime as dt


def require_aware(value: dt.datetime, field_name: str) -> dt.datetime:
    """Return `value`, or raise ValueError naming the field if it is not an aware datetime."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field_name}: expected a timezone-aware datetime")
    return value
