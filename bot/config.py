"""Service configuration read from the environment (12-factor), validated once at start-up."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/app.db"
DEFAULT_LINE_API = "https://api.line.me"
DEFAULT_LINE_DATA_API = "https://api-data.line.me"
DEFAULT_MOF_API = "https://api.einvoice.nat.gov.tw"
SUPPORTED_DB_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}


class ConfigError(ValueError):
    """A setting is missing or malformed; `variable` names the environment variable."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


def _secret_repr(value: str | None) -> str:
    return "None" if value is None else "'***'"


@dataclass(frozen=True)
class Config:
    """Everything the service needs; secrets are hidden from repr() so they never reach a log."""

    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    port: int = 8080
    host: str = "0.0.0.0"
    public_base_url: str | None = None
    line_channel_secret: str | None = field(default=None, repr=False)
    line_channel_access_token: str | None = field(default=None, repr=False)
    liff_id: str | None = None
    line_api_base_url: str = DEFAULT_LINE_API
    line_data_api_base_url: str = DEFAULT_LINE_DATA_API
    mof_api_base_url: str = DEFAULT_MOF_API
    mof_app_id: str | None = None
    mof_api_key: str | None = field(default=None, repr=False)
    data_dir: Path = Path("./data")
    log_level: str = "INFO"
    run_migrations: bool = True
    run_worker: bool = True
    # Handle webhook events from the inbox (and send LINE messages) in this process; worker
    # processes (`python -m bot worker`) always do. HANDLER_CONCURRENCY: events at once.
    handle_events: bool = True
    handler_concurrency: int = 8
    # LEASE_SECONDS: overrides the inbox (60 s) and verification-job (2 min) leases, i.e. how
    # soon another process takes over the work of one that was killed (tests, demos).
    lease_seconds: float | None = None
    state_prefix: str = "invoicebot"
    app_secret: str | None = field(default=None, repr=False)  # signs photo links (optional)
    # Sandbox mode: no LINE credentials were given, so the service runs against its bundled
    # simulators. Derived from the credentials unless set explicitly.
    sandbox: bool | None = None

    def __post_init__(self) -> None:
        if self.sandbox is None:
            derived = self.line_channel_secret is None and self.line_channel_access_token is None
            object.__setattr__(self, "sandbox", derived)

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    def describe(self) -> dict[str, str]:
        """A log-safe summary (no secrets, no credentials inside URLs)."""
        return {
            "mode": "sandbox" if self.sandbox else "production",
            "database": _redact_url(self.database_url),
            "state_store": "redis " + _redact_url(self.redis_url) if self.redis_url else "embedded",
            "port": str(self.port),
            "line_api": self.line_api_base_url,
            "mof_api": self.mof_api_base_url,
            "mof_api_key": _secret_repr(self.mof_api_key),
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, service: bool = True) -> "Config":
        """Read and validate the environment. `service=False` (the admin CLI) skips the rules
        that only the running service needs (credentials that must come in pairs)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            if value is None:
                return None
            value = value.strip()
            return value or None

        secret, token = get("LINE_CHANNEL_SECRET"), get("LINE_CHANNEL_ACCESS_TOKEN")
        if service and (secret is None) != (token is None):
            missing = "LINE_CHANNEL_ACCESS_TOKEN" if token is None else "LINE_CHANNEL_SECRET"
            raise ConfigError(
                missing,
                "required when the other LINE credential is set "
                "(set both for production, or neither for sandbox mode)",
            )
        mof_key = get("MOF_API_KEY")
        mof_app = get("MOF_APP_ID")
        if service and secret is not None and (mof_key is None or mof_app is None):
            missing = "MOF_APP_ID" if mof_app is None else "MOF_API_KEY"
            raise ConfigError(missing, "required in production mode (LINE credentials are set)")

        return cls(
            database_url=_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            redis_url=_redis_url(get("REDIS_URL")),
            port=_port(get("PORT")),
            host=get("HOST") or "0.0.0.0",
            public_base_url=_http_url("PUBLIC_BASE_URL", get("PUBLIC_BASE_URL")),
            line_channel_secret=secret,
            line_channel_access_token=token,
            liff_id=get("LIFF_ID"),
            line_api_base_url=_http_url("LINE_API_BASE_URL", get("LINE_API_BASE_URL"))
            or DEFAULT_LINE_API,
            line_data_api_base_url=_http_url(
                "LINE_DATA_API_BASE_URL", get("LINE_DATA_API_BASE_URL")
            )
            or DEFAULT_LINE_DATA_API,
            mof_api_base_url=_http_url("MOF_API_BASE_URL", get("MOF_API_BASE_URL"))
            or DEFAULT_MOF_API,
            mof_app_id=mof_app,
            mof_api_key=mof_key,
            data_dir=Path(get("DATA_DIR") or "./data"),
            log_level=_log_level(get("LOG_LEVEL")),
            run_migrations=_flag("RUN_MIGRATIONS", get("RUN_MIGRATIONS"), True),
            run_worker=_flag("RUN_WORKER", get("RUN_WORKER"), True),
            handle_events=_flag("HANDLE_EVENTS", get("HANDLE_EVENTS"), True),
            handler_concurrency=_concurrency(get("HANDLER_CONCURRENCY")),
            lease_seconds=_seconds("LEASE_SECONDS", get("LEASE_SECONDS")),
            state_prefix=get("STATE_PREFIX") or "invoicebot",
            app_secret=get("APP_SECRET"),
        )


def _seconds(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(name, "must be a number of seconds") from None
    if not 0.5 <= seconds <= 3600:
        raise ConfigError(name, "must be from 0.5 to 3600 seconds")
    return seconds


def _concurrency(value: str | None) -> int:
    if value is None:
        return 8
    if not value.isdigit() or not 1 <= int(value) <= 256:
        raise ConfigError("HANDLER_CONCURRENCY", "must be a whole number from 1 to 256")
    return int(value)


def _redact_url(url: str | None) -> str:
    if not url:
        return ""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or ''}"


def _database_url(value: str) -> str:
    # Heroku-style URLs name no driver: use the async one we ship.
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            value = "postgresql+asyncpg://" + value[len(prefix):]
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError("DATABASE_URL", "not a database URL (e.g. postgresql+asyncpg://user@host/db)") from None
    if url.drivername not in SUPPORTED_DB_DRIVERS:
        raise ConfigError(
            "DATABASE_URL",
            f"unsupported driver {url.drivername!r}; use sqlite+aiosqlite or postgresql+asyncpg",
        )
    if url.drivername.startswith("postgresql") and not url.database:
        raise ConfigError("DATABASE_URL", "names no database")
    if url.drivername.startswith("sqlite") and not url.database:
        raise ConfigError("DATABASE_URL", "names no SQLite file")
    return value


def _redis_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError("REDIS_URL", "must start with redis://, rediss:// or unix://")
    try:
        parts.port
    except ValueError:
        raise ConfigError("REDIS_URL", "has an invalid port") from None
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError("REDIS_URL", "names no host")
    return value


def _port(value: str | None) -> int:
    if value is None:
        return 8080
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError("PORT", f"must be a number from 1 to 65535, got {value!r}")
    return int(value)


def _http_url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(name, f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _log_level(value: str | None) -> str:
    level = (value or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("LOG_LEVEL", "must be DEBUG, INFO, WARNING or ERROR")
    return level


def _flag(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, "must be true or false")
