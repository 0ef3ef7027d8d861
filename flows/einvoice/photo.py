"""Reading an e-invoice from a phone photo: both QR codes, or the Code 39 barcode as a fallback.

Untrusted bytes in, a `PhotoResult` out — never an exception. The file is opened lazily with
Pillow's decompression-bomb guard on (warnings are errors); its dimensions and the memory its
decoding would take (`MAX_DECODE_BYTES`, the decoded pixels plus the grayscale copy; for a
progressive or multi-scan JPEG also libjpeg's whole-image coefficient buffer,
`MAX_JPEG_BUFFER_BYTES`) are checked before any pixel is decoded. `decode_memory` bounds what a
whole decode takes, from the header alone, for a caller's memory budget. JPEGs are decoded
straight to a reduced grayscale image (DCT scaling); other formats cannot scale while decoding,
so they are reduced right after it, and converted to grayscale without full-size RGBA or 16-bit
intermediate copies. Slower fallbacks run only while a code is still missing.
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

from flows.einvoice.codes import barcode_notes, parse_barcode
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceCode, InvoiceSource
from flows.einvoice.qr import LeftQr, RightQr, combine, is_right_payload, parse_left_qr, parse_right_qr

__all__ = ["MAX_DECODE_BYTES", "MAX_FILE_BYTES", "MAX_IMAGE_PIXELS", "MAX_JPEG_BUFFER_BYTES", "PhotoResult",
           "decode_image", "decode_memory", "decode_photo", "load_grayscale"]

MAX_IMAGE_PIXELS = 50_000_000  # 50 MP: phones take 12–48 MP; beyond that it is a bomb
MAX_SIDE = 20_000
MAX_FILE_BYTES = 30 * 1024 * 1024
# memory one decode may take (decoded pixels + grayscale copy). JPEGs count at their DCT-reduced
# size, so any phone photo fits; formats decoded at full size fit up to ~6.7 MP RGB (Pillow keeps
# RGB as 4 bytes a pixel) or 32 MP grayscale — LINE sends photos as JPEG
MAX_DECODE_BYTES = 32 * 1024 * 1024
# A progressive or multi-scan (non-interleaved) JPEG is decoded through a buffer of every DCT
# coefficient of the whole image (2 bytes each, libjpeg's jdcoefct.c), whatever the output
# scale: a 7070×7070 4:4:4 one takes 300 MB. Up to ~22 MP 4:2:0 or ~11 MP 4:4:4 fit.
MAX_JPEG_BUFFER_BYTES = 64 * 1024 * 1024
# What decoding one photo takes besides the images its loads are checked for: the fallbacks'
# working set (sharpened and enlarged crops, the float FFT of a deconvolved crop up to
# DECONVOLVE_MAX_PIXELS, zxing's binarised copies). Measured peak of an unreadable 12 MP
# photo that runs every fallback: ~85 MB (docs/decisions.md, issue 25).
FALLBACK_BYTES = 80 * 1024 * 1024
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
FIRST_PASS_SIDE = 2000  # long side of the first, fast pass
FULL_PASS_SIDE = 4096  # long side of the full-resolution fallback
CROP_PASS_SIDE = 2400  # longest the enlarged receipt crop may get
DECONVOLVE_MAX_PIXELS = 4_000_000  # largest crop deconvolved (float32 FFT: ~16 MB a copy)
TIME_BUDGET_S = 3.0  # stop trying fallbacks after this
HEADER_FOUND_BUDGET_S = 0.15  # with the header read, look for the items' code only this long
MIN_CONTRAST = 16  # an image with fewer grey levels than this holds no code: no fallbacks

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

    @property
    def found_any(self) -> bool:
        return self.left is not None or self.right is not None or self.barcode is not None or bool(self.rejected)

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
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # Pillow would decode the whole image to look for an eXIf chunk after the pixels
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # malformed EXIF: ignore orientation, codes read in any rotation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


# bytes a pixel takes in Pillow's memory for each mode, and what converting it to grayscale adds
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_GRAY_EXTRA = {"L": 0, "LA": 3, "La": 3, "PA": 3, "RGBA": 3, "RGBa": 3, "I": 5, "F": 5}
_GRAY_EXTRA.update(dict.fromkeys(("I;16", "I;16B", "I;16L", "I;16N"), 4))


def _decode_bytes(image: Image.Image) -> int:
    """The memory decoding `image` at its (drafted) size and making it grayscale would take."""
    width, height = image.size
    per_pixel = _PIXEL_BYTES.get(image.mode, 4)
    extra = _GRAY_EXTRA.get(image.mode, 2 if "transparency" in image.info else 1)
    return width * height * (per_pixel + extra)


_PROGRESSIVE_SOF = (0xC2, 0xC6, 0xCA, 0xCE)
_SOF = (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)


def _blocks(samples: int, factor: int, most: int) -> int:
    """A component's 8×8 blocks along one side, rounded up to whole MCUs (as libjpeg allocates)."""
    blocks = -(-samples * factor // (most * 8))
    return -(-blocks // factor) * factor


def _jpeg_buffer_bytes(data: bytes, image: Image.Image) -> int:
    """Bytes of the whole-image coefficient buffer libjpeg allocates for this JPEG: the frame's
    blocks × 128 when it is progressive or its first scan holds fewer components than the frame
    (a multi-scan sequential JPEG), else 0. Read from the markers before the first scan; headers
    Pillow accepted but this walk cannot follow count as multi-scan, at 2 bytes a sample."""
    worst = image.width * image.height * len(image.getbands()) * 2
    pos, frame, progressive = 2, None, False
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return worst
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        body = data[pos + 4 : pos + 2 + length]
        if length < 2 or len(body) != length - 2:
            return worst
        if marker in _SOF and frame is None:
            if len(body) < 6 or len(body) < 6 + 3 * body[5]:
                return worst
            height, width, count = int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big"), body[5]
            factors = [(body[6 + 3 * i + 1] >> 4, body[6 + 3 * i + 1] & 15) for i in range(count)]
            if not factors or any(h < 1 or v < 1 for h, v in factors):
                return worst
            frame = (width or image.width, height or image.height, factors)
            progressive = marker in _PROGRESSIVE_SOF
        elif marker == 0xDA:  # the first scan
            if frame is None or not body:
                return worst
            width, height, factors = frame
            if not progressive and body[0] >= len(factors):
                return 0  # one interleaved scan: decoded a row of blocks at a time
            h_most, v_most = max(h for h, _ in factors), max(v for _, v in factors)
            return sum(_blocks(width, h, h_most) * _blocks(height, v, v_most) * 128 for h, v in factors)
        pos += 2 + length
    return worst


def _stretch_lut(array: np.ndarray, levels: int) -> np.ndarray:
    """A lookup table mapping [min, max] of `array` to 0..255 (no full-size float copy)."""
    low, high = int(array.min()), int(array.max())
    values = np.arange(levels, dtype=np.int64)
    if high <= low:
        return np.zeros(levels, dtype=np.uint8)
    return np.clip((values - low) * 255 // (high - low), 0, 255).astype(np.uint8)


def _to_gray(image: Image.Image) -> Image.Image:
    """Grayscale with at most one extra byte a pixel (plus the alpha band for transparency)."""
    mode = image.mode
    if mode == "L":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        array = np.asarray(image)  # 2 bytes a pixel; a 65536-entry table maps it to 8 bits
        return Image.fromarray(_stretch_lut(array, 65536)[array.astype(np.uint16, copy=False)], "L")
    if mode in ("I", "F"):
        array = np.asarray(image)
        low, high = float(array.min()), float(array.max())
        out = np.zeros(array.shape, dtype=np.uint8)
        if high > low:
            for start in range(0, array.shape[0], 256):  # row blocks bound the float temporaries
                block = array[start : start + 256].astype(np.float32)
                out[start : start + 256] = ((block - low) * (255.0 / (high - low))).astype(np.uint8)
        return Image.fromarray(out, "L")
    if mode == "P":
        palette = image.getpalette("RGBA") or []
        entries = np.array(palette, dtype=np.float32).reshape(-1, 4) if palette else np.zeros((1, 4), np.float32)
        if "transparency" in image.info and isinstance(image.info["transparency"], int):
            entries[image.info["transparency"] % len(entries), 3] = 0
        gray = entries[:, 0] * 0.299 + entries[:, 1] * 0.587 + entries[:, 2] * 0.114
        alpha = entries[:, 3] / 255.0
        lut = np.clip(gray * alpha + 255.0 * (1 - alpha), 0, 255).astype(np.uint8)
        lut = np.concatenate([lut, np.full(256 - len(lut), 255, np.uint8)])[:256]
        return image.point(lut.tolist(), "L")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = image.getchannel("A")
        gray = image.convert("L") if mode != "PA" else image.convert("RGBA").convert("L")
        return Image.composite(gray, Image.new("L", image.size, 255), alpha)
    if "transparency" in image.info:  # L/RGB with a transparent colour: treat as opaque
        return image.convert("L")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB").convert("L")
    return image.convert("L")


def load_grayscale(data: bytes, long_side: int | None) -> Image.Image:
    """Decode to grayscale, EXIF-oriented, at most about `long_side` pixels long (JPEGs are
    reduced by DCT scaling while decoding, other formats right after). Refuses, before
    decoding, an image whose decoding would take more than MAX_DECODE_BYTES. Raises
    `_Unreadable` with a user-safe reason."""
    return _load(data, long_side, long_side)[0]


def _shrink(gray: Image.Image, long_side: int) -> Image.Image:
    if max(gray.size) <= long_side * 1.5:
        return gray
    factor = max(gray.size) / long_side
    return gray.resize((round(gray.width / factor), round(gray.height / factor)), Image.Resampling.BOX)


def _checked(data: bytes, jpeg_side: int | None, other_side: int | None) -> tuple[Image.Image, bool, int]:
    """The opened image, drafted to the size it will be decoded at (JPEGs: about ``jpeg_side``
    long; other formats: whole), whether it is a JPEG and the bytes of the JPEG coefficient
    buffer its decoding needs; `_Unreadable` when that decoding would take too much memory.
    Runs with the decompression-bomb warning as an error."""
    image = _open(data)
    is_jpeg = image.format in ("JPEG", "MPO")
    buffer = _jpeg_buffer_bytes(data, image) if is_jpeg else 0
    if buffer > MAX_JPEG_BUFFER_BYTES:
        width, height = image.size
        raise _Unreadable(
            f"image too large to decode ({width}×{height} progressive or multi-scan JPEG, "
            f"{buffer // 1_000_000} MB, limit {MAX_JPEG_BUFFER_BYTES // 1_000_000} MB)"
        )
    long_side = jpeg_side if is_jpeg else other_side
    if is_jpeg and long_side is not None:
        width, height = image.size
        factor = max(1.0, max(width, height) / long_side)
        image.draft("L", (int(width / factor), int(height / factor)))
    needed = _decode_bytes(image)
    if needed > MAX_DECODE_BYTES:
        width, height = image.size
        raise _Unreadable(
            f"image too large to decode ({width}×{height} {image.mode}, "
            f"{needed // 1_000_000} MB, limit {MAX_DECODE_BYTES // 1_000_000} MB)"
        )
    return image, is_jpeg, buffer


def decode_memory(data: bytes) -> int:
    """An upper bound of the memory `decode_photo(data)` takes, read from the header alone: the
    file (and Pillow's copy), the first pass's image and the full-resolution one a fallback may
    decode (JPEGs; refused ones are skipped, as the fallback skips them), the JPEG coefficient
    buffer, and the fallbacks' working set. A file refused before decoding costs its copies."""
    copies = 2 * len(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            first, is_jpeg, buffer = _checked(data, FIRST_PASS_SIDE, FULL_PASS_SIDE)
        except Exception:  # refused (or unreadable) before any pixel is decoded
            return copies
        full = 0
        if is_jpeg:
            try:
                full = _decode_bytes(_checked(data, FULL_PASS_SIDE, FULL_PASS_SIDE)[0])
            except Exception:  # the full-resolution fallback will be refused too
                pass
    return copies + buffer + _decode_bytes(first) + full + FALLBACK_BYTES


def _load(data: bytes, jpeg_side: int | None, other_side: int | None) -> tuple[Image.Image, bool]:
    """`load_grayscale` with one long side for JPEGs (cheap to decode again at another size) and
    one for the other formats (decoded once, at full cost); also says whether it was a JPEG."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image, is_jpeg, _ = _checked(data, jpeg_side, other_side)
            orientation = _orientation(image)
            long_side = jpeg_side if is_jpeg else other_side
            image.load()
            gray = _to_gray(image)
            del image
            if long_side is not None and max(gray.size) > long_side * 1.5:
                factor = max(1, int(max(gray.size) / long_side))
                gray = gray.reduce(factor) if factor > 1 else gray
            if orientation != 1:
                gray = _orient(gray, orientation)
        except _Unreadable:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _Unreadable(f"image too large (limit {MAX_IMAGE_PIXELS // 1_000_000} MP)") from None
        except MemoryError:
            raise _Unreadable("image too large to decode") from None
        except Exception as error:  # truncated or corrupt data, unsupported modes, codec errors
            raise _Unreadable(f"damaged or unsupported image ({type(error).__name__})") from None
    return (gray if long_side is None else _shrink(gray, long_side)), is_jpeg


_ORIENT_OPS = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _orient(gray: Image.Image, orientation: int) -> Image.Image:
    """EXIF orientation applied to the (small) grayscale image, as `ImageOps.exif_transpose`."""
    for op in _ORIENT_OPS.get(orientation, ()):
        gray = gray.transpose(op)
    return gray


def _read(image: Image.Image, **options: object) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=_FORMATS, **options)


def _paper_box(first: Image.Image) -> tuple[float, float, float, float] | None:
    """Where the receipt is, as fractions of the image: the bounding box of the bright paper
    (thermal paper is the brightest large thing in a receipt photo). None when it fills the
    photo anyway or nothing stands out."""
    small = first.reduce(4) if min(first.size) >= 400 else first
    array = np.asarray(small.filter(ImageFilter.MinFilter(3)))
    threshold = max(150, int(np.percentile(array, 98)) - 50)
    ys, xs = np.nonzero(array > threshold)
    if len(xs) < 64:
        return None
    margin = 3
    height, width = array.shape
    box = (
        max(0, xs.min() - margin) / width,
        max(0, ys.min() - margin) / height,
        min(width, xs.max() + 1 + margin) / width,
        min(height, ys.max() + 1 + margin) / height,
    )
    if (box[2] - box[0]) * (box[3] - box[1]) > 0.6:
        return None
    return box


def _wiener(image: Image.Image, sigma: float, noise: float = 0.03) -> Image.Image:
    """Wiener deconvolution of a Gaussian blur of `sigma` pixels (sharper than an unsharp mask
    for codes blurred to about one module: it undoes the blur instead of steepening edges)."""
    array = np.asarray(image, dtype=np.float32)
    fy = np.fft.fftfreq(array.shape[0]).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(array.shape[1]).astype(np.float32)[None, :]
    blur = np.exp(-2 * (np.pi * sigma) ** 2 * (fx * fx + fy * fy))
    out = np.fft.irfft2(np.fft.rfft2(array) * (blur / (blur * blur + noise)), s=array.shape)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "L")


def _enlarge(image: Image.Image, scale: float, limit: int = CROP_PASS_SIDE) -> Image.Image:
    scale = min(scale, limit / max(image.size))
    if scale <= 1:
        return image
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)


def _sharpen(radius: float, percent: int = 250) -> ImageFilter.Filter:
    return ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=0)


def _passes(data: bytes, first: Image.Image, full_image: Image.Image | None) -> Iterable[Callable[[], list[zxingcpp.Barcode]]]:
    """Fallbacks, cheapest and most productive first (`full_image`: the larger image when it is
    already decoded). Most hard photos are read from the receipt cut out of the first-pass
    image and enlarged (QR modules of 1.5–2 px become 3–6 px, the binarizer's sweet spot, and
    the background no longer skews it); the full-resolution image is decoded only after that."""
    full_holder: dict[str, Image.Image] = {} if full_image is None else {"image": full_image}

    def full() -> Image.Image:
        if "image" not in full_holder:
            full_holder["image"] = load_grayscale(data, FULL_PASS_SIDE)
        return full_holder["image"]

    box = _paper_box(first)

    def cut(image: Image.Image) -> Image.Image:
        assert box is not None
        w, h = image.size
        return image.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))

    if box is not None:
        crop = cut(first)
        crop_holder: dict[str, Image.Image] = {}

        def full_crop() -> Image.Image:
            if "image" not in crop_holder:
                crop_holder["image"] = cut(full())
            return crop_holder["image"]

        def crop_read(scale: float, transform: Callable[[Image.Image], Image.Image] | None, binarizer: zxingcpp.Binarizer) -> list[zxingcpp.Barcode]:
            image = _enlarge(crop, scale)
            return _read(image if transform is None else transform(image), binarizer=binarizer, try_invert=False, try_downscale=False)

        local, histogram = zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram
        yield lambda: crop_read(1.5, None, local)
        yield lambda: crop_read(1.5, lambda i: i.filter(_sharpen(1.5)), local)
        yield lambda: _read(_enlarge(_wiener(crop, 1.1), 2), try_invert=False, try_downscale=False)
        yield lambda: crop_read(2, lambda i: i.filter(_sharpen(2)), histogram)
        yield lambda: crop_read(2, lambda i: i.filter(ImageFilter.GaussianBlur(0.7)).filter(_sharpen(3)), histogram)
        yield lambda: crop_read(3, None, local)
        sharp_holder: dict[str, Image.Image | None] = {}

        def deconvolved() -> Image.Image | None:
            """The receipt at full resolution, deconvolved (blur of about one module); None when
            the crop is too large to transform within the memory bound."""
            if "image" not in sharp_holder:
                image = full_crop()
                small = image.width * image.height <= DECONVOLVE_MAX_PIXELS
                sharp_holder["image"] = _wiener(image, 2.0) if small else None
            return sharp_holder["image"]

        def read_deconvolved(scale: float, binarizer: zxingcpp.Binarizer) -> list[zxingcpp.Barcode]:
            image = deconvolved()
            if image is None:
                return []
            return _read(_enlarge(image, scale, FULL_PASS_SIDE), binarizer=binarizer, try_invert=False, try_downscale=False)

        yield lambda: read_deconvolved(1, local)
        yield lambda: crop_read(3, lambda i: i.filter(ImageFilter.GaussianBlur(1)).filter(_sharpen(4.5)), histogram)
        # enlarged 2×: modules of 3 px become 6 px
        yield lambda: read_deconvolved(2, local)
        yield lambda: read_deconvolved(2, histogram)
    yield lambda: _read(first.filter(_sharpen(2)), try_invert=False)
    yield lambda: _read(first, binarizer=zxingcpp.Binarizer.GlobalHistogram, try_invert=False)
    half = first.resize((first.width // 2, first.height // 2), Image.Resampling.BOX)
    yield lambda: _read(ImageOps.autocontrast(half, cutoff=1), try_invert=False)
    yield lambda: _read(full(), try_invert=False) if max(full().size) > max(first.size) else []
    yield lambda: (
        _read(full().filter(_sharpen(3)), try_invert=False) if max(full().size) > max(first.size) else []
    )
    yield lambda: _read(first, try_invert=True, binarizer=zxingcpp.Binarizer.FixedThreshold)


def _result(findings: _Findings) -> PhotoResult:
    found = []
    if findings.left is not None:
        found.append(LEFT_QR)
        if findings.right is not None:
            found.append(RIGHT_QR)
        code = combine(findings.left, findings.right)
        if findings.barcode is not None and findings.barcode.invoice_number == code.invoice_number:
            found.append(BARCODE)  # its period is checked against the QR's date (the date decides)
            code = replace(code, notes=(*code.notes, *barcode_notes(code, findings.barcode)))
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
        gray, is_jpeg = _load(data, FIRST_PASS_SIDE, FULL_PASS_SIDE)
    except _Unreadable as error:
        return PhotoResult(code=None, error=str(error))
    first, full_image = (gray, None) if is_jpeg else (_shrink(gray, FIRST_PASS_SIDE), gray)
    findings = _Findings()
    try:
        findings.add(_read(first, try_invert=False))
        low, high = first.getextrema()
        if not findings.complete and (findings.found_any or high - low >= MIN_CONTRAST):
            for attempt in _passes(data, first, full_image):
                elapsed = time.perf_counter() - started
                if elapsed > budget_s or (findings.left is not None and elapsed > HEADER_FOUND_BUDGET_S):
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
