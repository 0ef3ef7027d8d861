"""Reading an e-invoice from a phone photo: both QR codes, or the Code 39 barcode as a fallback.

Untrusted bytes in, a `PhotoResult` out — never an exception. The file is opened lazily with
Pillow's decompression-bomb guard on (warnings are errors), its dimensions are checked before
any pixel is decoded, and JPEGs are decoded straight to a reduced grayscale image (DCT scaling)
for the fast first pass. Slower fallbacks run only while a code is still missing.
"""
from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np
import zxingcpp
from PIL import Image, ImageFilter, ImageOps

from flows.einvoice.codes import parse_barcode
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceCode, InvoiceSource
from flows.einvoice.qr import LeftQr, RightQr, combine, is_right_payload, parse_left_qr, parse_right_qr

__all__ = ["MAX_FILE_BYTES", "MAX_IMAGE_PIXELS", "PhotoResult", "decode_image", "decode_photo", "load_grayscale"]

MAX_IMAGE_PIXELS = 50_000_000  # 50 MP: phones take 12–48 MP; beyond that it is a bomb
MAX_SIDE = 20_000
MAX_FILE_BYTES = 30 * 1024 * 1024
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
FIRST_PASS_SIDE = 2000  # long side of the first, fast pass
FULL_PASS_SIDE = 4096  # long side of the full-resolution fallback
TIME_BUDGET_S = 3.0  # stop trying fallbacks after this

# Keep Pillow's guard on, at a sane cap (never raise a stricter cap someone else set).
if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > MAX_IMAGE_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

Image.init()  # register every plugin so `formats=` can name WEBP and TIFF (MPO opens as JPEG)
_FORMATS = [zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code39]
_ORIENTATION_TAG = 0x0112

LEFT_QR, RIGHT_QR, BARCODE = "left_qr", "right_qr", "barcode"


@dataclass(frozen=True)
class PhotoResult:
    """What a photo yielded: `code` (None when unreadable), why not (`error`), and which of
    `left_qr`, `right_qr`, `barcode` were found."""

    code: InvoiceCode | None
    error: str | None = None
    found: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code is not None


class _Unreadable(Exception):
    """Internal: the file cannot be used; the message is the user-safe reason."""


@dataclass
class _Findings:
    left: LeftQr | None = None
    right: RightQr | None = None
    barcode: InvoiceCode | None = None
    rejected: str | None = None  # why a QR that looked like a left code was not one

    @property
    def complete(self) -> bool:
        return self.left is not None and self.right is not None

    def add(self, results: Iterable[zxingcpp.Barcode]) -> None:
        for result in results:
            payload = bytes(result.bytes)
            if result.format == zxingcpp.BarcodeFormat.Code39:
                if self.barcode is None:
                    try:
                        self.barcode = parse_barcode(payload)
                    except InvoiceCodeError:
                        pass
                continue
            if is_right_payload(payload):
                if self.right is None:
                    self.right = parse_right_qr(payload)
                continue
            if self.left is None:
                try:
                    self.left = parse_left_qr(payload)
                except InvoiceCodeError as error:
                    self.rejected = self.rejected or str(error)


def _open(data: bytes) -> Image.Image:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _Unreadable("not a file")
    if len(data) == 0:
        raise _Unreadable("empty file")
    if len(data) > MAX_FILE_BYTES:
        raise _Unreadable(f"file too large ({len(data)} bytes, limit {MAX_FILE_BYTES})")
    try:
        image = Image.open(io.BytesIO(bytes(data)), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _Unreadable(f"image too large (limit {MAX_IMAGE_PIXELS // 1_000_000} MP)") from None
    except Image.UnidentifiedImageError:
        raise _Unreadable("not an image in a supported format (JPEG, PNG, WebP, GIF, BMP, TIFF)") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise _Unreadable("image has no pixels")
    if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_SIDE:
        raise _Unreadable(f"image too large ({width}×{height}, limit {MAX_IMAGE_PIXELS // 1_000_000} MP)")
    if getattr(image, "is_animated", False) and image.format != "MPO":
        raise _Unreadable("animated images are not supported")
    return image


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # malformed EXIF: ignore orientation, codes read in any rotation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_gray(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "L":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image.convert("F") if mode == "F" else image.convert("I"), dtype=np.float32)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) * (255.0 / (high - low)) if high > low else np.zeros_like(array)
        return Image.fromarray(scaled.astype(np.uint8), "L")
    if mode in ("RGBA", "LA", "PA", "P", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("L")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB").convert("L")
    return image.convert("L")


def load_grayscale(data: bytes, long_side: int | None) -> Image.Image:
    """Decode to grayscale, EXIF-oriented, at most about `long_side` pixels long (JPEGs are
    reduced by DCT scaling while decoding). Raises `_Unreadable` with a user-safe reason."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = _open(data)
            orientation = _orientation(image)
            if image.format in ("JPEG", "MPO") and long_side is not None:
                width, height = image.size
                factor = max(1.0, max(width, height) / long_side)
                image.draft("L", (int(width / factor), int(height / factor)))
            image.load()
            if orientation != 1:
                image = ImageOps.exif_transpose(image)
            gray = _to_gray(image)
        except _Unreadable:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _Unreadable(f"image too large (limit {MAX_IMAGE_PIXELS // 1_000_000} MP)") from None
        except MemoryError:
            raise _Unreadable("image too large to decode") from None
        except Exception as error:  # truncated or corrupt data, unsupported modes, codec errors
            raise _Unreadable(f"damaged or unsupported image ({type(error).__name__})") from None
    if long_side is not None and max(gray.size) > long_side * 1.5:
        factor = max(gray.size) / long_side
        gray = gray.resize((round(gray.width / factor), round(gray.height / factor)), Image.Resampling.BOX)
    return gray


def _read(image: Image.Image, **options: object) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=_FORMATS, **options)


def _passes(data: bytes, first: Image.Image) -> Iterable[Callable[[], list[zxingcpp.Barcode]]]:
    """Fallbacks, cheapest and most productive first."""
    yield lambda: _read(first.filter(ImageFilter.UnsharpMask(radius=2, percent=250, threshold=0)), try_invert=False)
    yield lambda: _read(first, binarizer=zxingcpp.Binarizer.GlobalHistogram, try_invert=False)
    half = first.resize((first.width // 2, first.height // 2), Image.Resampling.BOX)
    yield lambda: _read(ImageOps.autocontrast(half, cutoff=1), try_invert=False)
    full_holder: dict[str, Image.Image] = {}

    def full() -> Image.Image:
        if "image" not in full_holder:
            full_holder["image"] = load_grayscale(data, FULL_PASS_SIDE)
        return full_holder["image"]

    yield lambda: _read(full(), try_invert=False) if max(full().size) > max(first.size) else []
    yield lambda: (
        _read(full().filter(ImageFilter.UnsharpMask(radius=3, percent=250, threshold=0)), try_invert=False)
        if max(full().size) > max(first.size)
        else []
    )
    yield lambda: _read(first, try_invert=True, binarizer=zxingcpp.Binarizer.FixedThreshold)


def _result(findings: _Findings) -> PhotoResult:
    found = []
    if findings.left is not None:
        found.append(LEFT_QR)
        if findings.right is not None:
            found.append(RIGHT_QR)
        if findings.barcode is not None and findings.barcode.invoice_number == findings.left.header.invoice_number:
            found.append(BARCODE)
        code = combine(findings.left, findings.right)
        return PhotoResult(code=replace(code, source=InvoiceSource.PHOTO), found=tuple(found))
    if findings.barcode is not None:
        found.append(BARCODE)
        if findings.right is not None:
            found.append(RIGHT_QR)
        return PhotoResult(code=findings.barcode, found=tuple(found))
    if findings.rejected:
        return PhotoResult(code=None, error=f"QR code is not a valid e-invoice code ({findings.rejected})")
    if findings.right is not None:
        return PhotoResult(code=None, error="only the right QR code was readable", found=(RIGHT_QR,))
    return PhotoResult(code=None, error="no e-invoice QR code or barcode found")


def decode_image(data: bytes, *, budget_s: float = TIME_BUDGET_S) -> PhotoResult:
    """Same as `decode_photo`; `budget_s` bounds the time spent on fallbacks."""
    started = time.perf_counter()
    try:
        first = load_grayscale(data, FIRST_PASS_SIDE)
    except _Unreadable as error:
        return PhotoResult(code=None, error=str(error))
    findings = _Findings()
    try:
        findings.add(_read(first, try_invert=False))
        if not findings.complete:
            for attempt in _passes(data, first):
                if time.perf_counter() - started > budget_s:
                    break
                try:
                    findings.add(attempt())
                except _Unreadable:
                    break
                if findings.complete:
                    break
    except Exception as error:  # a decoder failure must not escape: report it as unreadable
        return PhotoResult(code=None, error=f"could not decode the image ({type(error).__name__})")
    return _result(findings)


def decode_photo(data: bytes) -> PhotoResult:
    """Find the invoice in a photo's bytes: both QR codes (or the left one alone, or the
    barcode as a fallback). Never raises; an unreadable photo has `code` None and `error`."""
    return decode_image(data)
