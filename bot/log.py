"""Structured JSON logging that keeps personal data and secrets out of the logs."""
from __future__ import annotations

import datetime as dt
import json
import logging
import secrets as _random
import sys
from typing import Any, Iterable

from flows.privacy.pseudonyms import log_reference

# Until the service sets its key (bot.privacy.service at start-up, derived from APP_SECRET) a
# random one: references then hold within this process only.
_pseudonym_key = _random.token_bytes(32)


def use_pseudonym_key(key: bytes) -> None:
    """Key the log pseudonyms (every process of a deployment derives the same one)."""
    global _pseudonym_key
    if len(key) < 16:
        raise ValueError("key: at least 16 bytes")
    _pseudonym_key = key


def pseudonym(value: str | None) -> str:
    """A short stable reference for a LINE user ID (or any personal identifier) for logs: a keyed
    HMAC, so knowing the ID does not find its log lines without the key."""
    return log_reference(_pseudonym_key, value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class SecretRedactor(logging.Filter):
    """Replaces every registered secret value in a record's final text with `***`."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, ()
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text = json.dumps(fields, ensure_ascii=False, default=str)
            if any(secret in text for secret in self._secrets):
                for secret in self._secrets:
                    text = text.replace(secret, "***")
                record.fields = json.loads(text)
        return True


def configure(level: str = "INFO", secrets: Iterable[str | None] = (), stream: Any = None) -> SecretRedactor:
    """Send every logger's records to one JSON handler; return its redactor."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    redactor = SecretRedactor(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log prints full paths (which may carry tokens): keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return redactor
