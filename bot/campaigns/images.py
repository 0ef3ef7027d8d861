"""A campaign's card image: an uploaded JPEG or PNG checked for LINE (at most 1 MB, decoded with
the decompression-bomb guard on, 888×888 recommended), optionally cropped to a centred square,
re-encoded as JPEG, kept in the photo store and served through signed links (bot.photos)."""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import uuid
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image, ImageOps

from bot.config import Config
from bot.photo_store import CARD_IMAGES, PhotoStore, is_card_image_path
from bot.photos import CARD_LINK_GENERATION, link_key, token
from bot.storage.models import utcnow
from flows.campaigns.settings import RECOMMENDED_IMAGE_SIZE, image_size_advice
from flows.einvoice import photo as _photo_guard  # noqa: F401 - sets Pillow's decompression-bomb cap

MAX_BYTES = 1024 * 1024  # LINE's limit for a flex hero image, before and after re-encoding
MAX_PIXELS = 25_000_000  # refused from the header, before any pixel is decoded
MAX_SIDE = 10_000
JPEG_QUALITIES = (90, 82, 75)  # tried in turn until the file fits MAX_BYTES
FIELD = "image"
# The link in a sent card must outlive the campaign: LINE fetches the hero image whenever a
# user opens the chat (docs/decisions.md, issue 26: images).
CARD_LINK_DAYS = 730
_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}


class CardImageError(ValueError):
    """An upload refused, with a zh-TW message naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CardImage:
    """A stored card image: its photo-store path, its size as stored, and advice (never errors)."""

    path: str
    width: int
    height: int
    warnings: tuple[str, ...]


def _refuse(message: str) -> CardImageError:
    return CardImageError(FIELD, f"圖片：{message}")


def _sniff(data: bytes) -> str:
    kind = next((k for sig, k in _SIGNATURES.items() if data.startswith(sig)), None)
    if kind is None:
        raise _refuse("只接受 JPEG 或 PNG")
    return kind


def _open(data: bytes, kind: str) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=(kind,))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse("尺寸過大，請上傳 888 * 888 px 的圖片") from None
        except Exception:
            raise _refuse("檔案損毀或不是 JPEG / PNG 圖片") from None
        width, height = image.size
        if width < 1 or height < 1:
            raise _refuse("檔案損毀或不是 JPEG / PNG 圖片")
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
            raise _refuse(f"尺寸過大（{width} * {height} px），請上傳 888 * 888 px 的圖片")
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse("尺寸過大，請上傳 888 * 888 px 的圖片") from None
        except MemoryError:
            raise _refuse("尺寸過大，請上傳 888 * 888 px 的圖片") from None
        except Exception:
            raise _refuse("檔案損毀或不是 JPEG / PNG 圖片") from None
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB; a transparent PNG is laid on white (the card's background)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


def centre_square(image: Image.Image) -> Image.Image:
    """The largest centred square of `image`, shrunk to 888×888 when larger."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    target = RECOMMENDED_IMAGE_SIZE[0]
    if side > target:
        square = square.resize(RECOMMENDED_IMAGE_SIZE, Image.Resampling.LANCZOS)
    return square


def _encode(image: Image.Image) -> bytes:
    for quality in JPEG_QUALITIES:
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality, optimize=True)
        if out.tell() <= MAX_BYTES:
            return out.getvalue()
    raise _refuse("重新壓縮後仍超過 1 MB，請縮小圖片後再上傳")


def prepare_card_image(data: bytes, *, crop: bool) -> tuple[bytes, int, int, tuple[str, ...]]:
    """Check and re-encode an upload (blocking): the JPEG bytes, their size and the advice.
    Re-encoding always drops the metadata (a phone photo's GPS position) before it is public."""
    if not data:
        raise _refuse("請選擇檔案")
    if len(data) > MAX_BYTES:
        raise _refuse("檔案大小不可超過 1 MB")
    image = _flatten(_open(data, _sniff(data)))
    if crop:
        image = centre_square(image)
    encoded = _encode(image)
    advice = image_size_advice(*image.size)
    return encoded, image.width, image.height, (advice,) if advice else ()


async def store_card_image(photo_store: PhotoStore, data: bytes, *, crop: bool) -> CardImage:
    """Check, optionally crop, re-encode and keep an uploaded card image; CardImageError when
    refused, PhotoStoreError when the store cannot be reached."""
    encoded, width, height, advice = await asyncio.to_thread(prepare_card_image, data, crop=crop)
    path = f"{CARD_IMAGES}/{uuid.uuid4().hex}.jpg"
    await asyncio.to_thread(photo_store.put, path, encoded)
    return CardImage(path, width, height, advice)


def card_image_link(config: Config, path: str, *, days: int, now: dt.datetime | None = None) -> str:
    """`/campaign-images/<file>?e=…&t=…`: the signed path (no host) of a card image, good for `days`."""
    if not is_card_image_path(path):
        raise ValueError(f"not a card image path: {path!r}")
    expires = int((now or utcnow()).timestamp()) + days * 86400
    return f"/{path}?e={expires}&t={token(link_key(config), path, expires, CARD_LINK_GENERATION)}"


def card_image_url(config: Config, path: str, now: dt.datetime | None = None) -> str:
    """The signed URL a card's hero shows (kept as the campaign's image_url): good for CARD_LINK_DAYS."""
    return config.base_url + card_image_link(config, path, days=CARD_LINK_DAYS, now=now)


def card_image_preview(config: Config, path: str, now: dt.datetime | None = None) -> str:
    """A short-lived same-origin link for the console's preview (PHOTO_LINK_TTL_DAYS)."""
    return card_image_link(config, path, days=config.photo_link_ttl_days, now=now)


def card_image_path(config: Config, url: str | None) -> str | None:
    """The photo-store path of an image_url this service signed (None for any other URL)."""
    if not url or not url.startswith(config.base_url + "/"):
        return None
    path = urlsplit(url).path.lstrip("/")
    return path if is_card_image_path(path) else None


__all__ = ["CARD_LINK_DAYS", "CardImage", "CardImageError", "card_image_link",
           "card_image_path", "card_image_preview", "card_image_url", "centre_square",
           "prepare_card_image", "store_card_image"]
