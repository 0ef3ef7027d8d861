"""Streaming a file to the browser: the response headers of a download (RFC 6266 / RFC 5987 file
names, so zh-TW names survive) and a write buffer the export writers fill and the response drains."""
from __future__ import annotations

import threading
from urllib.parse import quote

from aiohttp import web

from console.site import HEADERS


def content_disposition(name: str, fallback: str) -> str:
    """`attachment` with an ASCII `filename` (`fallback`) and the real name as `filename*`."""
    if not fallback.isascii() or any(c in fallback for c in '"\\\r\n;'):
        raise ValueError(f"fallback: must be plain ASCII, got {fallback!r}")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class Chunks:
    """A write-only binary file the exports write to (the XLSX deflate thread too); `take()`
    empties it. No `seek` / `tell`: zipfile then writes a streamable archive."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._lock = threading.Lock()

    def write(self, data: bytes) -> int:
        with self._lock:
            self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        with self._lock:
            data, self._parts = b"".join(self._parts), []
        return data


async def start_download(request: web.Request, *, name: str, fallback: str, content_type: str) -> web.StreamResponse:
    """A prepared chunked response for a download, with the console's security headers (set here:
    the middleware's come too late for a response already sent; `no-store`: personal data)."""
    response = web.StreamResponse(headers={
        **HEADERS, "Content-Type": content_type, "Content-Disposition": content_disposition(name, fallback)})
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response
