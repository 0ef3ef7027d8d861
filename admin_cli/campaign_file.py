"""Campaign files (YAML or JSON; schema in docs/campaign-file.md): read one into the settings
dict the CampaignStore takes — the channel named by `channel:` — and write a campaign back out
as a file to edit. Errors name the file's line or the settings field."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_cli.context import CliError
from admin_cli.streams import is_stdio, read_limited
from bot.storage.models import Channel
from flows.campaigns.settings import CampaignSettings

FILE_MAX_BYTES = 1_000_000


class _TextLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates and times as text (the settings parse ISO 8601 strings
    themselves, with Asia/Taipei as the default offset)."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_text(text: str, name: str = "file") -> dict[str, Any]:
    """The mapping in a YAML or JSON document (JSON is YAML; a `.json` name is parsed strictly)."""
    try:
        if name.endswith(".json"):
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_TextLoader)  # noqa: S506 - a SafeLoader subclass
    except json.JSONDecodeError as exc:
        raise CliError(f"{name}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CliError(f"{name}: {where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise CliError(f"{name}: not YAML/JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CliError(f"{name}: the top level must be a mapping of campaign fields (name, start_at, …)")
    return data


def read_file(path: Path) -> dict[str, Any]:
    """A campaign file's mapping (`-`: from stdin); unreadable, too large or non-UTF-8 files are refused."""
    name = "standard input" if is_stdio(path) else str(path)
    raw = read_limited(path, FILE_MAX_BYTES, name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    return parse_text(text, name)


async def resolve_channel(session: AsyncSession, data: dict[str, Any]) -> dict[str, Any]:
    """The settings dict: `channel: NAME` becomes `channel_id` (the channel's database id)."""
    settings = dict(data)
    if "channel" not in settings:
        if "channel_id" not in settings:
            raise CliError("channel: required (the name of a LINE channel; see `admin-cli channels list`)")
        return settings
    if "channel_id" in settings:
        raise CliError("channel: give either channel (a name) or channel_id, not both")
    name = settings.pop("channel")
    if not isinstance(name, str) or not name.strip():
        raise CliError("channel: must be the name of a LINE channel")
    channel_id = await session.scalar(select(Channel.id).where(Channel.name == name.strip()))
    if channel_id is None:
        raise CliError(f"channel: no LINE channel named {name!r} (see `admin-cli channels list`)")
    settings["channel_id"] = str(channel_id)
    return settings


def to_file_text(settings: CampaignSettings, channel_name: str | None) -> str:
    """The campaign as a YAML campaign file (the channel by name when it has one)."""
    data = settings.to_dict()
    ordered: dict[str, Any] = {}
    for key, value in data.items():
        if key == "channel_id" and channel_name:
            ordered["channel"] = channel_name
        elif key == "platform":
            continue
        else:
            ordered[key] = value
    return yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False, width=100)
