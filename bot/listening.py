"""The web process's listening socket, bound before anything starts: a busy `PORT` is one line."""
from __future__ import annotations

import errno
import socket

from bot.config import Config, ConfigError


def listening_socket(config: Config) -> socket.socket:
    """Bind `HOST`:`PORT` now, so a second service on the same port stops before it migrates,
    starts workers or logs anything; ConfigError naming PORT when the address cannot be taken."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    try:
        return socket.create_server((config.host, config.port), family=family, backlog=128)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = (f"{config.port} is already in use on {config.host} (is the service already running?"
                      " stop it, or set PORT to a free port)")
        else:
            reason = f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
        raise ConfigError("PORT", reason) from None
