"""Readers for untrusted JSON objects that record a field-named error instead of raising,
so one pass over a settings document reports every problem it has."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from flows.campaigns.dates import TAIPEI
from flows.campaigns.errors import FieldError

E = TypeVar("E", bound=Enum)

MISSING: Any = object()

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def join(path: str, key: str | int) -> str:
    """`conditions` + `scope` → `conditions.scope`; `blocks` + 1 → `blocks[1]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class FieldReader:
    """Pulls typed values out of nested dicts/lists; every failure becomes a FieldError."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> Any:
        self.errors.append(FieldError(path, message))
        return MISSING

    def obj(self, value: Any, path: str, allowed: set[str]) -> Mapping[str, Any] | Any:
        """A JSON object with no keys outside `allowed`."""
        if value is MISSING:
            return MISSING
        if not isinstance(value, Mapping):
            return self.fail(path or "(root)", "必須是物件 (JSON object)")
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                self.fail(join(path, str(key)), "未知的欄位")
        return value

    def field(self, data: Mapping[str, Any], key: str, path: str, *, optional: bool = False) -> Any:
        """The raw value under `key`; a missing key is an error unless `optional` (then None)."""
        if key not in data:
            if optional:
                return None
            return self.fail(join(path, key), "必填")
        return data[key]

    def string(self, value: Any, path: str, *, allow_none: bool = False) -> str | None | Any:
        if value is MISSING:
            return MISSING
        if value is None and allow_none:
            return None
        if not isinstance(value, str):
            return self.fail(path, "必須是文字")
        return value

    def integer(self, value: Any, path: str, *, allow_none: bool = False) -> int | None | Any:
        if value is MISSING:
            return MISSING
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            return self.fail(path, "必須是整數")
        return value

    def enum(self, value: Any, path: str, kind: type[E]) -> E | Any:
        if value is MISSING:
            return MISSING
        allowed = [m.value for m in kind]
        if isinstance(value, str):
            for member in kind:
                if member.value == value:
                    return member
        return self.fail(path, "必須是下列之一：" + ", ".join(map(str, allowed)))

    def moment(self, value: Any, path: str) -> dt.datetime | Any:
        """An ISO 8601 date-time; without an offset it is Asia/Taipei wall time."""
        if value is MISSING:
            return MISSING
        if not isinstance(value, str):
            return self.fail(path, "必須是 ISO 8601 日期時間文字，例如 2024-01-01T00:00:00+08:00")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return self.fail(path, "不是有效的日期時間，例如 2024-01-01T00:00:00+08:00")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=TAIPEI)
        return parsed

    def day(self, value: Any, path: str) -> dt.date | Any:
        """An ISO 8601 calendar date `YYYY-MM-DD`."""
        if value is MISSING:
            return MISSING
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            return self.fail(path, "必須是日期 YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return self.fail(path, "不是有效的日期")

    def array(self, value: Any, path: str) -> list[Any] | Any:
        if value is MISSING:
            return MISSING
        if not isinstance(value, list):
            return self.fail(path, "必須是清單 (JSON array)")
        return value

    def strings(self, value: Any, path: str) -> tuple[str, ...] | Any:
        items = self.array(value, path)
        if items is MISSING:
            return MISSING
        out = [self.string(v, join(path, i)) for i, v in enumerate(items)]
        return MISSING if any(v is MISSING for v in out) else tuple(out)
