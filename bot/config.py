"""Service configuration read from the environment (12-factor), validated once at start-up."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.photo_store import ADDRESSING_STYLES, PhotoStoreSettings, parse_store_url
from bot.redis_tls import HEROKU_REDIS_HOST, VERIFY_VALUES, RedisTls
from bot.secret_strength import MIN_SECRET_BITS, estimated_bits, repeat_period
from bot.storage.database import DEFAULT_POOL_SIZE
from bot.storage.pg_options import split_options

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/app.db"
DEFAULT_LINE_API = "https://api.line.me"
DEFAULT_LINE_DATA_API = "https://api-data.line.me"
DEFAULT_MOF_API = "https://api.einvoice.nat.gov.tw"
SUPPORTED_DB_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}
MIN_APP_SECRET_LENGTH = 32
# What production needs that sandbox mode does without (named when a production deployment lacks them).
PRODUCTION_VARIABLES = ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "MOF_APP_ID", "MOF_API_KEY", "APP_SECRET")


class ConfigError(ValueError):
    """A setting is missing or malformed; `variable` names the environment variable (or several,
    comma-separated, when they are missing together)."""

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
    # rediss:// only: the certificate checks (REDIS_TLS_VERIFY, REDIS_TLS_CA_FILE; bot.redis_tls).
    redis_tls: RedisTls | None = None
    port: int = 8080
    host: str = "0.0.0.0"
    public_base_url: str | None = None
    line_channel_secret: str | None = field(default=None, repr=False)
    line_channel_access_token: str | None = field(default=None, repr=False)
    liff_id: str | None = None
    line_login_channel_id: str | None = None  # the LIFF app's LINE Login channel (ID-token audience)
    # Proxies in front that append the client's address to X-Forwarded-For (Heroku's router:
    # 1, the default when DYNO is set); 0 keys per-address limits on the TCP peer.
    trusted_proxy_hops: int = 0
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
    handler_concurrency: int = 32
    # DECODE_MEMORY_MB: the memory photo decodes may take at once in this process (each reserves
    # its estimate first; see docs/decisions.md, issue 25: image memory).
    decode_memory_mb: int = 200
    # LEASE_SECONDS: overrides the inbox (60 s) and verification-job (2 min) leases, i.e. how
    # soon another process takes over the work of one that was killed (tests, demos).
    lease_seconds: float | None = None
    state_prefix: str = "invoicebot"
    # Signs photo links and keys the carrier verification codes' encryption (production: required).
    app_secret: str | None = field(default=None, repr=False)
    photo_link_ttl_days: int = 7  # photo links in lists and exports expire after this
    privacy_purge_seconds: int = 3600  # how often the service runs the retention purge
    inbox_retention_days: int = 7  # handled webhook events are deleted this long after receipt
    # Sandbox mode: no LINE credentials were given, so the service runs against its bundled
    # simulators. Derived from the credentials unless set explicitly (SANDBOX).
    sandbox: bool | None = None
    # SANDBOX_PUBLIC: the sandbox-only routes (chat page, clock, simulators) answer every client,
    # not only loopback ones (bot.sandbox_access).
    sandbox_public: bool = False
    database_pool_size: int = DEFAULT_POOL_SIZE
    photo_store: PhotoStoreSettings = field(default_factory=PhotoStoreSettings)
    # Why more than one process of this deployment is expected (None: no sign of it); with
    # PostgreSQL and no REDIS_URL start-up warns, since the embedded store's locks are per process.
    several_processes: str | None = None
    # What says this is a production deployment (a PostgreSQL DATABASE_URL, DYNO, an https
    # PUBLIC_BASE_URL): admin-cli without LINE credentials there is not a sandbox (no local links).
    production_signs: tuple[str, ...] = ()

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
            "state_store": ("redis " + _redact_url(self.redis_url)
                            + (f" ({self.redis_tls.describe()})" if self.redis_tls else "")) if self.redis_url else "embedded",
            "port": str(self.port),
            "line_api": self.line_api_base_url,
            "mof_api": self.mof_api_base_url,
            "mof_api_key": _secret_repr(self.mof_api_key),
            "photo_store": self.photo_store.url or f"local {self.data_dir}",  # names no credential
            "database_pool_size": str(self.database_pool_size),
            **({"sandbox_routes": "every client" if self.sandbox_public else "loopback clients only"}
               if self.sandbox else {}),
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
        sandbox = None if get("SANDBOX") is None else _flag("SANDBOX", get("SANDBOX"), False)
        if service and sandbox is True and secret is not None:
            raise ConfigError("SANDBOX", "is on but the LINE credentials are set: unset SANDBOX for production, "
                              "or the LINE credentials for sandbox mode")
        mof_key = get("MOF_API_KEY")
        mof_app = get("MOF_APP_ID")
        if service and secret is not None and (mof_key is None or mof_app is None):
            missing = "MOF_APP_ID" if mof_app is None else "MOF_API_KEY"
            raise ConfigError(missing, "required in production mode (LINE credentials are set)")
        app_secret = get("APP_SECRET")
        if service and secret is not None and app_secret is None:
            raise ConfigError("APP_SECRET", "required in production mode, the same on every process "
                              "(it signs the photo links and keys the encryption of carrier verification codes), "
                              "e.g. `openssl rand -hex 32`")
        if app_secret is not None and len(app_secret) < MIN_APP_SECRET_LENGTH:
            raise ConfigError("APP_SECRET", f"must be at least {MIN_APP_SECRET_LENGTH} characters")
        if service and secret is not None and app_secret is not None:
            _strong_app_secret(app_secret)
        login_channel = get("LINE_LOGIN_CHANNEL_ID")
        if login_channel is not None and not login_channel.isdigit():
            raise ConfigError("LINE_LOGIN_CHANNEL_ID", "must be the LINE Login channel ID (digits)")
        database_url = _database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL)
        public_base_url = _http_url("PUBLIC_BASE_URL", get("PUBLIC_BASE_URL"))
        if service and secret is None and sandbox is not True:
            _refuse_sandbox_in_production(get, sandbox, database_url, public_base_url)

        redis_url = _redis_url(get("REDIS_URL"))
        redis_tls = _redis_tls(redis_url, get("REDIS_TLS_VERIFY"), get("REDIS_TLS_CA_FILE"))

        return cls(
            database_url=database_url,
            redis_url=redis_url,
            redis_tls=redis_tls,
            port=_port(get("PORT")),
            host=get("HOST") or "0.0.0.0",
            public_base_url=public_base_url,
            line_channel_secret=secret,
            line_channel_access_token=token,
            liff_id=get("LIFF_ID"),
            line_login_channel_id=login_channel,
            trusted_proxy_hops=_whole("TRUSTED_PROXY_HOPS", get("TRUSTED_PROXY_HOPS"), 1 if get("DYNO") else 0, 0, 5),
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
            decode_memory_mb=_whole("DECODE_MEMORY_MB", get("DECODE_MEMORY_MB"), 200, 64, 65536),
            lease_seconds=_seconds("LEASE_SECONDS", get("LEASE_SECONDS")),
            state_prefix=get("STATE_PREFIX") or "invoicebot",
            app_secret=app_secret,
            sandbox=sandbox,
            sandbox_public=_flag("SANDBOX_PUBLIC", get("SANDBOX_PUBLIC"), False),
            photo_link_ttl_days=_whole("PHOTO_LINK_TTL_DAYS", get("PHOTO_LINK_TTL_DAYS"), 7, 1, 365),
            privacy_purge_seconds=_whole("PRIVACY_PURGE_SECONDS", get("PRIVACY_PURGE_SECONDS"), 3600,
                                         60, 7 * 86400),
            inbox_retention_days=_whole("INBOX_RETENTION_DAYS", get("INBOX_RETENTION_DAYS"), 7, 1, 365),
            database_pool_size=_positive("DATABASE_POOL_SIZE", get("DATABASE_POOL_SIZE"), DEFAULT_POOL_SIZE),
            photo_store=_photo_store(get),
            several_processes=_several_processes(get),
            production_signs=tuple(_production_signs(get, database_url, public_base_url)),
        )


def _strong_app_secret(value: str) -> None:
    """Production's APP_SECRET signs the photo links and keys the sealed carrier codes: refuse one
    that repeats a pattern or holds under MIN_SECRET_BITS by estimate (bot.secret_strength). The
    message says nothing about the value."""
    advice = "use a random one, e.g. `openssl rand -hex 32`"
    if repeat_period(value) is not None:
        raise ConfigError("APP_SECRET", f"too weak: it repeats one character or a short pattern; {advice}")
    if estimated_bits(value) < MIN_SECRET_BITS:
        raise ConfigError("APP_SECRET", f"too weak: under {MIN_SECRET_BITS} bits of entropy by its length and "
                          f"kinds of characters (64 hex characters is the least); {advice}")


def _production_signs(get: Callable[[str], str | None], database_url: str, public_base_url: str | None) -> list[str]:
    """What says this runs as a production deployment: a PostgreSQL database, a platform
    process name (DYNO) or a public https address. Names no credential."""
    signs = []
    if make_url(database_url).drivername.startswith("postgresql"):
        signs.append("DATABASE_URL is PostgreSQL")
    if get("DYNO") is not None:
        signs.append(f"DYNO={get('DYNO')}")
    if public_base_url is not None and urlsplit(public_base_url).scheme == "https":
        signs.append("PUBLIC_BASE_URL is https")
    return signs


def _refuse_sandbox_in_production(get: Callable[[str], str | None], sandbox: bool | None, database_url: str,
                                  public_base_url: str | None) -> None:
    """Sandbox mode (simulators, a movable clock) only where it is meant: with no LINE credentials
    and no SANDBOX=1, a production deployment (or SANDBOX=0) is refused, naming what it lacks."""
    signs = ["SANDBOX=0"] if sandbox is False else _production_signs(get, database_url, public_base_url)
    if signs:
        missing = [name for name in PRODUCTION_VARIABLES if get(name) is None]
        raise ConfigError(", ".join(missing),
                          f"unset, and this looks like a production deployment ({', '.join(signs)}), where "
                          "sandbox mode would serve simulators and a movable clock; set them, or SANDBOX=1 "
                          "to run the sandbox here anyway")


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
        return Config.handler_concurrency
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
    if url.drivername.startswith("postgresql"):
        try:
            split_options(url)
        except ValueError as exc:
            raise ConfigError("DATABASE_URL", str(exc)) from None
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


def _redis_tls(url: str | None, verify: str | None, ca_file: str | None) -> RedisTls | None:
    """The TLS settings for REDIS_URL (None unless it is `rediss://`). Default: verified, except on
    a Heroku Redis host, where Heroku's documentation says to connect without verification."""
    scheme = urlsplit(url).scheme if url else None
    if scheme != "rediss":
        for name, value in (("REDIS_TLS_VERIFY", verify), ("REDIS_TLS_CA_FILE", ca_file)):
            if value is not None:
                raise ConfigError(name, "set, but REDIS_URL is not a rediss:// (TLS) URL")
        return None
    if verify is not None and verify.lower() not in VERIFY_VALUES:
        raise ConfigError("REDIS_TLS_VERIFY", f"must be one of {', '.join(VERIFY_VALUES)}, got {verify!r}")
    if ca_file is not None:
        if verify is not None and verify.lower() == "none":
            raise ConfigError("REDIS_TLS_CA_FILE", "given with REDIS_TLS_VERIFY=none; drop one of them")
        if not Path(ca_file).is_file():
            raise ConfigError("REDIS_TLS_CA_FILE", f"no such file: {ca_file}")
        return RedisTls(verify=True, ca_file=ca_file)
    if verify is not None:
        return RedisTls(verify=verify.lower() == "required")
    host = (urlsplit(url).hostname or "").lower()
    if HEROKU_REDIS_HOST.match(host):
        return RedisTls(verify=False, why="Heroku Redis host: self-signed certificate, as Heroku documents")
    return RedisTls(verify=True)


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


def _whole(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(name, f"must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def _flag(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, "must be true or false")


def _positive(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 0 < int(value) <= 1000:
        raise ConfigError(name, f"must be a number from 1 to 1000, got {value!r}")
    return int(value)


def _photo_store(get: Callable[[str], str | None]) -> PhotoStoreSettings:
    url = get("PHOTO_STORE_URL")
    if url is not None:
        try:
            parse_store_url(url)
        except ValueError as exc:
            raise ConfigError("PHOTO_STORE_URL", str(exc)) from None
    endpoint = None
    for name in ("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        endpoint = endpoint or _http_url(name, get(name))
    style = get("S3_ADDRESSING_STYLE")
    if style is not None and style not in ADDRESSING_STYLES:
        raise ConfigError("S3_ADDRESSING_STYLE", f"must be one of {', '.join(ADDRESSING_STYLES)}")
    return PhotoStoreSettings(url=url, s3_endpoint_url=endpoint,
                              s3_region=get("AWS_REGION") or get("AWS_DEFAULT_REGION"), s3_addressing_style=style)


def _several_processes(get: Callable[[str], str | None]) -> str | None:
    """A sign that this process is one of several: WEB_CONCURRENCY > 1, a platform process name
    other than web.1 (DYNO=web.2, DYNO=worker.1), or RUN_WORKER=false (a worker runs elsewhere)."""
    concurrency = get("WEB_CONCURRENCY")
    if concurrency is not None:
        if _positive("WEB_CONCURRENCY", concurrency, 1) > 1:
            return f"WEB_CONCURRENCY={concurrency}"
    dyno = get("DYNO")
    if dyno is not None and dyno not in ("web.1",) and "." in dyno and not dyno.startswith(("run.", "release.")):
        return f"DYNO={dyno}"
    if _flag("RUN_WORKER", get("RUN_WORKER"), True) is False:
        return "RUN_WORKER=false"
    return None
