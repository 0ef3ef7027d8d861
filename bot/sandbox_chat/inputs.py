"""Validating what the sandbox chat page sends: LINE-shaped user IDs, text and postback limits,
and uploaded files that must really be images (checked by their magic bytes, not their name)."""
from __future__ import annotations

import re
from typing import Any

USER_ID = re.compile(r"U[0-9a-f]{32}")
MAX_TEXT = 5000  # LINE's limit for a text message
MAX_POSTBACK = 300  # LINE's limit for postback data
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DISPLAY_NAME = 20  # LINE's limit for a display name
_IMAGE_KINDS = "JPEG, PNG, WebP, GIF, BMP or TIFF"


class InputError(ValueError):
    """A request field is missing or malformed; `field` names it, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def user_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InputError("user", "required")
    if not USER_ID.fullmatch(value):
        raise InputError("user", "expected a LINE user ID: U followed by 32 lowercase hex digits")
    return value


def _bounded(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InputError(field, "required (a string)")
    if not value.strip():
        raise InputError(field, "must not be empty")
    if len(value) > limit:
        raise InputError(field, f"longer than {limit} characters ({len(value)})")
    return value


def display_name(value: Any) -> str | None:
    """The optional name the page shows for its fake user (the simulator's LINE profile)."""
    if value is None:
        return None
    return _bounded(value, "name", MAX_DISPLAY_NAME).strip()


def message_text(value: Any) -> str:
    return _bounded(value, "text", MAX_TEXT)


def postback_data(value: Any) -> str:
    return _bounded(value, "data", MAX_POSTBACK)


def flag(value: Any, field: str, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InputError(field, "expected true or false")
    return value


def json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError("body", "expected a JSON object")
    return value


def image_type(data: bytes) -> str:
    """The MIME type the file's magic bytes prove, or InputError("file", …)."""
    if not data:
        raise InputError("file", "empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise InputError("file", f"larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"BM") and len(data) > 26:
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    raise InputError("file", f"not an image (expected {_IMAGE_KINDS})")
