"""A progressive JPEG bomb sent in the chat (issue 25): refused at its header by the service's
decoder and answered 無法辨識 like any bomb, not decoded into 300 MB."""
import io
from functools import lru_cache

import numpy as np
from PIL import Image

from tests.chat.conftest import KEYWORD

ALICE = "U" + "a" * 32


@lru_cache(maxsize=1)
def _progressive_bomb() -> bytes:
    """0.6 MB, 7070×7070 4:4:4 progressive: libjpeg would buffer 300 MB of coefficients."""
    ramp = np.linspace(0, 255, 7070, dtype=np.float32)
    plane = ((ramp[None, :] + ramp[:, None]) / 2).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(np.stack([plane, plane.T, plane[::-1]], axis=2), "RGB").save(
        out, "JPEG", progressive=True, subsampling=0, quality=30)
    return out.getvalue()


async def test_a_progressive_jpeg_bomb_is_answered_unreadable_without_decoding(make_stack):
    stack = await make_stack()
    assert await stack.say(ALICE, KEYWORD) == 200
    await stack.wait_messages(ALICE, 1)
    assert await stack.photo(ALICE, _progressive_bomb()) == 200
    sent = await stack.wait_messages(ALICE, 2)
    assert sent[1]["kind"] == "reply"
    assert "無法辨識" in sent[1]["messages"][0]["altText"]
    [upload] = await stack.uploads()
    assert upload.status == "unreadable" and upload.photo_path  # kept, as any unreadable photo
    assert "too large to decode" in (upload.reason or "") and "progressive" in upload.reason
