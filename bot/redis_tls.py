"""TLS to Redis (`rediss://`): the certificate checks (read from REDIS_TLS_VERIFY and REDIS_TLS_CA_FILE
by bot.config, with Heroku's documented default for Heroku Redis hosts); the one way Redis is opened."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Heroku Redis / Heroku Key-Value Store instances are EC2 hosts (`ec2-1-2-3-4.compute-1.amazonaws.com`)
# whose certificates are self-signed: Heroku documents connecting with `ssl_cert_reqs=None`.
HEROKU_REDIS_HOST = re.compile(r"^ec2-[0-9-]+\.([a-z0-9-]+\.)*amazonaws\.com$")

VERIFY_VALUES = ("required", "none")


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


def open_redis(url: str, tls: RedisTls | None, **options: Any):
    """A redis.asyncio client for `url`, with `tls`'s certificate checks on a `rediss://` URL."""
    from redis.asyncio import Redis

    return Redis.from_url(url, **(tls.client_options() if tls else {}), **options)
