"""The two QR codes of an 電子發票證明聯: parsing from raw bytes, combining, and encoding.

Left code (ASCII header, 77 characters): invoice number (10), ROC date yyyMMdd (7), random
code (4), sales amount (8 hex), total amount (8 hex), buyer BAN (8), seller BAN (8),
verification field (24); then `:`-separated: custom area (10), number of items encoded in the
codes, total number of items, item encoding (0 Big5, 1 UTF-8, 2 Base64) and the item stream.
Right code: `**` followed by the rest of the item stream.

The item stream is `name:quantity:unit price` triples joined by `:`. The left code carries a
prefix of the stream (ending with `:` when it stops between items) and the right code the rest,
so joining the two shares' bytes gives the stream back. With Base64 the stream's UTF-8 bytes are
Base64-encoded, either per code (each share separately) or once and the text split between the
codes; both are accepted. Only in Base64 form may item names contain `:`.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import IntEnum

from flows.einvoice.codes import validate_ban, validate_invoice_number, validate_random_code
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceCode, InvoiceSource, Item
from flows.einvoice.roc import date_to_roc, period_of, roc_to_date

__all__ = [
    "CUSTOM_AREA",
    "HEADER_LENGTH",
    "ItemEncoding",
    "LeftQr",
    "RightQr",
    "combine",
    "encode_qr_pair",
    "is_left_payload",
    "is_right_payload",
    "parse_items",
    "parse_left_qr",
    "parse_qr_pair",
    "parse_right_qr",
]

HEADER_LENGTH = 77
CUSTOM_AREA = "*" * 10
RIGHT_PREFIX = b"**"
MAX_PAYLOAD = 8192  # a QR code holds at most 2953 bytes; anything longer is not one
MAX_ITEMS = 9999

_HEX8 = re.compile(r"[0-9A-Fa-f]{8}")
_ENCRYPT = re.compile(r"[A-Za-z0-9+/=]{24}")
_COUNT = re.compile(r"[0-9]{1,4}")
_NUMBER = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,8})?")
_BIG5 = "cp950"  # Big5 as POS systems print it (Microsoft's superset)
_DP_BUDGET = 2_000_000


class ItemEncoding(IntEnum):
    """How the item names (the item stream) are encoded."""

    BIG5 = 0
    UTF8 = 1
    BASE64 = 2


@dataclass(frozen=True)
class LeftQr:
    """A parsed left code: the header as an InvoiceCode (no items yet) and the item metadata."""

    header: InvoiceCode
    custom_area: str | None = None
    items_in_codes: int = 0
    items_total: int = 0
    encoding: ItemEncoding | None = None
    item_data: bytes = b""  # the left share of the item stream, raw

    @property
    def has_item_fields(self) -> bool:
        return self.encoding is not None


@dataclass(frozen=True)
class RightQr:
    """A parsed right code: its share of the item stream, raw."""

    item_data: bytes


def _as_bytes(payload: bytes | str, field: str) -> bytes:
    if isinstance(payload, str):
        try:
            return payload.encode("utf-8")
        except UnicodeEncodeError:
            raise InvoiceCodeError(field, "contains characters that cannot be encoded") from None
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise InvoiceCodeError(field, "must be bytes or text")


def is_right_payload(payload: bytes) -> bool:
    """A right code starts with `**`."""
    return payload.startswith(RIGHT_PREFIX)


def is_left_payload(payload: bytes) -> bool:
    """Cheap shape test (full validation is `parse_left_qr`)."""
    return len(payload) >= HEADER_LENGTH and not payload.startswith(RIGHT_PREFIX)


# --- parsing --------------------------------------------------------------------------------


def _parse_header(raw: bytes) -> InvoiceCode:
    try:
        text = raw[:HEADER_LENGTH].decode("ascii")
    except UnicodeDecodeError:
        raise InvoiceCodeError("header", "the first 77 characters must be ASCII") from None
    number = validate_invoice_number(text[0:10])
    day = roc_to_date(text[10:17], field="date")
    random_code = validate_random_code(text[17:21])
    amounts = []
    for name, chunk in (("sales_amount", text[21:29]), ("total_amount", text[29:37])):
        if not _HEX8.fullmatch(chunk):
            raise InvoiceCodeError(name, "must be 8 hexadecimal digits")
        amounts.append(int(chunk, 16))
    buyer = validate_ban(text[37:45], field="buyer_ban", allow_zero=True)
    seller = validate_ban(text[45:53], field="seller_ban")
    encrypt = text[53:77]
    if not _ENCRYPT.fullmatch(encrypt):
        raise InvoiceCodeError("encrypt", "must be 24 Base64 characters")
    return InvoiceCode(
        invoice_number=number,
        date=day,
        random_code=random_code,
        source=InvoiceSource.PHOTO,
        period=period_of(day),
        sales_amount=amounts[0],
        total_amount=amounts[1],
        buyer_ban=buyer,
        seller_ban=seller,
        encrypt=encrypt,
    )


def parse_left_qr(payload: bytes | str) -> LeftQr:
    """Parse a left code from its raw bytes (zxing-cpp `Barcode.bytes`) or text.

    The header is decoded as ASCII; the item stream stays raw until its encoding is known.
    A payload of exactly 77 characters (no item fields) is accepted.
    """
    raw = _as_bytes(payload, "left_qr")
    if len(raw) > MAX_PAYLOAD:
        raise InvoiceCodeError("left_qr", "is too long to be a QR code")
    if is_right_payload(raw):
        raise InvoiceCodeError("left_qr", "starts with ** (that is the right code)")
    if len(raw) < HEADER_LENGTH:
        raise InvoiceCodeError("left_qr", f"must be at least {HEADER_LENGTH} characters, got {len(raw)}")
    header = _parse_header(raw)
    rest = raw[HEADER_LENGTH:]
    if not rest:
        return LeftQr(header=header)
    if rest[:1] != b":":
        raise InvoiceCodeError("left_qr", "character 78 must be ':' after the 77-character header")
    parts = rest[1:].split(b":", 4)
    if len(parts) < 4:
        raise InvoiceCodeError("item_encoding", "is missing (custom area, item counts and encoding expected)")
    custom_raw, in_codes_raw, total_raw, encoding_raw = parts[:4]
    item_data = parts[4] if len(parts) == 5 else b""
    try:
        custom = custom_raw.decode("ascii")
    except UnicodeDecodeError:
        raise InvoiceCodeError("custom_area", "must be ASCII") from None
    if len(custom) != 10:
        raise InvoiceCodeError("custom_area", f"must be 10 characters, got {len(custom)}")
    counts = []
    for name, chunk in (("items_in_codes", in_codes_raw), ("items_total", total_raw)):
        text = chunk.decode("ascii", "replace")
        if not _COUNT.fullmatch(text):
            raise InvoiceCodeError(name, "must be a whole number (up to 4 digits)")
        counts.append(int(text))
    if counts[0] > counts[1]:
        raise InvoiceCodeError("items_in_codes", "is larger than the total number of items")
    enc_text = encoding_raw.decode("ascii", "replace")
    if enc_text not in ("0", "1", "2"):
        raise InvoiceCodeError("item_encoding", "must be 0 (Big5), 1 (UTF-8) or 2 (Base64)")
    return LeftQr(
        header=header,
        custom_area=custom,
        items_in_codes=counts[0],
        items_total=counts[1],
        encoding=ItemEncoding(int(enc_text)),
        item_data=item_data,
    )


def parse_right_qr(payload: bytes | str) -> RightQr:
    """Parse a right code: `**` followed by its share of the item stream."""
    raw = _as_bytes(payload, "right_qr")
    if len(raw) > MAX_PAYLOAD:
        raise InvoiceCodeError("right_qr", "is too long to be a QR code")
    if not is_right_payload(raw):
        raise InvoiceCodeError("right_qr", "must start with **")
    return RightQr(item_data=raw[len(RIGHT_PREFIX):])


def _b64decode(text: bytes, field: str) -> bytes:
    cleaned = text.strip().rstrip(b":")
    try:
        return binascii.a2b_base64(cleaned, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvoiceCodeError(field, "is not valid Base64") from None


def _decode_text(data: bytes, encoding: ItemEncoding, *, partial: bool) -> str:
    errors = "ignore" if partial else "strict"
    if encoding is ItemEncoding.BIG5:
        try:
            return data.decode(_BIG5, errors)
        except UnicodeDecodeError:
            raise InvoiceCodeError("items", "item names are not valid Big5") from None
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError:
        if encoding is ItemEncoding.BASE64:
            try:  # some issuers Base64-encode Big5 bytes
                return data.decode(_BIG5)
            except UnicodeDecodeError:
                pass
        raise InvoiceCodeError("items", "item names are not valid UTF-8") from None


def _is_number(token: str) -> bool:
    return bool(_NUMBER.fullmatch(token))


def _triples(tokens: list[str], expected: int, colon_names: bool) -> list[tuple[str, str, str]]:
    """Split tokens into `expected` (name, quantity, price) triples.

    Without colon names the tokens group by three. With them, a name may absorb extra tokens;
    the parse that gives every item a numeric quantity and price is found by dynamic
    programming, preferring the shortest names first.
    """
    extra = len(tokens) - 3 * expected
    if extra < 0:
        raise InvoiceCodeError("items", f"the codes announce {expected} items but hold only {len(tokens) // 3}")
    if extra and not colon_names:
        raise InvoiceCodeError("items", f"the codes announce {expected} items but hold more fields ({len(tokens)})")
    if extra == 0:
        return [(tokens[i], tokens[i + 1], tokens[i + 2]) for i in range(0, len(tokens), 3)]
    if (expected + 1) * (extra + 1) * (extra + 1) > _DP_BUDGET:
        raise InvoiceCodeError("items", "too many ':' in item names to parse")
    numeric = [_is_number(t) for t in tokens]
    # ok[k][j]: items k.. can be parsed starting at token 3k+j, having absorbed j extra tokens
    ok = [[False] * (extra + 1) for _ in range(expected + 1)]
    ok[expected][extra] = True
    for k in range(expected - 1, -1, -1):
        for j in range(extra + 1):
            start = 3 * k + j
            for absorb in range(extra - j + 1):
                q = start + absorb + 1
                if numeric[q] and numeric[q + 1] and ok[k + 1][j + absorb]:
                    ok[k][j] = True
                    break
    if not ok[0][0]:
        raise InvoiceCodeError("items", "cannot split the item fields into name:quantity:price")
    result = []
    j = 0
    for k in range(expected):
        start = 3 * k + j
        for absorb in range(extra - j + 1):
            q = start + absorb + 1
            if numeric[q] and numeric[q + 1] and ok[k + 1][j + absorb]:
                result.append((":".join(tokens[start : q]), tokens[q], tokens[q + 1]))
                j += absorb
                break
    return result


def _items_from(triples: list[tuple[str, str, str]], offset: int = 0) -> list[Item]:
    items = []
    for index, (name, quantity, price) in enumerate(triples, start=offset):
        if not name.strip():
            raise InvoiceCodeError(f"items[{index}].name", "must not be empty")
        if not _is_number(quantity):
            raise InvoiceCodeError(f"items[{index}].quantity", "must be a number")
        if not _is_number(price):
            raise InvoiceCodeError(f"items[{index}].unit_price", "must be a number")
        items.append(Item(name=name, quantity=Decimal(quantity), unit_price=Decimal(price)))
    return items


def _stream_bytes(left: LeftQr, right: RightQr) -> list[bytes]:
    """Candidate item streams from both shares (joined as printed, or with a ':' restored)."""
    right_data = right.item_data.rstrip(b" \r\n\t")
    if left.encoding is ItemEncoding.BASE64:
        left_b64 = left.item_data.strip().rstrip(b":")
        right_b64 = right_data.strip()
        if left_b64.endswith(b"="):  # padded: each code's share was encoded on its own
            return [_b64decode(left_b64, "items") + _b64decode(right_b64, "items")]
        # one text split across the codes; an unpadded whole-quad share decodes the same either way
        return [_b64decode(left_b64 + right_b64, "items")]
    joined = left.item_data + right_data
    candidates = [joined]
    if left.item_data and right_data and not left.item_data.endswith(b":") and not right_data.startswith(b":"):
        candidates.append(left.item_data + b":" + right_data)
    return candidates


def parse_items(left: LeftQr, right: RightQr | None) -> tuple[tuple[Item, ...], bool]:
    """The items the codes carry and whether that is every item announced (strict).

    With the right code missing, only items whose fields are all followed by `:` in the left
    share are returned (a trailing field may be cut), and completeness is False unless the
    left share alone announces and holds every item.
    """
    if not left.has_item_fields or left.encoding is None:
        return (), False
    expected = left.items_in_codes
    colon_names = left.encoding is ItemEncoding.BASE64
    if right is None:
        if left.encoding is ItemEncoding.BASE64:
            # names may hold ':' there, so a cut stream cannot be split safely
            return (), False
        text = _decode_text(left.item_data, left.encoding, partial=True)
        # without the right code we cannot know whether the last field was cut: keep only
        # fields followed by ':'; completeness is unknown, so False
        complete_tokens = text.split(":")[:-1]
        usable = (len(complete_tokens) // 3) * 3
        triples = [(complete_tokens[i], complete_tokens[i + 1], complete_tokens[i + 2]) for i in range(0, usable, 3)]
        items: list[Item] = []
        for triple in triples:
            try:
                items.extend(_items_from([triple], len(items)))
            except InvoiceCodeError:
                break
        return tuple(items[:expected]), False
    first_error: InvoiceCodeError | None = None
    for data in _stream_bytes(left, right):
        try:
            tokens = _trim(_decode_text(data, left.encoding, partial=False).split(":"))
            if expected == 0:
                if tokens:
                    raise InvoiceCodeError("items", "the codes announce 0 items but hold item fields")
                return (), left.items_total == 0
            items = _items_from(_triples(tokens, expected, colon_names))
            return tuple(items), expected == left.items_total
        except InvoiceCodeError as error:
            first_error = first_error or error
    assert first_error is not None
    raise first_error


def _trim(tokens: list[str]) -> list[str]:
    """Drop the empty token a trailing ':' leaves (and the one an empty stream gives)."""
    if tokens and tokens[-1] == "":
        return tokens[:-1]
    return tokens


def combine(left: LeftQr, right: RightQr | None, *, strict: bool = False) -> InvoiceCode:
    """One InvoiceCode from a left code and maybe a right code.

    Not strict: an item stream that does not parse leaves the header with no items and
    `items_complete` False (items then come from MOF). Strict: it raises InvoiceCodeError.
    """
    try:
        items, complete = parse_items(left, right)
    except InvoiceCodeError:
        if strict:
            raise
        items, complete = (), False
    return replace(left.header, items=items, items_complete=complete)


def parse_qr_pair(
    left: bytes | str, right: bytes | str | None = None, *, strict: bool = False
) -> InvoiceCode:
    """Parse the left code (and the right code when there is one) into one InvoiceCode.

    Header and item-field errors in the left code always raise; with `strict` so do item
    errors and a malformed right code; otherwise those leave a header-only code.
    """
    parsed_left = parse_left_qr(left)
    parsed_right: RightQr | None = None
    if right is not None:
        try:
            parsed_right = parse_right_qr(right)
        except InvoiceCodeError:
            if strict:
                raise
    return combine(parsed_left, parsed_right, strict=strict)


# --- encoding (tests, the photo simulator) -------------------------------------------------


def _format_number(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _header_text(code: InvoiceCode) -> str:
    if code.date is None:
        raise InvoiceCodeError("date", "is required to encode a left QR code")
    validate_invoice_number(code.invoice_number)
    validate_random_code(code.random_code)
    parts = [code.invoice_number, date_to_roc(code.date), code.random_code]
    for name, amount in (("sales_amount", code.sales_amount), ("total_amount", code.total_amount)):
        if amount is None or not 0 <= amount <= 0xFFFFFFFF:
            raise InvoiceCodeError(name, "must be between 0 and 0xFFFFFFFF to encode")
        parts.append(f"{amount:08x}")
    parts.append(validate_ban(code.buyer_ban or "00000000", field="buyer_ban", allow_zero=True))
    parts.append(validate_ban(code.seller_ban, field="seller_ban"))
    if code.encrypt is None or not _ENCRYPT.fullmatch(code.encrypt):
        raise InvoiceCodeError("encrypt", "must be 24 Base64 characters to encode")
    parts.append(code.encrypt)
    return "".join(parts)


def _item_stream(items: tuple[Item, ...], encoding: ItemEncoding) -> tuple[bytes, list[int]]:
    """The item stream bytes and the byte offsets just after each item's trailing ':'."""
    codec = _BIG5 if encoding is ItemEncoding.BIG5 else "utf-8"
    chunks: list[bytes] = []
    boundaries: list[int] = []
    size = 0
    for index, item in enumerate(items):
        if ":" in item.name and encoding is not ItemEncoding.BASE64:
            raise InvoiceCodeError(f"items[{index}].name", "may contain ':' only in Base64 form")
        if not item.name.strip():
            raise InvoiceCodeError(f"items[{index}].name", "must not be empty")
        try:
            name = item.name.encode(codec)
        except UnicodeEncodeError:
            raise InvoiceCodeError(f"items[{index}].name", f"cannot be encoded as {codec}") from None
        chunk = name + f":{_format_number(item.quantity)}:{_format_number(item.unit_price)}".encode("ascii")
        if index < len(items) - 1:
            chunk += b":"
        chunks.append(chunk)
        size += len(chunk)
        boundaries.append(size)
    return b"".join(chunks), boundaries


def encode_qr_pair(
    code: InvoiceCode,
    *,
    encoding: ItemEncoding = ItemEncoding.UTF8,
    left_items: int | None = None,
    split_at: int | None = None,
    base64_whole: bool = False,
    items_total: int | None = None,
    custom_area: str = CUSTOM_AREA,
) -> tuple[bytes, bytes]:
    """The left and right code payloads for `code` (inverse of `parse_qr_pair`).

    The item stream is split after `left_items` items (default: half, rounded up), or at byte
    `split_at` of the stream (any position, even inside a name), or — with Base64 and
    `base64_whole` — at character `split_at` of the single Base64 text.
    """
    if len(custom_area) != 10 or not custom_area.isascii():
        raise InvoiceCodeError("custom_area", "must be 10 ASCII characters")
    items = code.items
    total = len(items) if items_total is None else items_total
    if total < len(items) or total > MAX_ITEMS:
        raise InvoiceCodeError("items_total", "must be at least the number of encoded items")
    stream, boundaries = _item_stream(items, encoding)
    if encoding is ItemEncoding.BASE64 and base64_whole:
        text = base64.b64encode(stream)
        cut = len(text) // 2 if split_at is None else max(0, min(split_at, len(text)))
        left_share, right_share = text[:cut], text[cut:]
    else:
        if split_at is not None:
            cut = max(0, min(split_at, len(stream)))
        else:
            count = (len(items) + 1) // 2 if left_items is None else max(0, min(left_items, len(items)))
            cut = boundaries[count - 1] if count else 0
            if count == len(items):
                cut = len(stream)
        left_share, right_share = stream[:cut], stream[cut:]
        if encoding is ItemEncoding.BASE64:
            left_share = base64.b64encode(left_share)
            right_share = base64.b64encode(right_share)
    head = f"{_header_text(code)}:{custom_area}:{len(items)}:{total}:{int(encoding)}:".encode("ascii")
    return head + left_share, RIGHT_PREFIX + right_share
