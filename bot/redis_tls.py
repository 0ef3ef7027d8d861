"""TLS to Redis (`rediss://`): which certificate checks, from REDIS_TLS_VERIFY and REDIS_TLS_CA_FILE,
with Heroku's documented default (no verification) for Heroku Redis hosts; the one way Redis is opened."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Heroku Redis / Heroku Key-Value Store instances are EC2 hosts (`ec2-1-2-3-4.compute-1.amazonaws.com`)
# whose certificates are self-signed: Heroku documents connecting with `ssl_cert_reqs=None`.
HEROKU_REDIS_HOST = re.compile(r"^ec2-[0-9-]+\.([a-z0-9-]+\.)*amazonaws\.com$")

VERIFY_VALUES = ("required", "none")


class RedisTlsError(ValueError):
    """A REDIS_TLS_* setting is wrong; `variable` names it."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


@dataclass(frozen=True)
class RedisTls:
    """The certificate checks of a `rediss://` connection. `verify`: the server's certificate
    chain and host name are checked, against `ca_file` (PEM) or else the system's CAs."""

    verify: bool
    ca_file: str | None = None
    why: str = "REDIS_TLS_VERIFY"

    def client_options(self) -> dict[str, Any]:
        if not self.verify:
            return {"ssl_cert_reqs": "none", "ssl_check_hostname": False}
        options: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
        if self.ca_file:
            options["ssl_ca_certs"] = self.ca_file
        return options

    def describe(self) -> str:
        if not self.verify:
            return f"tls without certificate checks ({self.why})"
        return f"tls verified against {self.ca_file}" if self.ca_file else "tls verified against the system CAs"


def redis_tls_settings(url: str | None, verify: str | None, ca_file: str | None) -> RedisTls | None:
    """The TLS settings for REDIS_URL (None unless it is `rediss://`). Default: verified, except on
    a Heroku Redis host, where Heroku's documentation says to connect without verification."""
    scheme = urlsplit(url).scheme if url else None
    if scheme != "rediss":
        for name, value in (("REDIS_TLS_VERIFY", verify), ("REDIS_TLS_CA_FILE", ca_file)):
            if value is not None:
                raise RedisTlsError(name, "set, but REDIS_URL is not a rediss:// (TLS) URL")
        return None
    if verify is not None and verify.lower() not in VERIFY_VALUES:
        raise RedisTlsError("REDIS_TLS_VERIFY", f"must be one of {', '.join(VERIFY_VALUES)}, got {verify!r}")
    if ca_file is not None:
        if verify is not None and verify.lower() == "none":
            raise RedisTlsError("REDIS_TLS_CA_FILE", "given with REDIS_TLS_VERIFY=none; drop one of them")
        if not Path(ca_file).is_file():
            raise RedisTlsError("REDIS_TLS_CA_FILE", f"no such file: {ca_file}")
        return RedisTls(verify=True, ca_file=ca_file)
    if verify is not None:
        return RedisTls(verify=verify.lower() == "required")
    host = (urlsplit(url).hostname or "").lower()
    if HEROKU_REDIS_HOST.match(host):
        return RedisTls(verify=False, why="Heroku Redis host: self-signed certificate, as Heroku documents")
    return RedisTls(verify=True)


def open_redis(url: str, tls: RedisTls | None, **options: Any):
    """A redis.asyncio client for `url`, with `tls`'s certificate checks on a `rediss://` URL."""
    from redis.asyncio import Redis

    return Redis.from_url(url, **(tls.client_options() if tls else {}), **options)
