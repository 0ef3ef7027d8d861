"""Decompression bombs under the file-size limit and the pixel cap: bounded memory and time.

Twenty small PNG and TIFF files that decode to tens or hundreds of MB are decoded one after
the other in a fresh subprocess, which reports the time of each and its peak RSS (VmHWM from
/proc/self/status) against its RSS just before the first bomb.
"""
from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from flows.einvoice.photo import MAX_FILE_BYTES, MAX_IMAGE_PIXELS
from tests.einvoice.rss import STATUS_SOURCE

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python" if (ROOT / ".venv" / "bin" / "python").exists() else Path(sys.executable)

# PNG colour types and the bytes a pixel takes at 8 bits
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int, depth: int, colour: int, *, pattern: bytes = b"\x00", palette_alpha: bool = False) -> bytes:
    """A PNG whose rows all repeat `pattern`, compressed as a stream (never held whole here)."""
    row_bytes = (width * _CHANNELS[colour] * depth + 7) // 8
    row = b"\x00" + (pattern * (row_bytes // len(pattern) + 1))[:row_bytes]
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    idat = b"".join(parts) + compressor.flush()
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))]
    if colour == 3:
        chunks.append(_chunk(b"PLTE", bytes(range(256)) * 3))
        if palette_alpha:
            chunks.append(_chunk(b"tRNS", bytes(range(256))))
    chunks += [_chunk(b"IDAT", idat), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def tiff_bomb(mode: str, size: tuple[int, int], compression: str) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 0).save(out, "TIFF", compression=compression)
    return out.getvalue()


BOMBS = {
    "png-gray-49mp": lambda: png_bomb(7000, 7000, 8, 0),
    "png-gray-stripes-49mp": lambda: png_bomb(7000, 7000, 8, 0, pattern=b"\x00\xff\x00\xff\xff"),
    "png-1bit-49mp": lambda: png_bomb(7000, 7000, 1, 0),
    "png-16bit-gray-49mp": lambda: png_bomb(7000, 7000, 16, 0),
    "png-rgb-36mp": lambda: png_bomb(6000, 6000, 8, 2),
    "png-rgb-2mp-decoded": lambda: png_bomb(1600, 1200, 8, 2, pattern=b"\x10\x80\xf0"),
    "png-rgb-16bit-25mp": lambda: png_bomb(5000, 5000, 16, 2),
    "png-rgba-49mp": lambda: png_bomb(7000, 7000, 8, 6),
    "png-rgba-16bit-30mp": lambda: png_bomb(6000, 5000, 16, 6),
    "png-rgba-12mp": lambda: png_bomb(4000, 3000, 8, 6, pattern=b"\x00\x00\x00\x80"),
    "png-gray-alpha-49mp": lambda: png_bomb(7000, 7000, 8, 4),
    "png-gray-alpha-16bit-25mp": lambda: png_bomb(5000, 5000, 16, 4),
    "png-palette-49mp": lambda: png_bomb(7000, 7000, 8, 3, pattern=b"\x01\x02"),
    "png-palette-alpha-49mp": lambda: png_bomb(7000, 7000, 8, 3, palette_alpha=True),
    "png-palette-4bit-49mp": lambda: png_bomb(7000, 7000, 4, 3),
    "tiff-gray-deflate-49mp": lambda: tiff_bomb("L", (7000, 7000), "tiff_deflate"),
    "tiff-rgb-lzw-25mp": lambda: tiff_bomb("RGB", (5000, 5000), "tiff_lzw"),
    "tiff-1bit-packbits-49mp": lambda: tiff_bomb("1", (7000, 7000), "packbits"),
    "tiff-16bit-deflate-25mp": lambda: tiff_bomb("I;16", (5000, 5000), "tiff_deflate"),
    "tiff-cmyk-deflate-16mp": lambda: tiff_bomb("CMYK", (4000, 4000), "tiff_deflate"),
}

_PROBE = STATUS_SOURCE + r"""
import json, sys, time
from flows.einvoice.photo import decode_photo

files = [Path(p) for p in sys.argv[1:]]
decode_photo(files[0].read_bytes()[:100])  # warm up imports and decoders
baseline = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
results = []
for path in files:
    data = path.read_bytes()
    started = time.perf_counter()
    result = decode_photo(data)
    results.append({"file": path.name, "seconds": time.perf_counter() - started, "error": result.error,
                    "peak_growth": status("VmHWM") - baseline})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bombs")
    paths = []
    for name, make in BOMBS.items():
        data = make()
        assert len(data) < min(MAX_FILE_BYTES, 1024 * 1024), (name, len(data))
        with Image.open(io.BytesIO(data)) as image:
            assert image.width * image.height <= MAX_IMAGE_PIXELS, name  # under the pixel cap
        path = folder / f"{name}.{'png' if name.startswith('png') else 'tif'}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_twenty_bombs_keep_memory_and_time_bounded(bomb_files: list[Path]) -> None:
    assert len(bomb_files) == 20
    run = subprocess.run(
        [str(PYTHON), "-c", _PROBE, *map(str, bomb_files)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )
    results = json.loads(run.stdout)
    assert len(results) == 20
    for result in results:
        assert result["error"] is not None, result  # nothing to read, and said so
        assert result["seconds"] < 0.5, result
        assert result["peak_growth"] < 100 * 1024 * 1024, result
    refused = {r["file"] for r in results if "too large to decode" in r["error"]}
    assert refused == {path.name for path in bomb_files if "decoded" not in path.name}  # before decoding
