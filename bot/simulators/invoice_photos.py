"""Synthetic phone photos of 電子發票證明聯 receipts, for tests, the benchmark and the sandbox.

A receipt is drawn like a 57 mm thermal print (title, period, number, date/time, random code,
total, seller, the Code 39 barcode and the two QR codes side by side, then the item lines) and
placed on a 12-MP photo background with seeded degradations: rotation, perspective, blur,
glare, low contrast, small in frame, sensor noise and JPEG compression. Same inputs and seed →
same bytes. Fonts are Pillow's default; Chinese glyphs are decoration only (the QR content is
what matters).

`form` picks how the QR payloads are printed: the spec's form or one of the forms real receipts
use (see reference/einvoice-notes.md): right code starting `**:`, space padding, a verification
field longer than 24 characters glued to the self-use area, a B2B invoice's blank random code,
and the forms the reader tolerates with a note (issue 28): a barcode printing the period's
first (odd) month, item counts one lower than the items printed (0 for one item), a Gregorian
yyyyMMdd date in the left code.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import string
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from flows.einvoice.ban import is_valid_ban
from flows.einvoice.codes import display_number, encode_barcode
from flows.einvoice.model import InvoiceCode, InvoiceSource, Item
from flows.einvoice.qr import HEADER_LENGTH, ItemEncoding, encode_qr_pair
from flows.einvoice.roc import ROC_OFFSET, period_of

PHOTO_SIZE = (4000, 3000)  # 12 MP
PX_PER_MM = 16  # receipt drawing resolution (a 203-dpi printer dot is 0.125 mm = 2 px)
PAPER_MM = 57

ITEM_NAMES = (
    "鮮乳", "茶葉蛋", "御飯糰", "綠茶", "美式咖啡", "拿鐵", "洋芋片", "礦泉水", "衛生紙", "牙膏",
    "巧克力", "泡麵", "蘋果", "香蕉", "優酪乳", "麵包", "口罩", "乾電池", "洗衣精", "便當",
)
SELLERS = ("全家便利商店", "統一超商", "美廉社", "家樂福", "全聯福利中心", "康是美")

# Code 39: for each character, which of its 9 elements (bar, space, bar, …) are wide.
_CODE39 = {
    "0": "000110100", "1": "100100001", "2": "001100001", "3": "101100000", "4": "000110001",
    "5": "100110000", "6": "001110000", "7": "000100101", "8": "100100100", "9": "001100100",
    "A": "100001001", "B": "001001001", "C": "101001000", "D": "000011001", "E": "100011000",
    "F": "001011000", "G": "000001101", "H": "100001100", "I": "001001100", "J": "000011100",
    "K": "100000011", "L": "001000011", "M": "101000010", "N": "000010011", "O": "100010010",
    "P": "001010010", "Q": "000000111", "R": "100000110", "S": "001000110", "T": "000010110",
    "U": "110000001", "V": "011000001", "W": "111000000", "X": "010010001", "Y": "110010000",
    "Z": "011010000", "-": "010000101", ".": "110000100", " ": "011000100", "*": "010010100",
    "$": "010101000", "/": "010100010", "+": "010001010", "%": "000101010",
}


@dataclass(frozen=True)
class Degradation:
    """How the photo is taken. Defaults are a clean, well-framed, sharp photo."""

    rotation: float = 0.0  # degrees, counter-clockwise
    perspective: float = 0.0  # corner jitter as a fraction of the receipt width
    blur: float = 0.0  # Gaussian radius in photo pixels
    glare: float = 0.0  # 0..1 strength of a bright specular blob
    contrast: float = 1.0  # 1 = black print on white paper; 0.3 = faded thermal print
    receipt_height: float = 0.8  # receipt height as a fraction of the photo height
    noise: float = 3.0  # sensor noise standard deviation (0..255 scale)
    jpeg_quality: int = 90
    offset: tuple[float, float] = (0.0, 0.0)  # receipt centre shift, fraction of the photo


PRESETS: dict[str, Degradation] = {
    "clean": Degradation(),
    "rotated": Degradation(rotation=35.0),
    "upside_down": Degradation(rotation=180.0),
    "perspective": Degradation(perspective=0.18, rotation=-8.0),
    "blur": Degradation(blur=4.0),
    "glare": Degradation(glare=0.8),
    "low_contrast": Degradation(contrast=0.3),
    "small": Degradation(receipt_height=0.35, offset=(0.2, -0.15)),
    "noise": Degradation(noise=18.0),
    "jpeg": Degradation(jpeg_quality=30),
}


def moderate(rng: random.Random) -> Degradation:
    """A typical shopper's photo: some tilt, mild blur and noise, decent framing."""
    return Degradation(
        rotation=rng.uniform(-25, 25) + rng.choice((0, 0, 0, 90, 180, -90)),
        perspective=rng.uniform(0.0, 0.12),
        blur=rng.uniform(0.0, 2.5),
        glare=rng.choice((0.0, 0.0, rng.uniform(0.2, 0.5))),
        contrast=rng.uniform(0.55, 1.0),
        receipt_height=rng.uniform(0.55, 0.9),
        noise=rng.uniform(1.0, 8.0),
        jpeg_quality=rng.randint(70, 95),
        offset=(rng.uniform(-0.1, 0.1), rng.uniform(-0.05, 0.05)),
    )


def hard(rng: random.Random) -> Degradation:
    """A bad but still legible photo: any rotation, strong perspective, blur, glare, faded
    print, receipt small in frame, noise, heavy JPEG compression."""
    return Degradation(
        rotation=rng.uniform(-180, 180),
        perspective=rng.uniform(0.08, 0.2),
        blur=rng.uniform(0.8, 2.2),
        glare=rng.uniform(0.3, 0.7),
        contrast=rng.uniform(0.3, 0.6),
        receipt_height=rng.uniform(0.4, 0.65),
        noise=rng.uniform(5.0, 12.0),
        jpeg_quality=rng.randint(45, 80),
        offset=(rng.uniform(-0.15, 0.15), rng.uniform(-0.1, 0.1)),
    )


# --- invoices ---------------------------------------------------------------------------------


def _random_ban(rng: random.Random) -> str:
    while True:
        candidate = f"{rng.randrange(10**8):08d}"
        if is_valid_ban(candidate) and candidate != "00000000":
            return candidate


def make_invoice_code(
    rng: random.Random,
    *,
    items: int | None = None,
    buyer_ban: str = "00000000",
    today: dt.date = dt.date(2024, 6, 30),
) -> InvoiceCode:
    """A random, internally consistent invoice as its codes would carry it."""
    count = rng.randint(1, 6) if items is None else items
    lines = tuple(
        Item(
            name=rng.choice(ITEM_NAMES),
            quantity=Decimal(rng.choice((1, 1, 1, 2, 3))),
            unit_price=Decimal(rng.randint(10, 300)),
        )
        for _ in range(count)
    )
    total = int(sum(item.quantity * item.unit_price for item in lines))
    day = today - dt.timedelta(days=rng.randint(0, 240))
    encrypt = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(22)) + "=="
    return InvoiceCode(
        invoice_number="".join(rng.choice(string.ascii_uppercase) for _ in range(2)) + f"{rng.randrange(10**8):08d}",
        date=day,
        random_code=f"{rng.randrange(10**4):04d}",
        source=InvoiceSource.PHOTO,
        period=period_of(day),
        sales_amount=round(total / 1.05),
        total_amount=total,
        buyer_ban=buyer_ban,
        seller_ban=_random_ban(rng),
        encrypt=encrypt,
        items=lines,
        items_complete=True,
    )


# --- payload forms ------------------------------------------------------------------------------

FORMS = ("spec", "colon_right", "padded", "long_verification", "b2b", "odd_month_barcode", "fewer_counted",
         "gregorian_date")
_EXTRA_VERIFICATION = b"QUJDRA=="  # 8 more Base64 characters some printers add


def form_invoice(code: InvoiceCode, form: str, rng: random.Random) -> InvoiceCode:
    """The invoice as a decoder should read it back from a receipt printed in `form`."""
    if form == "b2b":
        return replace(code, random_code=None, buyer_ban=_random_ban(rng))
    if form == "long_verification":
        return replace(code, encrypt=None)  # not the 24-character field MOF takes: left out
    return code


def form_payloads(
    code: InvoiceCode, form: str = "spec", *, encoding: ItemEncoding = ItemEncoding.UTF8, base64_whole: bool = False
) -> tuple[bytes, bytes]:
    """The left and right QR payloads of `code` printed in `form` (one of FORMS)."""
    if form not in FORMS:
        raise ValueError(f"form: one of {', '.join(FORMS)}")
    printable = replace(code, encrypt=code.encrypt or "A" * 24)
    counted = max(0, len(code.items) - 1) if form == "fewer_counted" else None
    left, right = encode_qr_pair(printable, encoding=encoding, base64_whole=base64_whole, items_in_codes=counted,
                                 gregorian_date=form == "gregorian_date")
    if form == "colon_right" and encoding is not ItemEncoding.BASE64 and left.endswith(b":"):
        left, right = left[:-1], b"**:" + right[2:]
    elif form == "padded":
        head, sep, rest = left.partition(b":")
        fields = rest.split(b":", 4)
        fields[3] = fields[3] + b"   "  # the encoding flag, padded
        left = head + sep + b":".join(fields)
        right = right + b" " * 12
    elif form == "long_verification":
        left = left[:HEADER_LENGTH] + _EXTRA_VERIFICATION + left[HEADER_LENGTH + 1 :]
    return left, right


def form_barcode(code: InvoiceCode, form: str = "spec") -> str:
    """The Code 39 text printed for `code` in `form`: `odd_month_barcode` prints the period's
    first month (11304 → 11303), as many printers do; a B2B invoice's random code is blank."""
    text = encode_barcode(code) if code.random_code else f"{code.period}{code.invoice_number}    "
    if form == "odd_month_barcode":
        text = f"{text[:3]}{int(text[3:5]) - 1:02d}{text[5:]}"
    return text


# --- drawing the receipt ----------------------------------------------------------------------


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _qr_matrix(payload: bytes, version: int) -> np.ndarray:
    qr = segno.make_qr(payload, error="L", version=version, boost_error=False, mode="byte")
    return np.array([list(row) for row in qr.matrix], dtype=bool)


def _code39(text: str, narrow: int, wide: int, height: int) -> Image.Image:
    symbols = f"*{text}*"
    width = sum(sum(wide if w == "1" else narrow for w in _CODE39[c]) + narrow for c in symbols) - narrow
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    x = 0
    for c in symbols:
        for index, flag in enumerate(_CODE39[c]):
            size = wide if flag == "1" else narrow
            if index % 2 == 0:
                draw.rectangle((x, 0, x + size - 1, height - 1), fill=0)
            x += size
        x += narrow  # inter-character gap
    return image


def render_receipt(
    code: InvoiceCode,
    *,
    encoding: ItemEncoding = ItemEncoding.UTF8,
    seller_name: str = "統一超商",
    base64_whole: bool = False,
    form: str = "spec",
) -> Image.Image:
    """The receipt as printed (grayscale, 16 px per mm, black on white)."""
    if code.date is None:
        raise ValueError("date: a printed invoice needs an issue date")
    left, right = form_payloads(code, form, encoding=encoding, base64_whole=base64_whole)
    random_code = code.random_code or "    "
    clock = code.random_code or code.invoice_number[2:6]
    version = max(segno.make_qr(p, error="L", boost_error=False, mode="byte").version for p in (left, right))
    version = max(version, 6)
    matrices = [_qr_matrix(left, version), _qr_matrix(right, version)]
    width = PAPER_MM * PX_PER_MM
    margin = 3 * PX_PER_MM
    qr_side = matrices[0].shape[0]
    module = max(2, min(6, (width - 2 * margin - 4 * PX_PER_MM) // (2 * qr_side)))

    height = 150 * PX_PER_MM + len(code.items) * 6 * PX_PER_MM
    paper = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(paper)
    big, mid, small = _font(7 * PX_PER_MM // 1), _font(4 * PX_PER_MM), _font(3 * PX_PER_MM)
    y = 4 * PX_PER_MM
    roc_year = code.date.year - ROC_OFFSET
    first_month = int((code.period or period_of(code.date))[3:]) - 1
    lines = [
        (seller_name, mid),
        ("電子發票證明聯", big),
        (f"{roc_year}年{first_month:02d}-{first_month + 1:02d}月", big),
        (display_number(code.invoice_number), big),
    ]
    for text, font in lines:
        box = draw.textbbox((0, 0), text, font=font)
        draw.text(((width - (box[2] - box[0])) // 2, y), text, font=font, fill=0)
        y += box[3] + PX_PER_MM
    small_lines = [
        f"{code.date.isoformat()} {8 + int(clock[0]):02d}:{int(clock[1:3]) % 60:02d}:{int(clock[2:]) % 60:02d}",
        f"隨機碼:{random_code}    總計:{code.total_amount}",
        f"賣方 {code.seller_ban}" + (f"  買方 {code.buyer_ban}" if code.buyer_ban not in (None, "00000000") else ""),
    ]
    for text in small_lines:
        draw.text((margin, y), text, font=mid, fill=0)
        y += 5 * PX_PER_MM
    y += PX_PER_MM
    barcode = _code39(form_barcode(code, form), narrow=2, wide=5, height=9 * PX_PER_MM)
    paper.paste(barcode, ((width - barcode.width) // 2, y))
    y += barcode.height + 2 * PX_PER_MM
    gap = width - 2 * margin - 2 * qr_side * module
    for index, matrix in enumerate(matrices):
        qr_image = Image.fromarray(np.where(matrix, 0, 255).astype(np.uint8), "L")
        qr_image = qr_image.resize((qr_side * module, qr_side * module), Image.Resampling.NEAREST)
        x = margin + index * (qr_side * module + gap)
        paper.paste(qr_image, (x, y))
    y += qr_side * module + 3 * PX_PER_MM
    draw.text((margin, y), "退貨請持本聯 Returns with this slip", font=small, fill=0)
    y += 5 * PX_PER_MM
    draw.line((margin, y, width - margin, y), fill=0, width=2)
    y += 2 * PX_PER_MM
    for item in code.items:
        draw.text((margin, y), item.name, font=mid, fill=0)
        draw.text((width // 2, y), f"{item.quantity} x {item.unit_price}", font=mid, fill=0)
        y += 6 * PX_PER_MM
    return paper.crop((0, 0, width, min(height, y + 4 * PX_PER_MM)))


# --- the photo ------------------------------------------------------------------------------


def _perspective_coefficients(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Coefficients for Image.transform(PERSPECTIVE): maps output points `dst` to input `src`."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return list(np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float)))


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    base_colour = rng.integers(70, 170, size=3)
    low = np.clip(base_colour + rng.integers(-25, 26, size=(6, 8, 3)), 0, 255).astype(np.uint8)
    base = Image.fromarray(low, "RGB").resize((w, h), Image.Resampling.BICUBIC)
    grain = Image.fromarray(rng.integers(0, 40, size=(h // 8, w // 8), dtype=np.uint8), "L")
    grain = grain.resize((w, h), Image.Resampling.BILINEAR)
    return Image.composite(base, Image.new("RGB", (w, h), (30, 25, 20)), grain.point(lambda v: 255 - v))


def render_photo(
    code: InvoiceCode,
    degradation: Degradation = Degradation(),
    seed: int = 0,
    *,
    size: tuple[int, int] = PHOTO_SIZE,
    encoding: ItemEncoding = ItemEncoding.UTF8,
    base64_whole: bool = False,
    form: str = "spec",
    seller_name: str | None = None,
) -> bytes:
    """A JPEG phone photo of the receipt for `code` (printed in `form`, headed by `seller_name`,
    else a seller drawn from the seed), degraded as described, deterministic."""
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    d = degradation
    drawn = prng.choice(SELLERS)  # drawn even when given, so the rest of the photo stays the same
    receipt = render_receipt(
        code, encoding=encoding, seller_name=seller_name or drawn, base64_whole=base64_whole, form=form
    )
    if d.contrast < 1.0:
        ink = int(255 * (1 - d.contrast) * 0.85)
        paper = 255 - int(25 * (1 - d.contrast))
        receipt = receipt.point(lambda v: ink + (paper - ink) * v // 255)
    w, h = size
    scale = d.receipt_height * h / receipt.height
    rw, rh = receipt.width * scale, receipt.height * scale
    cx, cy = w / 2 + d.offset[0] * w, h / 2 + d.offset[1] * h
    angle = np.deg2rad(d.rotation)
    cos, sin = np.cos(angle), np.sin(angle)
    corners = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        jx = rng.uniform(-d.perspective, d.perspective) * rw
        jy = rng.uniform(-d.perspective, d.perspective) * rw
        px, py = sx * rw / 2 + jx, sy * rh / 2 + jy
        corners.append((cx + px * cos + py * sin, cy - px * sin + py * cos))
    src = [(0, 0), (receipt.width, 0), (receipt.width, receipt.height), (0, receipt.height)]
    coefficients = _perspective_coefficients(corners, src)
    warped = receipt.transform((w, h), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR, fillcolor=0)
    mask = Image.new("L", receipt.size, 255).transform(
        (w, h), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR, fillcolor=0
    )
    tint = (int(rng.integers(235, 256)), int(rng.integers(230, 250)), int(rng.integers(215, 240)))
    paper_rgb = Image.merge(
        "RGB", [warped.point(lambda v, t=t: v * t // 255) for t in tint]
    )
    photo = _background(rng, size)
    photo.paste(paper_rgb, (0, 0), mask)
    if d.glare > 0:
        glare = Image.new("L", (w // 8, h // 8), 0)
        gx = cx / 8 + rng.uniform(-0.5, 0.5) * rw / 8
        gy = cy / 8 + rng.uniform(-0.4, 0.4) * rh / 8
        radius = rw / 8 * rng.uniform(0.25, 0.45)
        ImageDraw.Draw(glare).ellipse(
            (gx - radius, gy - radius * 0.6, gx + radius, gy + radius * 0.6), fill=int(255 * d.glare)
        )
        glare = glare.filter(ImageFilter.GaussianBlur(radius / 3)).resize((w, h), Image.Resampling.BILINEAR)
        photo = Image.composite(Image.new("RGB", (w, h), (255, 255, 250)), photo, glare)
    if d.blur > 0:
        photo = photo.filter(ImageFilter.GaussianBlur(d.blur))
    if d.noise > 0:
        noise = rng.normal(0.0, d.noise, size=(h, w, 1)).astype(np.float32)
        array = np.asarray(photo, dtype=np.float32) + noise
        photo = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=d.jpeg_quality)
    return out.getvalue()


def business_invoice(code: InvoiceCode, rng: random.Random) -> InvoiceCode:
    """The same invoice issued with a buyer BAN (統編發票)."""
    return replace(code, buyer_ban=_random_ban(rng))
