"""Forget-me in Redis (REDIS_URL): the user's conversation state and lock keys
(`prefix:channel:user:destiny:part`), which otherwise expire with their state."""
from __future__ import annotations

import re

from bot.redis_tls import RedisTls, open_redis


def _glob_escaped(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


async def forget_redis_state(redis_url: str, prefix: str, user_id: str, dry_run: bool,
                             tls: RedisTls | None = None) -> int:
    """Delete (or count) the user's keys under the deployment's STATE_PREFIX."""
    client = open_redis(redis_url, tls, socket_connect_timeout=2, socket_timeout=5)
    try:
        pattern = f"{_glob_escaped(prefix)}:*:{_glob_escaped(user_id)}:*"
        keys = [key async for key in client.scan_iter(match=pattern, count=500)]
        if keys and not dry_run:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()
