"""The LIFF API's request bodies: a small JSON object read strictly (UTF-8, shallow, finite
numbers of sane size, strings a database can store); anything else is a BodyError. Also the
shapes of the ids a body or a page's query names (ASCII: "²".isdigit() is true, int("²") fails)."""
from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 4  # {"fields": {"name": value}} is 2 deep
MAX_INTEGER = 10**18
LIFF_ID = re.compile(r"[0-9A-Za-z_-]{1,100}")
CAMPAIGN_ID = re.compile(r"[0-9]{1,18}")


class BodyError(ValueError):
    """Why a body is refused (a short reason, shown to the caller)."""


def _no_constant(name: str) -> Any:
    raise BodyError(f"{name} is not JSON")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in `raw` (empty: {}); BodyError naming what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("not UTF-8") from None
    try:
        body = json.loads(text or "{}", parse_constant=_no_constant)
    except BodyError:
        raise
    except RecursionError:  # thousands of nested arrays: the parser gives up
        raise BodyError("nested too deeply") from None
    except ValueError:
        raise BodyError("not JSON") from None
    if not isinstance(body, dict):
        raise BodyError("not a JSON object")
    _check_values(body)
    return body


def _check_values(body: dict[str, Any]) -> None:
    """Walk the parsed value without recursion: depth, numbers and strings."""
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise BodyError("nested too deeply")
            items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
            for key, item in items:
                if key is not None:
                    _check_text(key)
                pending.append((item, depth + 1))
        elif isinstance(value, str):
            _check_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise BodyError("a number is too large")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            raise BodyError("a number is too large")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BodyError("a text holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800) that no database stores
        raise BodyError("a text is not valid Unicode") from None
