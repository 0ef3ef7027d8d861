"""The two QR codes of an 電子發票證明聯: parsing from raw bytes or text, combining, and encoding.

Left code: a fixed 53-character prefix — invoice number (10), ROC date yyyMMdd (7), random code
(4 digits, or 4 spaces on B2B invoices), sales amount (8 hex), total amount (8 hex), buyer BAN
(8), seller BAN (8) — then the verification field (24 Base64 characters in the spec; longer on
some printers) and, `:`-separated, a self-use area (`**********` in the spec, any length in the
wild, sometimes with no `:` before it), the number of items recorded in the codes, the number of
items on the invoice, the item encoding (0 Big5, 1 UTF-8, 2 Base64; space-padded on some
printers) and the item stream. Right code: `**` followed by the rest of the item stream.

Parsing is header first: only the 53-character prefix can refuse a code. Everything after it is
found by its separators and read best effort; a problem there gives a header-only result with the
reason in `InvoiceCode.notes` (MOF verifies from the header and returns the items). A BAN that
fails the checksum is a note too, never a refusal.

The item stream is `name:quantity:unit price` triples joined by `:`, maybe followed by free
supplementary text. The left code carries a prefix of the stream and the right code the rest, cut
anywhere (the spec ends the left with `:`; many printers do not and start the right with `**:`).
With Base64 the stream's bytes are Base64-encoded, either per code or once for the whole text and
split between the codes; both are accepted. Only in Base64 form may item names contain `:`.
Text input (not bytes) whose item area is already Unicode is accepted whatever the flag says.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import IntEnum

from flows.einvoice.ban import NO_BUYER_BAN, is_valid_ban
from flows.einvoice.codes import validate_invoice_number, validate_random_code
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceCode, InvoiceSource, Item, Note
from flows.einvoice.roc import date_to_roc, gregorian_date, period_of, roc_to_date

__all__ = [
    "CUSTOM_AREA",
    "HEADER_LENGTH",
    "PREFIX_LENGTH",
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

PREFIX_LENGTH = 53  # invoice number … seller BAN: always at these positions (54 with an 8-digit date)
HEADER_LENGTH = 77  # the spec's header: the prefix and a 24-character verification field
ENCRYPT_LENGTH = 24
CUSTOM_AREA = "*" * 10
RIGHT_PREFIX = b"**"
MAX_PAYLOAD = 8192  # a QR code holds at most 2953 bytes; anything longer is not one
MAX_ITEMS = 9999
B2B_RANDOM_CODE = "    "

_HEX8 = re.compile(r"[0-9A-Fa-f]{8}")
_DIGITS8 = re.compile(r"[0-9]{8}")
_ENCRYPT = re.compile(r"[A-Za-z0-9+/=]{24}")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\s]*")
_COUNT = re.compile(r"[0-9]{1,4}")
_NUMBER = re.compile(r"[-+]?[0-9]{1,12}(\.[0-9]{0,8})?|[-+]?\.[0-9]{1,8}")
_BIG5 = "cp950"  # Big5 as POS systems print it (Microsoft's superset)
_DP_BUDGET = 2_000_000
_PAD = b" \t\r\n\x00"


class ItemEncoding(IntEnum):
    """How the item names (the item stream) are encoded."""

    BIG5 = 0
    UTF8 = 1
    BASE64 = 2


@dataclass(frozen=True)
class LeftQr:
    """A parsed left code: the header as an InvoiceCode (no items yet) and the item metadata.

    `item_data` is the left share of the item stream, raw; `text_input` says the code was given
    as text (its item share is already Unicode, encoded here as UTF-8). `notes` are the reasons
    anything after the prefix was not used (they end up in `InvoiceCode.notes`).
    """

    header: InvoiceCode
    custom_area: str | None = None
    items_in_codes: int = 0
    items_total: int = 0
    encoding: ItemEncoding | None = None
    item_data: bytes = b""
    text_input: bool = False
    notes: tuple[Note, ...] = ()

    @property
    def has_item_fields(self) -> bool:
        return self.encoding is not None


@dataclass(frozen=True)
class RightQr:
    """A parsed right code: its share of the item stream, raw (`text_input` as in LeftQr)."""

    item_data: bytes
    text_input: bool = False


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
    """A right code starts with `**` (after any padding)."""
    return payload.lstrip(_PAD).startswith(RIGHT_PREFIX)


def is_left_payload(payload: bytes) -> bool:
    """Cheap shape test (full validation is `parse_left_qr`)."""
    return len(payload.strip(_PAD)) >= PREFIX_LENGTH and not is_right_payload(payload)


# --- parsing --------------------------------------------------------------------------------


def _parse_prefix(raw: bytes, notes: list[Note]) -> tuple[InvoiceCode, int]:
    """The fixed prefix (53 characters, 54 with an 8-digit date): the only part of a code that
    can refuse it. Returns the header and where the prefix ends.

    The date is ROC yyyMMdd (the spec) or, as some printers write it, a Gregorian yyyyMMdd from
    2000–2099 (whose ROC reading would be a year after 2110), which shifts the rest by one; the
    8-digit reading is used only when the whole shifted prefix reads.
    """
    try:
        text = raw[:PREFIX_LENGTH].decode("ascii")
    except UnicodeDecodeError:
        raise InvoiceCodeError("header", f"the first {PREFIX_LENGTH} characters must be ASCII") from None
    number = validate_invoice_number(text[0:10])
    day = gregorian_date(raw[10:18].decode("ascii", "replace"))
    if day is not None and len(raw) > PREFIX_LENGTH and raw[PREFIX_LENGTH : PREFIX_LENGTH + 1].isascii():
        shifted: list[Note] = [Note("date_gregorian", f"date: {raw[10:18].decode()} is a Gregorian yyyyMMdd date "
                                                      f"(the spec has ROC yyyMMdd); read as {day.isoformat()}")]
        try:
            header = _prefix_fields(raw[18 : PREFIX_LENGTH + 1].decode("ascii"), number, day, shifted)
        except InvoiceCodeError:
            pass  # not a date after all: the ROC reading decides
        else:
            notes.extend(shifted)
            return header, PREFIX_LENGTH + 1
    day = roc_to_date(text[10:17], field="date")
    return _prefix_fields(text[17:], number, day, notes), PREFIX_LENGTH


def _prefix_fields(text: str, number: str, day: dt.date, notes: list[Note]) -> InvoiceCode:
    """The 36 characters after the date: random code, amounts and BANs."""
    random_text = text[0:4]
    random_code: str | None
    if random_text == B2B_RANDOM_CODE:
        random_code = None
        notes.append(Note("random_code_blank", "random_code: blank (4 spaces, a B2B invoice)"))
    else:
        random_code = validate_random_code(random_text)
    amounts = []
    for name, chunk in (("sales_amount", text[4:12]), ("total_amount", text[12:20])):
        if not _HEX8.fullmatch(chunk):
            raise InvoiceCodeError(name, "must be 8 hexadecimal digits")
        amounts.append(int(chunk, 16))
    bans = []
    for name, chunk in (("buyer_ban", text[20:28]), ("seller_ban", text[28:36])):
        if not _DIGITS8.fullmatch(chunk):
            raise InvoiceCodeError(name, "must be 8 digits")
        if not is_valid_ban(chunk) and not (name == "buyer_ban" and chunk == NO_BUYER_BAN):
            notes.append(Note("ban_checksum", f"{name}: {chunk} fails the BAN checksum"))
        bans.append(chunk)
    return InvoiceCode(
        invoice_number=number,
        date=day,
        random_code=random_code,
        source=InvoiceSource.PHOTO,
        period=period_of(day),
        sales_amount=amounts[0],
        total_amount=amounts[1],
        buyer_ban=bans[0],
        seller_ban=bans[1],
    )


def _count(chunk: bytes) -> int | None:
    text = chunk.strip(_PAD).decode("ascii", "replace")
    return int(text) if _COUNT.fullmatch(text) else None


def _flag(chunk: bytes) -> ItemEncoding | None:
    text = chunk.strip(_PAD).decode("ascii", "replace")
    return ItemEncoding(int(text)) if text in ("0", "1", "2") else None


def _meta_index(parts: list[bytes]) -> int | None:
    """The index of 'items in codes' among the `:`-separated parts after the prefix: the first
    place where two counts are followed by an encoding flag."""
    for index in range(1, len(parts) - 2):
        if _count(parts[index]) is not None and _count(parts[index + 1]) is not None and _flag(parts[index + 2]) is not None:
            return index
    return None


def _split_verification(field: bytes) -> tuple[bytes, bytes]:
    """A verification field with the self-use area glued on (no ':' between them): the
    verification field is Base64, so it ends where the first other character starts."""
    match = re.match(rb"[A-Za-z0-9+/=]*", field)
    end = match.end() if match else 0
    return field[:end], field[end:]


def parse_left_qr(payload: bytes | str) -> LeftQr:
    """Parse a left code from its raw bytes (zxing-cpp `Barcode.bytes`) or text.

    Raises InvoiceCodeError only for the 53-character prefix (and for input that cannot be a
    left code at all). Everything after it is best effort, with reasons in `notes`.
    """
    text_input = isinstance(payload, str)
    raw = _as_bytes(payload, "left_qr")
    if len(raw) > MAX_PAYLOAD:
        raise InvoiceCodeError("left_qr", "is too long to be a QR code")
    raw = raw.strip(_PAD).removeprefix(b"\xef\xbb\xbf")
    if is_right_payload(raw):
        raise InvoiceCodeError("left_qr", "starts with ** (that is the right code)")
    if len(raw) < PREFIX_LENGTH:
        raise InvoiceCodeError("left_qr", f"must be at least {PREFIX_LENGTH} characters, got {len(raw)}")
    notes: list[Note] = []
    header, end = _parse_prefix(raw, notes)
    parts = raw[end:].split(b":")
    meta = _meta_index(parts)
    verification, glued = _split_verification(parts[0].strip(_PAD))
    custom = glued if meta is None or meta == 1 else b":".join([glued, *parts[1:meta]] if glued else parts[1:meta])
    encrypt: str | None = verification.decode("ascii")
    if not _ENCRYPT.fullmatch(encrypt):
        if encrypt:
            notes.append(Note("encrypt_length", f"encrypt: the verification field has {len(encrypt)} characters, "
                                                "not 24 (verify without it)"))
        elif parts[0].strip(_PAD + b"*"):
            notes.append(Note("encrypt_not_base64", "encrypt: the verification field is not Base64 (verify without it)"))
        else:
            notes.append(Note("encrypt_missing", "encrypt: no verification field"))
        encrypt = None
    header = replace(header, encrypt=encrypt)
    custom_text = custom.decode("ascii", "replace") if custom else None
    if meta is None:
        leftover = b":".join(parts[1:]) if len(parts) > 1 else glued
        if leftover.strip(_PAD + b"*"):
            notes.append(Note("items_no_counts", "items: no item counts and encoding after the header"))
        return LeftQr(header=header, custom_area=custom_text, text_input=text_input, notes=tuple(notes))
    in_codes, total = _count(parts[meta]), _count(parts[meta + 1])
    encoding = _flag(parts[meta + 2])
    assert in_codes is not None and total is not None and encoding is not None
    if in_codes > total:
        notes.append(Note("items_in_codes_over_total",
                          f"items_in_codes: {in_codes} is more than the {total} items on the invoice"))
    return LeftQr(
        header=header,
        custom_area=custom_text,
        items_in_codes=in_codes,
        items_total=total,
        encoding=encoding,
        item_data=b":".join(parts[meta + 3 :]),
        text_input=text_input,
        notes=tuple(notes),
    )


def parse_right_qr(payload: bytes | str) -> RightQr:
    """Parse a right code: `**` followed by its share of the item stream (padding dropped)."""
    text_input = isinstance(payload, str)
    raw = _as_bytes(payload, "right_qr")
    if len(raw) > MAX_PAYLOAD:
        raise InvoiceCodeError("right_qr", "is too long to be a QR code")
    raw = raw.strip(_PAD).removeprefix(b"\xef\xbb\xbf")
    if not raw.startswith(RIGHT_PREFIX):
        raise InvoiceCodeError("right_qr", "must start with **")
    return RightQr(item_data=raw[len(RIGHT_PREFIX) :].rstrip(_PAD), text_input=text_input)


def _b64decode(text: bytes, field: str) -> bytes:
    cleaned = b"".join(text.split()).strip(b":")
    try:
        return binascii.a2b_base64(cleaned, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvoiceCodeError(field, "is not valid Base64") from None


_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def _big5_misread(text: str) -> str | None:
    """Big5 item text that a scanner turned into other characters before it reached us: read as
    Shift_JIS (iOS: half-width katakana such as `､E､GｵLｹ]`) or as ISO-8859-1 (zxing's default:
    `¤E¤G`). The original bytes are recovered and read as Big5; None when that is not the case."""
    if _HALFWIDTH_KANA.search(text):
        codec = "cp932"
    elif any(0x80 <= ord(char) <= 0xFF for char in text) and all(ord(char) <= 0xFF for char in text):
        codec = "latin-1"
    else:
        return None
    try:
        return text.encode(codec).decode(_BIG5)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def _decode_text(data: bytes, encoding: ItemEncoding, *, partial: bool = False, text_input: bool = False,
                 notes: list[Note] | None = None) -> str:
    """Item bytes to text as the flag says. Text input is already Unicode (as UTF-8 here); under
    the Big5 flag, text a scanner misread (see `_big5_misread`) is read again as Big5."""
    errors = "ignore" if partial else "strict"
    if encoding is ItemEncoding.BIG5 and not text_input:
        try:
            return data.decode(_BIG5, errors)
        except UnicodeDecodeError:
            raise InvoiceCodeError("items", "item names are not valid Big5") from None
    try:
        text = data.decode("utf-8", errors)
    except UnicodeDecodeError:
        if encoding is ItemEncoding.BASE64:
            try:  # some issuers Base64-encode Big5 bytes
                return data.decode(_BIG5)
            except UnicodeDecodeError:
                pass
        raise InvoiceCodeError("items", "item names are not valid UTF-8") from None
    if encoding is ItemEncoding.BIG5 and text_input:
        reread = _big5_misread(text)
        if reread is not None:
            if notes is not None:
                notes.append(Note("items_big5_misread", "items: Big5 text that the scanner read as another "
                                                        "charset; read again as Big5"))
            return reread
    return text


def _is_number(token: str) -> bool:
    return bool(_NUMBER.fullmatch(token))


def _is_triple(name: str, quantity: str, price: str) -> bool:
    return bool(name.strip()) and _is_number(quantity.strip()) and _is_number(price.strip())


def _leading_triples(tokens: list[str]) -> list[tuple[str, str, str]]:
    """The whole `name:quantity:price` triples at the start of `tokens`, up to the first token
    that does not fit one."""
    triples = []
    for start in range(0, len(tokens) - 2, 3):
        triple = (tokens[start], tokens[start + 1], tokens[start + 2])
        if not _is_triple(*triple):
            break
        triples.append(triple)
    return triples


def _triples(tokens: list[str], expected: int, colon_names: bool) -> list[tuple[str, str, str]]:
    """Split tokens into `expected` (name, quantity, price) triples; tokens after them are free
    supplementary text.

    Without colon names the first 3 × `expected` tokens are the items. With them (Base64), a
    name may absorb extra tokens: the parse that gives every item a numeric quantity and price
    and uses every token is found by dynamic programming (shortest names first); failing that,
    the first 3 × `expected` tokens.
    """
    extra = len(tokens) - 3 * expected
    if extra < 0:
        raise InvoiceCodeError("items", f"the codes announce {expected} items but hold only {len(tokens) // 3}")
    if extra == 0 or not colon_names:
        return [(tokens[i], tokens[i + 1], tokens[i + 2]) for i in range(0, 3 * expected, 3)]
    if (expected + 1) * (extra + 1) * (extra + 1) > _DP_BUDGET:
        raise InvoiceCodeError("items", "too many ':' in item names to parse")
    numeric = [_is_number(t.strip()) for t in tokens]
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
        return _triples(tokens, expected, colon_names=False)
    result = []
    j = 0
    for k in range(expected):
        start = 3 * k + j
        for absorb in range(extra - j + 1):
            q = start + absorb + 1
            if numeric[q] and numeric[q + 1] and ok[k + 1][j + absorb]:
                result.append((":".join(tokens[start:q]), tokens[q], tokens[q + 1]))
                j += absorb
                break
    return result


def _items_from(triples: list[tuple[str, str, str]], offset: int = 0) -> list[Item]:
    items = []
    for index, (name, quantity, price) in enumerate(triples, start=offset):
        name, quantity, price = name.strip(), quantity.strip(), price.strip()
        if not name:
            raise InvoiceCodeError(f"items[{index}].name", "must not be empty")
        if not _is_number(quantity):
            raise InvoiceCodeError(f"items[{index}].quantity", "must be a number")
        if not _is_number(price):
            raise InvoiceCodeError(f"items[{index}].unit_price", "must be a number")
        items.append(Item(name=name, quantity=Decimal(quantity), unit_price=Decimal(price)))
    return items


def _count_note(expected: int, found: int) -> Note:
    """The note for a stream holding more triples than its count says (all are read)."""
    if expected == 0:
        return Note("items_count_zero", f"items: the codes count 0 items but {found} name:quantity:price "
                                        f"triples follow; all {found} read")
    return Note("items_more_than_counted", f"items: the codes count {expected} items but {found} "
                                           f"name:quantity:price triples follow; all {found} read")


_FREE_TEXT = Note("items_free_text", "items: free text after the announced items (ignored)")


def _joins(left: bytes, right: bytes) -> list[bytes]:
    """Candidate streams from the two shares: as printed, with a doubled ':' at the cut made
    single (spec-form left + `**:` right), and with a ':' restored when neither has it."""
    if not left:
        return [right[1:] if right.startswith(b":") else right]
    if not right:
        return [left]
    if left.endswith(b":") and right.startswith(b":"):
        return [left + right[1:]]
    candidates = [left + right]
    if not left.endswith(b":") and not right.startswith(b":"):
        candidates.append(left + b":" + right)
    return candidates


def _is_base64(share: bytes) -> bool:
    return bool(_BASE64_TEXT.fullmatch(share.strip(b":")))


def _stream_candidates(left: LeftQr, right: RightQr) -> list[tuple[bytes, ItemEncoding]]:
    """Candidate item streams (bytes and how to read them) from both shares."""
    left_data, right_data = left.item_data.strip(_PAD), right.item_data
    encoding = left.encoding
    assert encoding is not None
    if encoding is ItemEncoding.BASE64 and _is_base64(left_data) and _is_base64(right_data):
        left_b64 = b"".join(left_data.split()).strip(b":")
        right_b64 = b"".join(right_data.split()).strip(b":")
        candidates: list[bytes] = []
        if left_b64.endswith(b"=") or (len(left_b64) % 4 == 0 and right_b64.endswith(b"=")):
            try:  # each code's share encoded on its own
                candidates.append(_b64decode(left_b64, "items") + _b64decode(right_b64, "items"))
            except InvoiceCodeError:
                pass
        try:  # one text split across the codes
            candidates.append(_b64decode(left_b64 + right_b64, "items"))
        except InvoiceCodeError:
            pass
        if not candidates:
            raise InvoiceCodeError("items", "is not valid Base64")
        return [(data, encoding) for data in candidates]
    if encoding is ItemEncoding.BASE64:  # plain text under a Base64 flag (payment providers do it)
        encoding = ItemEncoding.UTF8
    return [(data, encoding) for data in _joins(left_data, right_data)]


def _as_text_shares(left: LeftQr, right: RightQr) -> tuple[LeftQr, RightQr]:
    """One code given as raw bytes and the other as text: the bytes share is read as its flag
    says, so both shares are text (a Big5 left code's bytes beside a typed right code)."""
    assert left.encoding is not None
    if left.text_input:
        data = _decode_text(right.item_data, left.encoding).encode("utf-8")
        return left, replace(right, item_data=data, text_input=True)
    data = _decode_text(left.item_data.strip(_PAD), left.encoding).encode("utf-8")
    return replace(left, item_data=data, text_input=True), right


def _stream_items(text: str, expected: int, colon_names: bool) -> tuple[list[Item], list[Note]]:
    """Every item of a whole stream: the `expected` announced ones and any further whole
    `name:quantity:price` triples (printers that count 0, or fewer than they print), with
    notes for those and for free text after the items."""
    tokens = text.split(":")
    if tokens and tokens[-1].strip() == "":
        tokens = tokens[:-1]
    if len(tokens) > 3 * expected:
        leading = _leading_triples(tokens)
        if len(leading) > expected and (not colon_names or 3 * len(leading) == len(tokens)):
            notes = [_count_note(expected, len(leading))]
            if any(token.strip() for token in tokens[3 * len(leading) :]):
                notes.append(_FREE_TEXT)
            return _items_from(leading), notes
    if expected == 0:
        return [], [_FREE_TEXT] if any(token.strip() for token in tokens) else []
    triples = _triples(tokens, expected, colon_names)
    used = sum(len(name.split(":")) for name, _q, _p in triples) + 2 * len(triples)
    return _items_from(triples), [_FREE_TEXT] if len(tokens) > used else []


def _complete(left: LeftQr, found: int) -> bool:
    """Every item on the invoice is here: as many as the invoice's count, and either the counts
    agree or more triples than counted were found."""
    return found >= left.items_total and (left.items_in_codes == left.items_total or found > left.items_in_codes)


def _left_only(left: LeftQr) -> tuple[tuple[Item, ...], bool, list[Note]]:
    """Items from the left code alone: those whose fields are all followed by ':' (the last
    one may continue in the right code), or all of them when the left holds every announced
    item and more text follows."""
    expected = left.items_in_codes
    data = left.item_data.strip(_PAD)
    encoding = left.encoding
    assert encoding is not None
    notes: list[Note] = []
    if encoding is ItemEncoding.BASE64 and _is_base64(data):
        try:
            text = _decode_text(_b64decode(data, "items"), encoding)
        except InvoiceCodeError:
            return (), False, [Note("items_right_missing", "items: the right code is missing and the left share "
                                                           "alone is not whole Base64")]
        try:
            items, notes = _stream_items(text, expected, colon_names=True)
        except InvoiceCodeError:
            return (), False, [Note("items_right_missing", "items: the right code is missing (names may hold ':', "
                                                           "so a cut list is not split)")]
        return tuple(items), _complete(left, len(items)) and not (expected == 0 and items), notes
    if encoding is ItemEncoding.BASE64:
        encoding = ItemEncoding.UTF8
    text = _decode_text(data, encoding, partial=True, text_input=left.text_input, notes=notes)
    tokens = text.split(":")
    complete_tokens = tokens[:-1]  # the last field may be cut
    items: list[Item] = []
    for index in range(min(len(complete_tokens) // 3, expected)):
        try:
            items.extend(_items_from([tuple(complete_tokens[3 * index : 3 * index + 3])], index))  # type: ignore[list-item]
        except InvoiceCodeError as error:
            return tuple(items), False, [*notes, Note("items_unread", f"items: {error}")]
    if len(items) < expected:
        if len(items) == expected - 1 and len(tokens) == 3 * expected and tokens[-1].strip():
            try:  # every announced field is here; only the last price could go on in the right code
                items.extend(_items_from([tuple(tokens[-3:])], len(items)))  # type: ignore[list-item]
            except InvoiceCodeError as error:
                return tuple(items), False, [*notes, Note("items_unread", f"items: {error}")]
            return tuple(items), False, [*notes, Note("items_last_price_cut", "items: the right code is missing, "
                                                                              "so the last price may be cut")]
        return tuple(items), False, [*notes, Note("items_right_missing", "items: the right code is missing")]
    rest = tokens[3 * expected :]
    more = _leading_triples(rest[:-1])  # further whole triples, each followed by ':'
    cut = len(rest) == 3 * len(more) + 3 and _is_triple(*rest[-3:])  # one more, its price maybe cut
    extra = _items_from([*more, *([tuple(rest[-3:])] if cut else [])], len(items))  # type: ignore[list-item]
    if extra:
        items.extend(extra)
        notes.append(_count_note(expected, len(items)))
    if cut:
        notes.append(Note("items_last_price_cut", "items: the right code is missing, so the last price may be cut"))
        return tuple(items), False, notes
    if any(token.strip() for token in rest[3 * len(more) :]):
        notes.append(_FREE_TEXT)
    # with a count of 0 the left code cannot say how many items the right one would hold
    complete = _complete(left, len(items)) and not (expected == 0 and items)
    if not complete:
        notes.append(Note("items_right_missing", "items: the right code is missing"))
    return tuple(items), complete, notes


def _normalise_names(items: tuple[Item, ...]) -> tuple[tuple[Item, ...], list[Note]]:
    """Item names with line breaks (CR/LF: printers wrap long names) as one line: the pieces
    are joined directly, with a space only between two Latin letters or digits."""
    changed = []
    result = []
    for item in items:
        if "\r" not in item.name and "\n" not in item.name:
            result.append(item)
            continue
        pieces = [piece for piece in _LINE_BREAKS.split(item.name) if piece]
        name = pieces[0] if pieces else ""
        for piece in pieces[1:]:
            glue = " " if (name[-1].isascii() and name[-1].isalnum() and piece[0].isascii() and piece[0].isalnum()) else ""
            name += glue + piece
        changed.append(name)
        result.append(replace(item, name=name))
    if not changed:
        return items, []
    return tuple(result), [Note("item_name_line_break", "items: line breaks in item names joined: "
                                                        + ", ".join(changed))]


def parse_items(left: LeftQr, right: RightQr | None) -> tuple[tuple[Item, ...], bool]:
    """The items the codes carry and whether that is every item on the invoice (strict: raises
    InvoiceCodeError when the item area cannot be read).

    Free text after the items is ignored. Without the right code see `_left_only`.
    """
    items, complete, _notes = _parse_items(left, right)
    return items, complete


def _parse_items(left: LeftQr, right: RightQr | None) -> tuple[tuple[Item, ...], bool, list[Note]]:
    if not left.has_item_fields or left.encoding is None:
        return (), False, []
    if right is None:
        items, complete, notes = _left_only(left)
    else:
        items, complete, notes = _both_codes(left, right)
    items, name_notes = _normalise_names(items)
    return items, complete, [*notes, *name_notes]


def _both_codes(left: LeftQr, right: RightQr) -> tuple[tuple[Item, ...], bool, list[Note]]:
    if left.text_input != right.text_input and left.encoding is not ItemEncoding.BASE64:
        left, right = _as_text_shares(left, right)
    text_input = left.text_input or right.text_input
    first_error: InvoiceCodeError | None = None
    for data, encoding in _stream_candidates(left, right):
        notes: list[Note] = []
        try:
            text = _decode_text(data, encoding, text_input=text_input and encoding is not ItemEncoding.BASE64,
                                notes=notes)
            items, stream_notes = _stream_items(text, left.items_in_codes, colon_names=encoding is ItemEncoding.BASE64)
        except InvoiceCodeError as error:
            first_error = first_error or error
            continue
        return tuple(items), _complete(left, len(items)), [*notes, *stream_notes]
    assert first_error is not None
    raise first_error


def combine(left: LeftQr, right: RightQr | None, *, strict: bool = False) -> InvoiceCode:
    """One InvoiceCode from a left code and maybe a right code.

    Not strict: an item area that does not parse leaves the header with no items,
    `items_complete` False and the reason in `notes` (items then come from MOF). Strict: it
    raises InvoiceCodeError.
    """
    notes = list(left.notes)
    try:
        items, complete, item_notes = _parse_items(left, right)
    except InvoiceCodeError as error:
        if strict:
            raise
        items, complete, item_notes = (), False, [Note("items_unread", f"items unread (header only): {error}")]
    notes.extend(item_notes)
    return replace(left.header, items=items, items_complete=complete, notes=tuple(notes))


def parse_qr_pair(
    left: bytes | str, right: bytes | str | None = None, *, strict: bool = False
) -> InvoiceCode:
    """Parse the left code (and the right code when there is one) into one InvoiceCode.

    Only the left code's prefix can make it raise, unless `strict`, when an item area or right
    code that cannot be read raises too; otherwise those leave a header-only code with the
    reason in `notes`.
    """
    parsed_left = parse_left_qr(left)
    parsed_right: RightQr | None = None
    if right is not None:
        try:
            parsed_right = parse_right_qr(right)
        except InvoiceCodeError as error:
            if strict:
                raise
            parsed_left = replace(parsed_left, notes=(*parsed_left.notes,
                                                      Note("right_qr_unread", f"right_qr unread: {error.reason}")))
    return combine(parsed_left, parsed_right, strict=strict)


# --- encoding (tests, the photo simulator) -------------------------------------------------


def _format_number(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _header_text(code: InvoiceCode, gregorian: bool = False) -> str:
    if code.date is None:
        raise InvoiceCodeError("date", "is required to encode a left QR code")
    validate_invoice_number(code.invoice_number)
    random_code = B2B_RANDOM_CODE if code.random_code is None else validate_random_code(code.random_code)
    if gregorian and not 2000 <= code.date.year <= 2099:
        raise InvoiceCodeError("date", "must be in 2000–2099 to encode as yyyyMMdd")
    day = code.date.strftime("%Y%m%d") if gregorian else date_to_roc(code.date)
    parts = [code.invoice_number, day, random_code]
    for name, amount in (("sales_amount", code.sales_amount), ("total_amount", code.total_amount)):
        if amount is None or not 0 <= amount <= 0xFFFFFFFF:
            raise InvoiceCodeError(name, "must be between 0 and 0xFFFFFFFF to encode")
        parts.append(f"{amount:08x}")
    for name, ban in (("buyer_ban", code.buyer_ban or NO_BUYER_BAN), ("seller_ban", code.seller_ban)):
        if not isinstance(ban, str) or not _DIGITS8.fullmatch(ban):
            raise InvoiceCodeError(name, "must be 8 digits to encode")
        parts.append(ban)
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
    items_in_codes: int | None = None,
    gregorian_date: bool = False,
) -> tuple[bytes, bytes]:
    """The left and right code payloads for `code` (inverse of `parse_qr_pair`).

    The item stream is split after `left_items` items (default: half, rounded up), or at byte
    `split_at` of the stream (any position, even inside a name), or — with Base64 and
    `base64_whole` — at character `split_at` of the single Base64 text. As some printers do,
    `items_in_codes` may count fewer items than the codes hold (0 included), and
    `gregorian_date` writes the date as yyyyMMdd.
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
    counted = len(items) if items_in_codes is None else items_in_codes
    if items_in_codes is not None and items_total is None:
        total = counted
    head = f"{_header_text(code, gregorian_date)}:{custom_area}:{counted}:{total}:{int(encoding)}:".encode("ascii")
    return head + left_share, RIGHT_PREFIX + right_share
