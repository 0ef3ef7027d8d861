"""The perceptual hash of an uploaded photo: Pillow makes the 9×8 grayscale thumbnail (JPEGs
decoded at a reduced scale, under the photo decoder's size guards), flows.review.photo_hash
does the maths."""
from __future__ import annotations

import logging

from PIL import Image, ImageOps

from flows.einvoice.photo import load_grayscale
from flows.review.photo_hash import HEIGHT, WIDTH, dhash

log = logging.getLogger(__name__)

THUMBNAIL_SOURCE_SIDE = 256  # decode at about this long side first: cheap, and enough for 9×8


def photo_hash(data: bytes) -> int | None:
    """The photo's 64-bit dHash (unsigned), or None when the image cannot be decoded (an
    unreadable photo has no hash; that is not an error of the upload)."""
    try:
        gray = load_grayscale(data, THUMBNAIL_SOURCE_SIDE)
    except Exception as exc:  # noqa: BLE001 - refused or broken images: no hash
        log.info("photo not hashed", extra={"fields": {"error": type(exc).__name__}})
        return None
    # Equalised first: a re-encoded or slightly cropped copy keeps its gradients' signs where
    # exposure and framing moved them a little (measured: crops of 5 % at 6–9 bits, other
    # invoice photos at 15 bits and more).
    thumb = ImageOps.equalize(gray).resize((WIDTH, HEIGHT), Image.Resampling.BOX)
    pixels = list(thumb.tobytes())
    return dhash([pixels[r * WIDTH:(r + 1) * WIDTH] for r in range(HEIGHT)])
