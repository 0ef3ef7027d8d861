"""`-` as a file name: `-f -` / a `-` input reads standard input, `-o -` writes standard output
(bytes, for binary exports), so `heroku run … admin-cli …` can take and give files through pipes.
While stdout carries data, every message goes to stderr."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from admin_cli.context import CliError

STDIO = Path("-")


def is_stdio(path: Path | None) -> bool:
    return path is not None and path == STDIO


def read_limited(path: Path, limit: int, name: str | None = None) -> bytes:
    """The bytes of `path` (or of stdin for `-`), refused when unreadable or over `limit` bytes."""
    shown = name or ("standard input" if is_stdio(path) else str(path))
    try:
        if is_stdio(path):
            data = sys.stdin.buffer.read(limit + 1)
        else:
            data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise CliError(f"{shown}: larger than {limit} bytes")
    return data


def stdout_bytes() -> BinaryIO:
    """Standard output for bytes (an xlsx, a PNG): the binary buffer under sys.stdout."""
    sys.stdout.flush()
    return sys.stdout.buffer


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path`, or to stdout for `-`."""
    if is_stdio(path):
        out = stdout_bytes()
        out.write(data)
        out.flush()
        return
    path.write_bytes(data)
