"""Settings of the Backme route's background work (email sender, stats puller), read from the
environment next to the foundation's Config."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot.backme.emails import EmailBackend, EmailSettings, EmailSettingsError


@dataclass(frozen=True)
class BackmeSettings:
    email: EmailSettings = field(default_factory=EmailSettings)
    stats_poll_seconds: float = 300.0  # BACKME_STATS_POLL_SECONDS; 0 disables the puller
    stats_timeout_seconds: float = 10.0
    run_sender: bool = True  # BACKME_EMAIL_SENDER=false to run no sender in this process

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, data_dir: Path = Path("./data")) -> "BackmeSettings":
        env = os.environ if environ is None else environ
        poll = (env.get("BACKME_STATS_POLL_SECONDS") or "300").strip()
        try:
            seconds = float(poll)
        except ValueError:
            raise EmailSettingsError("BACKME_STATS_POLL_SECONDS", "must be a number of seconds") from None
        if seconds < 0:
            raise EmailSettingsError("BACKME_STATS_POLL_SECONDS", "must not be negative")
        sender = (env.get("BACKME_EMAIL_SENDER") or "true").strip().lower() not in {"0", "false", "no", "off"}
        return cls(email=EmailSettings.from_env(env, data_dir), stats_poll_seconds=seconds, run_sender=sender)


BACKME_SETTINGS = web.AppKey("backme_settings", BackmeSettings)
EMAIL_BACKEND = web.AppKey("backme_email_backend", object)  # an EmailBackend

__all__ = ["BACKME_SETTINGS", "EMAIL_BACKEND", "BackmeSettings", "EmailBackend"]
