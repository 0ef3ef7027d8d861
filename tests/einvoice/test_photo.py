"""Photo decoding on generated receipt photos, every degradation, and hostile files."""
from __future__ import annotations

import io
import random
import struct
import time
import zlib
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest
from PIL import Image

from bot.simulators.invoice_photos import (
    PRESETS,
    Degradation,
    business_invoice,
    make_invoice_code,
    render_photo,
    render_receipt,
)
from flows.einvoice.codes import is_business_invoice
from flows.einvoice.model import InvoiceCode, InvoiceSource
from flows.einvoice.photo import BARCODE, LEFT_QR, RIGHT_QR, PhotoResult, decode_photo, load_grayscale
from flows.einvoice.qr import ItemEncoding

SMALL = (1600, 1200)


@lru_cache(maxsize=None)
def _code(seed: int) -> InvoiceCode:
    return make_invoice_code(random.Random(seed))


def _assert_full(result: PhotoResult, code: InvoiceCode) -> None:
    assert result.error is None, result.error
    assert result.code == code  # header, items and completeness all match
    assert result.found[:2] == (LEFT_QR, RIGHT_QR)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_degradation_decodes(preset: str) -> None:
    code = _code(7)
    degradation = PRESETS[preset]
    # presets are tuned for 12 MP; at 1600×1200 the same scene has 2.5× fewer pixels per module
    if preset == "small":
        degradation = replace(degradation, receipt_height=0.5)
    degradation = replace(degradation, blur=degradation.blur * SMALL[0] / 4000)
    photo = render_photo(code, degradation, seed=11, size=SMALL)
    _assert_full(decode_photo(photo), code)


@pytest.mark.parametrize("encoding", list(ItemEncoding))
def test_item_encodings_from_photo(encoding: ItemEncoding) -> None:
    code = _code(8)
    photo = render_photo(code, PRESETS["rotated"], seed=3, size=SMALL, encoding=encoding)
    _assert_full(decode_photo(photo), code)


def test_base64_split_once_across_codes_from_photo() -> None:
    code = _code(9)
    photo = render_photo(code, Degradation(), seed=3, size=SMALL, encoding=ItemEncoding.BASE64, base64_whole=True)
    _assert_full(decode_photo(photo), code)


def test_twelve_megapixel_photos_are_fast_enough() -> None:
    for seed, preset in ((1, "clean"), (2, "perspective")):
        code = _code(seed)
        photo = render_photo(code, PRESETS[preset], seed=seed)
        started = time.perf_counter()
        result = decode_photo(photo)
        elapsed = time.perf_counter() - started
        _assert_full(result, code)
        assert elapsed < 1.0, elapsed  # generous for a loaded CI box; the benchmark measures p50


def _blank_qr(photo: Image.Image, which: str) -> Image.Image:
    """Paint over one QR code of a straight receipt image (left or right half of the QR row)."""
    gray = np.asarray(photo.convert("L")).copy()
    dark = gray < 128
    rows = np.where(dark.mean(axis=1) > 0.2)[0]
    top = rows[rows > gray.shape[0] * 0.5][0]  # the QR row sits below the barcode
    bottom = top + int(gray.shape[1] * 0.42)
    half = gray.shape[1] // 2
    if which == "right":
        gray[top - 5 : bottom, half:] = 255
    else:
        gray[top - 5 : bottom, :half] = 255
    return Image.fromarray(gray, "L")


def _png(image: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **params)
    return out.getvalue()


def _jpeg(image: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **params)
    return out.getvalue()


def test_missing_right_code_still_gives_the_header() -> None:
    code = _code(12)
    receipt = render_receipt(code)
    result = decode_photo(_png(_blank_qr(receipt, "right")))
    assert result.code is not None
    assert result.found[0] == LEFT_QR and RIGHT_QR not in result.found
    assert result.code == replace(code, items=result.code.items, items_complete=False)


def test_barcode_fallback_when_the_left_code_is_gone() -> None:
    code = _code(13)
    receipt = render_receipt(code)
    result = decode_photo(_png(_blank_qr(receipt, "left")))
    assert result.code is not None
    assert BARCODE in result.found and LEFT_QR not in result.found
    assert (result.code.invoice_number, result.code.random_code, result.code.period) == (
        code.invoice_number,
        code.random_code,
        code.period,
    )
    assert result.code.date is None and result.code.source is InvoiceSource.PHOTO


# --- forms real printers make, read with a note (issue 28) ----------------------------------


def test_odd_month_barcode_beside_the_qr_codes_in_a_photo() -> None:
    """The barcode prints the period's first month (11303 for 11303–04): the QR's date decides
    the period and the note says what the barcode printed."""
    code = make_invoice_code(random.Random(7), items=2)
    result = decode_photo(render_photo(code, Degradation(), seed=11, form="odd_month_barcode"))
    assert result.found == (LEFT_QR, RIGHT_QR, BARCODE)
    assert result.code == code
    assert result.code.note_codes() == ("period_odd_month",)
    printed = f"{code.period[:3]}{int(code.period[3:]) - 1:02d}"
    assert f"barcode prints {printed}" in result.code.note_texts()[0]


def test_odd_month_barcode_alone_in_a_photo_is_read_as_its_period() -> None:
    code = _code(13)
    receipt = render_receipt(code, form="odd_month_barcode")
    result = decode_photo(_png(_blank_qr(receipt, "left")))
    assert result.code is not None, result.error
    assert BARCODE in result.found and LEFT_QR not in result.found
    assert (result.code.invoice_number, result.code.period, result.code.random_code) == (
        code.invoice_number, code.period, code.random_code)
    assert result.code.note_codes() == ("period_odd_month",)


@pytest.mark.parametrize(("form", "note"), [("fewer_counted", "items_more_than_counted"),
                                            ("gregorian_date", "date_gregorian")])
def test_tolerated_qr_forms_in_a_photo_are_read_whole_with_a_note(form: str, note: str) -> None:
    code = make_invoice_code(random.Random(8), items=3)
    result = decode_photo(render_photo(code, PRESETS["rotated"], seed=3, size=SMALL, form=form))
    _assert_full(result, code)
    assert note in result.code.note_codes()


def test_business_invoice_photo_is_recognised() -> None:
    code = business_invoice(_code(14), random.Random(1))
    result = decode_photo(render_photo(code, Degradation(), seed=1, size=SMALL))
    assert result.code is not None and is_business_invoice(result.code)
    assert result.code.buyer_ban == code.buyer_ban


def test_photo_without_codes() -> None:
    image = Image.new("RGB", (800, 600), (120, 130, 140))
    result = decode_photo(_jpeg(image))
    assert result.code is None and result.error == "no e-invoice QR code or barcode found"


# --- image formats that are legitimate but unusual ----------------------------------------


@lru_cache(maxsize=None)
def _receipt() -> tuple[InvoiceCode, Image.Image]:
    code = _code(20)
    receipt = render_receipt(code)
    return code, receipt.resize((receipt.width // 2, receipt.height // 2), Image.Resampling.LANCZOS)


def test_cmyk_jpeg() -> None:
    code, receipt = _receipt()
    _assert_full(decode_photo(_jpeg(receipt.convert("CMYK"))), code)


@pytest.mark.parametrize("orientation", [2, 4, 5, 7])
def test_exif_orientation_is_applied_to_mirrored_pixels(orientation: int) -> None:
    code, receipt = _receipt()
    # store the pixels so that only applying the EXIF orientation un-mirrors them
    inverse = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        7: Image.Transpose.TRANSVERSE,
    }[orientation]
    stored = receipt.transpose(inverse)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _jpeg(stored, exif=exif.tobytes())
    loaded = load_grayscale(data, None)
    assert loaded.size == receipt.size
    difference = np.abs(np.asarray(loaded, dtype=int) - np.asarray(receipt, dtype=int))
    assert difference.mean() < 4  # upright again: matches the original pixels (JPEG noise aside)
    _assert_full(decode_photo(data), code)


def test_sixteen_bit_png() -> None:
    code, receipt = _receipt()
    wide = Image.fromarray(np.asarray(receipt).astype(np.uint16) * 257)
    assert wide.mode.startswith("I;16")
    _assert_full(decode_photo(_png(wide)), code)


def test_transparent_png() -> None:
    code, receipt = _receipt()
    alpha = Image.fromarray(np.where(np.asarray(receipt) < 128, 255, 0).astype(np.uint8), "L")
    rgba = Image.merge("RGBA", (Image.new("L", receipt.size, 0),) * 3 + (alpha,))  # black ink, transparent paper
    _assert_full(decode_photo(_png(rgba)), code)


def test_webp_and_single_frame_gif() -> None:
    code, receipt = _receipt()
    out = io.BytesIO()
    receipt.save(out, "WEBP", lossless=True)
    _assert_full(decode_photo(out.getvalue()), code)
    out = io.BytesIO()
    receipt.convert("P").save(out, "GIF")
    _assert_full(decode_photo(out.getvalue()), code)


# --- hostile files --------------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def _animated(format_: str) -> bytes:
    _code_, receipt = _receipt()
    frames = [receipt.convert("RGB"), receipt.convert("RGB").transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    out = io.BytesIO()
    frames[0].save(out, format_, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def _bomb_png() -> bytes:
    out = io.BytesIO()
    Image.new("1", (8000, 7000), 1).save(out, "PNG")  # 56 MP, a few kB
    return out.getvalue()


HOSTILE = {
    "empty": (lambda: b"", "empty file"),
    "text": (lambda: b"<html><body>not an image</body></html>", "not an image"),
    "random bytes": (lambda: bytes(random.Random(5).randrange(256) for _ in range(5000)), "not an image"),
    "truncated jpeg": (lambda: _jpeg(_receipt()[1])[:3000], "damaged"),
    "jpeg header, garbage body": (lambda: _jpeg(_receipt()[1])[:600] + b"\x00\xff" * 4000, "damaged"),
    "huge dimensions": (lambda: _png_header_only(100_000, 100_000), "too large"),
    "decompression bomb": (_bomb_png, "too large"),
    "just over the cap": (lambda: _png_header_only(7072, 7072), "too large"),
    "too wide": (lambda: _png_header_only(30_000, 10), "too large"),
    "animated gif": (lambda: _animated("GIF"), "animated"),
    "animated webp": (lambda: _animated("WEBP"), "animated"),
    "svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not an image"),
    "pdf": (lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "not an image"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_give_a_clean_reason(case: str) -> None:
    make, reason = HOSTILE[case]
    data = make()
    started = time.perf_counter()
    result = decode_photo(data)
    assert time.perf_counter() - started < 5
    assert result.code is None
    assert result.error is not None and reason in result.error, result.error
    assert result.found == ()


def test_non_bytes_input_is_refused_cleanly() -> None:
    result = decode_photo("not bytes")  # type: ignore[arg-type]
    assert result.code is None and result.error == "not a file"
