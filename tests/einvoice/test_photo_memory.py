"""Image memory bounded by design: progressive and multi-scan JPEGs are counted at the buffer
libjpeg really allocates, and concurrent decodes share one memory budget.

Each run decodes through the service's path (`bot.photo_decoding.PhotoDecoder`, as the chat
handler and `admin-cli invoice decode` do) in a fresh subprocess, which reports its peak RSS
growth (VmHWM from /proc/self/status, reset just before) over its RSS before the decodes. The
reference is one ordinary phone photo; every bomb run must stay within +100 MB of it.
"""
from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.simulators.invoice_photos import make_invoice_code, render_photo
from flows.einvoice.photo import MAX_FILE_BYTES, MAX_IMAGE_PIXELS, decode_memory, decode_photo
from tests.einvoice.rss import STATUS_SOURCE

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
SIDE = 7070  # 49.98 MP: just under the pixel cap

_PROBE = STATUS_SOURCE + r"""
import asyncio, io, json, sys
from PIL import Image
from bot.photo_decoding import MIB, PhotoDecoder

async def main():
    decoder = PhotoDecoder(int(sys.argv[1]) * MIB)
    warm = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(warm, "JPEG")
    await decoder.decode(warm.getvalue())  # imports, decoders and thread pool ready
    files = [Path(p).read_bytes() for p in sys.argv[2:]]
    baseline = status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM restarts from the current RSS
    results = await asyncio.gather(*(decoder.decode(data) for data in files))
    print(json.dumps({"errors": [r.error for r in results], "growth": status("VmHWM") - baseline}))

asyncio.run(main())
"""


def _decode_in_subprocess(paths: list[Path], budget_mb: int = 200) -> dict:
    """Decode ``paths`` at once through a PhotoDecoder with DECODE_MEMORY_MB=``budget_mb``."""
    run = subprocess.run([sys.executable, "-c", _PROBE, str(budget_mb), *map(str, paths)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(run.stdout)


@lru_cache(maxsize=None)
def _plane(width: int, height: int, turn: int = 0) -> np.ndarray:
    """A smooth gradient (compresses to almost nothing, decodes to every pixel)."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    return np.rot90((x + y) / 2, turn * 2).astype(np.uint8)


def _rgb(width: int, height: int) -> Image.Image:
    return Image.fromarray(np.stack([_plane(width, height, t) for t in range(3)], axis=2), "RGB")


def _jpeg(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def _multi_scan(width: int, height: int, quality: int = 50) -> bytes:
    """A sequential (baseline, SOF0) JPEG with one scan per component: three grayscale JPEGs'
    scans spliced into one 3-component frame (Pillow writes only interleaved sequential scans)."""
    grays = [_jpeg(Image.fromarray(_plane(width, height, t), "L"), quality=quality) for t in range(3)]
    header, pos, first = b"", 2, grays[0]
    while first[pos + 1] != 0xDA:  # quantisation and Huffman tables of the first, and its frame
        length = struct.unpack(">H", first[pos + 2 : pos + 4])[0]
        marker, body = first[pos + 1], first[pos + 4 : pos + 2 + length]
        if marker in (0xDB, 0xC4):
            header += _segment(marker, body)
        elif marker == 0xC0:
            header += _segment(0xC0, body[:5] + bytes([3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]))
        pos += 2 + length
    scans = b""
    for component, gray in enumerate(grays, start=1):
        start = gray.index(b"\xff\xda")
        length = struct.unpack(">H", gray[start + 2 : start + 4])[0]
        sos = gray[start + 4 : start + 2 + length]
        scans += _segment(0xDA, bytes([1, component]) + sos[2:]) + gray[start + 2 + length : gray.rindex(b"\xff\xd9")]
    return b"\xff\xd8" + header + scans + b"\xff\xd9"


def _png(mode: str, side: int) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (side, side), 0).save(out, "PNG", compress_level=1)
    return out.getvalue()


BOMBS = {
    "progressive-444": lambda: _jpeg(_rgb(SIDE, SIDE), progressive=True, subsampling=0, quality=30),
    "progressive-420": lambda: _jpeg(_rgb(SIDE, SIDE), progressive=True, subsampling=2, quality=30),
    "progressive-gray": lambda: _jpeg(Image.fromarray(_plane(SIDE, SIDE), "L"), progressive=True, quality=30),
    "multi-scan": lambda: _multi_scan(SIDE, SIDE),
    "multi-scan-q90": lambda: _multi_scan(SIDE, SIDE, quality=90),
    "baseline-444": lambda: _jpeg(_rgb(SIDE, SIDE), subsampling=0, quality=30),
    "png-gray": lambda: _png("L", 7000),
    "png-rgb": lambda: _png("RGB", 7000),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("memory")
    made = {name: make() for name, make in BOMBS.items()}
    made["ordinary"] = render_photo(make_invoice_code(random.Random(25)), seed=25)
    made["progressive-12mp"] = _jpeg(_rgb(4000, 3000), progressive=True, quality=80)  # a legit one
    paths = {}
    for name, data in made.items():
        assert len(data) < MAX_FILE_BYTES, name
        with Image.open(io.BytesIO(data)) as image:
            assert image.width * image.height <= MAX_IMAGE_PIXELS, name  # under the pixel cap
        paths[name] = folder / f"{name}.img"
        paths[name].write_bytes(data)
    assert len(made["progressive-444"]) < 1 * MB  # the 0.6 MB file
    return paths


@pytest.fixture(scope="module")
def ordinary_growth(files: dict[str, Path]) -> int:
    run = _decode_in_subprocess([files["ordinary"]])
    assert run["errors"] == [None]  # read
    return run["growth"]


def test_progressive_jpeg_stays_within_100_mb_of_an_ordinary_photo(files, ordinary_growth):
    run = _decode_in_subprocess([files["progressive-444"]])
    assert "too large to decode" in run["errors"][0]  # answered 無法辨識, as any bomb
    assert run["growth"] < ordinary_growth + 100 * MB, run


def test_eight_bombs_at_once_stay_within_100_mb_of_an_ordinary_photo(files, ordinary_growth):
    bombs = [files[name] for name in BOMBS]
    assert len(bombs) == 8
    run = _decode_in_subprocess(bombs)
    assert run["growth"] < ordinary_growth + 100 * MB, run
    errors = dict(zip(BOMBS, run["errors"]))
    assert all(errors[name] and "too large to decode" in errors[name] for name in BOMBS if name != "baseline-444")
    assert "too large" not in errors["baseline-444"]  # decoded at 1/4 scale: read, and nothing found


def test_concurrent_decodes_share_the_budget(files):
    """Four legit progressive photos at once: each reserves its estimate, so with a budget of
    100 MB they run one at a time, and together never take more than the budget."""
    photo = files["progressive-12mp"]
    estimate = decode_memory(photo.read_bytes())
    alone = _decode_in_subprocess([photo], budget_mb=100)
    assert alone["errors"] == ["no e-invoice QR code or barcode found"]  # decoded, not refused
    assert alone["growth"] <= estimate  # the estimate bounds the real peak
    together = _decode_in_subprocess([photo] * 4, budget_mb=100)
    assert together["errors"] == alone["errors"] * 4
    assert together["growth"] < 100 * MB, (together, alone)  # the budget
    assert together["growth"] < alone["growth"] * 1.25, (together, alone)  # one at a time


def test_the_coefficient_buffer_is_counted_for_every_multi_scan_layout(files):
    """The estimate includes libjpeg's whole-image buffer (2 bytes a coefficient) for progressive
    and multi-scan JPEGs, and not for an interleaved baseline one."""
    progressive = files["progressive-12mp"].read_bytes()
    baseline = _jpeg(_rgb(4000, 3000), quality=80)
    assert decode_memory(progressive) - decode_memory(baseline) >= 4000 * 3000 * 3 // 2 * 2 - 2 * MB  # 4:2:0
    small_multi_scan = _multi_scan(3000, 2000)
    assert decode_photo(small_multi_scan).error == "no e-invoice QR code or barcode found"  # still decoded
    assert decode_memory(small_multi_scan) - decode_memory(_jpeg(_rgb(3000, 2000), quality=50)) >= 3000 * 2000 * 3 * 2 - 2 * MB
