"""Save-time check of messages with LINE itself: the channel's validate endpoint
(`POST /v2/bot/message/validate/push`) through the messaging adapter."""
from __future__ import annotations

from collections.abc import Sequence

from bot.config import Config
from bot.line.messaging import InvalidMessages, LineApiError, LineMessaging, OutgoingMessage, Transient


class LineCheckUnavailable(Exception):
    """LINE could not check the message (a token LINE refuses, another permanent error)."""


class LineUnreachable(LineCheckUnavailable):
    """No answer from LINE (no route, DNS, refused connection, timeout) or one that says to try
    later (429, 5xx): a template may be saved after the local checks and checked later."""


def channel_token(config: Config, channel_token: str | None, is_default_channel: bool) -> str | None:
    """The access token to validate with: the channel's own, else the environment's for the
    default channel; None in sandbox mode without one (then only the local checks run)."""
    if channel_token:
        return channel_token
    if is_default_channel and not config.sandbox:
        return config.line_channel_access_token
    return None


async def line_refusals(token: str, config: Config, messages: Sequence[OutgoingMessage]) -> list[str]:
    """LINE's reasons for refusing the messages ([] = it would send them)."""
    async with LineMessaging(token, api_base_url=config.line_api_base_url,
                             data_api_base_url=config.line_data_api_base_url) as line:
        try:
            await line.validate_messages(messages, kind="push")
        except InvalidMessages as exc:
            return exc.details or [str(exc)]
        except Transient as exc:
            raise LineUnreachable(f"LINE could not be reached ({exc})") from None
        except LineApiError as exc:
            raise LineCheckUnavailable(f"LINE could not check the message ({exc})") from None
    return []
