"""libpq-style query options of a PostgreSQL DATABASE_URL (`?sslmode=require&sslrootcert=…`, as
managed platforms hand them out) translated into asyncpg connect arguments; unknown ones refused."""
from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SUPPORTED = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name")


def split_options(url: URL) -> tuple[URL, dict[str, Any]]:
    """The URL without its query options, and the asyncpg connect arguments they stand for.
    Raises ValueError naming the option when one is unknown or malformed."""
    options: dict[str, str] = {}
    for name, value in url.query.items():
        if name not in SUPPORTED:
            raise ValueError(f"unsupported query option {name!r} (supported: {', '.join(SUPPORTED)})")
        if isinstance(value, tuple):
            raise ValueError(f"query option {name!r} given more than once")
        options[name] = value
    args: dict[str, Any] = {}
    ssl_arg = _ssl(options)
    if ssl_arg is not None:
        args["ssl"] = ssl_arg
    if "connect_timeout" in options:
        timeout = options["connect_timeout"]
        if not timeout.isdigit() or int(timeout) == 0:
            raise ValueError(f"connect_timeout must be a positive number of seconds, got {timeout!r}")
        args["timeout"] = int(timeout)
    if "application_name" in options:
        args["server_settings"] = {"application_name": options["application_name"]}
    return url.set(query={}), args


def _ssl(options: dict[str, str]) -> ssl.SSLContext | str | bool | None:
    mode = options.get("sslmode")
    root, cert, key = options.get("sslrootcert"), options.get("sslcert"), options.get("sslkey")
    if mode is not None and mode not in SSL_MODES:
        raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}, got {mode!r}")
    for name, path in (("sslrootcert", root), ("sslcert", cert), ("sslkey", key)):
        if path is not None and path != "system" and not Path(path).is_file():
            raise ValueError(f"{name}: no such file {path!r}")
    if key is not None and cert is None:
        raise ValueError("sslkey needs sslcert")
    if mode is None:
        if root is None and cert is None:
            return None  # asyncpg's default (prefer)
        mode = "verify-full" if root is not None else "require"  # libpq: a root cert means verify
    if mode == "disable":
        if root or cert:
            raise ValueError("sslmode=disable with certificate options")
        return False
    if mode in ("allow", "prefer") and root is None and cert is None:
        return mode  # asyncpg takes these names itself
    verify = mode in ("verify-ca", "verify-full") or (mode == "require" and root is not None)
    if root == "system" or (verify and root is None):
        context = ssl.create_default_context()  # the system's trusted CAs
    elif verify:
        context = ssl.create_default_context(cafile=root)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if verify:
        context.check_hostname = mode == "verify-full"
        context.verify_mode = ssl.CERT_REQUIRED
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context
