"""Card images: JPEG or PNG only, at most 1 MB, bombs refused, 888×888 advised, an optional
centred crop, kept in the photo store (local and S3) and served through signed, expiring links."""
import datetime as dt
import io
import random
import struct
import zlib

import pytest
from PIL import Image

from bot.app import create_app
from bot.campaigns.images import (
    CARD_LINK_DAYS,
    CardImageError,
    card_image_link,
    card_image_path,
    card_image_preview,
    card_image_url,
    prepare_card_image,
    store_card_image,
)
from bot.config import Config
from bot.photo_migration import migrate_photos
from bot.photo_store import LocalPhotoStore, is_photo_path
from bot.storage.models import utcnow
from tests.photo_store.test_photo_store import store  # noqa: F401 - the local and S3 stores fixture


def encoded(image: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=kind, **options)
    return out.getvalue()


def picture(width: int, height: int, kind: str = "JPEG", colour=(200, 30, 30)) -> bytes:
    return encoded(Image.new("RGB", (width, height), colour), kind)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_bomb(width: int, height: int) -> bytes:
    """A small PNG whose header claims width × height grayscale pixels (zeros compress ~1000:1)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_jpeg_and_png_are_accepted_and_stored_as_jpeg(kind):
    data, width, height, advice = prepare_card_image(picture(888, 888, kind), crop=False)
    assert data.startswith(b"\xff\xd8\xff") and (width, height) == (888, 888) and advice == ()
    assert decoded(data).size == (888, 888)


@pytest.mark.parametrize("data", [
    picture(888, 888, "GIF"), picture(888, 888, "WEBP"), b"name,code\nhello,1\n",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature and nothing readable
], ids=["gif", "webp", "text", "broken-png"])
def test_other_files_are_refused_naming_the_field(data):
    with pytest.raises(CardImageError) as refused:
        prepare_card_image(data, crop=False)
    assert refused.value.field == "image" and refused.value.message.startswith("圖片：")
    assert "JPEG" in refused.value.message


def test_the_type_is_sniffed_from_the_bytes_not_the_name():
    gif = picture(10, 10, "GIF")
    with pytest.raises(CardImageError, match="只接受 JPEG 或 PNG"):
        prepare_card_image(gif, crop=False)


def test_a_file_over_one_megabyte_is_refused():
    noise = Image.frombytes("RGB", (1000, 1000), random.Random(26).randbytes(3_000_000))
    big = encoded(noise, "PNG")
    assert len(big) > 1024 * 1024
    with pytest.raises(CardImageError) as refused:
        prepare_card_image(big, crop=False)
    assert refused.value.message == "圖片：檔案大小不可超過 1 MB"


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    bomb = png_bomb(30_000, 30_000)  # 900 MP in a few kB
    assert len(bomb) < 1024 * 1024
    with pytest.raises(CardImageError, match="尺寸過大"):
        prepare_card_image(bomb, crop=False)


def test_888_square_has_no_warning_and_1200_by_800_has_one():
    assert prepare_card_image(picture(888, 888), crop=False)[3] == ()
    _, width, height, advice = prepare_card_image(picture(1200, 800), crop=False)
    assert (width, height) == (1200, 800)
    assert advice == ("活動圖片建議尺寸為 888 * 888 px（目前為 1200 * 800 px）",)


def test_crop_keeps_the_centred_square_at_888():
    # 1200×800: red left margin, blue centre 800×800, green right margin (200 px each side)
    image = Image.new("RGB", (1200, 800), (255, 0, 0))
    image.paste((0, 0, 255), (200, 0, 1000, 800))
    image.paste((0, 255, 0), (1000, 0, 1200, 800))
    data, width, height, advice = prepare_card_image(encoded(image, "PNG"), crop=True)
    assert (width, height) == (800, 800) and advice == ("活動圖片建議尺寸為 888 * 888 px（目前為 800 * 800 px）",)
    result = decoded(data).convert("RGB")
    for x, y in [(2, 2), (797, 797), (400, 400), (2, 797)]:
        red, green, blue = result.getpixel((x, y))
        assert blue > 200 and red < 60 and green < 60, (x, y, result.getpixel((x, y)))

    tall = Image.new("RGB", (1000, 2000), (255, 0, 0))
    tall.paste((0, 0, 255), (0, 500, 1000, 1500))
    data, width, height, advice = prepare_card_image(encoded(tall, "JPEG", quality=95), crop=True)
    assert (width, height) == (888, 888) and advice == ()
    result = decoded(data).convert("RGB")
    assert all(result.getpixel(p)[2] > 200 and result.getpixel(p)[0] < 60 for p in [(3, 3), (884, 884), (444, 3)])


def test_a_transparent_png_is_flattened_on_white():
    image = Image.new("RGBA", (888, 888), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (0, 0, 444, 888))
    data, *_ = prepare_card_image(encoded(image, "PNG"), crop=False)
    result = decoded(data).convert("RGB")
    assert min(result.getpixel((800, 400))) > 245 and max(result.getpixel((100, 400))) < 10


def test_metadata_is_dropped_and_orientation_applied():
    image = Image.new("RGB", (400, 200), (10, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    exif[0x010F] = "PhoneMaker"
    data, width, height, _ = prepare_card_image(encoded(image, "JPEG", exif=exif.tobytes()), crop=False)
    assert (width, height) == (200, 400)
    assert b"PhoneMaker" not in data and not decoded(data).getexif()


async def test_stored_in_the_photo_store_apart_from_the_photos(store):
    image = await store_card_image(store, picture(1200, 800), crop=False)
    assert image.path.startswith("campaign-images/") and image.path.endswith(".jpg")
    assert (image.width, image.height) == (1200, 800) and len(image.warnings) == 1
    assert decoded(store.get(image.path)).size == (1200, 800)
    assert not is_photo_path(image.path) and image.path not in list(store.paths())
    assert store.delete(image.path) is False  # the privacy purge deletes invoice photos only
    other = await store_card_image(store, picture(888, 888), crop=False)
    assert other.path != image.path
    assert sorted(store.card_image_paths()) == sorted([image.path, other.path])


async def test_moving_stores_copies_the_card_images_too(store, tmp_path):
    image = await store_card_image(store, picture(888, 888), crop=False)
    store.put("photos/1/a.img", b"\xff\xd8\xff" + b"\x00" * 10)
    target = LocalPhotoStore(tmp_path / "target")
    report = migrate_photos(store, target)
    assert (report.total, report.copied, report.failed) == (2, 2, [])
    assert target.get(image.path) == store.get(image.path)


@pytest.fixture
def config(database_url, tmp_path):
    return Config(database_url=database_url, data_dir=tmp_path, public_base_url="https://bot.example.com")


async def test_the_signed_link_serves_the_image_and_refuses_a_tampered_or_expired_one(aiohttp_client, config):
    app = create_app(config)
    client = await aiohttp_client(app)
    image = await store_card_image(LocalPhotoStore(config.data_dir), picture(888, 888), crop=False)
    other = await store_card_image(LocalPhotoStore(config.data_dir), picture(888, 888, colour=(0, 0, 0)),
                                   crop=False)
    url = card_image_url(config, image.path)
    assert url.startswith(f"https://bot.example.com/{image.path}?e=")
    assert card_image_path(config, url) == image.path
    assert card_image_path(config, "https://elsewhere.example/" + image.path) is None
    link = url.removeprefix(config.base_url)
    ok = await client.get(link)
    assert ok.status == 200 and ok.headers["Content-Type"] == "image/jpeg"
    assert await ok.read() == (config.data_dir / image.path).read_bytes()
    expires = int(link.split("e=")[1].split("&")[0])
    assert expires - utcnow().timestamp() > (CARD_LINK_DAYS - 1) * 86400  # lives as long as a card is shown

    query = link.split("?", 1)[1]
    assert (await client.get(f"/{other.path}?{query}")).status == 404  # one image's token opens only it
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert (await client.get(tampered)).status == 404
    later = link.replace(f"e={expires}", f"e={expires + 1}")
    assert (await client.get(later)).status == 404
    assert (await client.get(f"/{image.path}")).status == 404
    expired = card_image_link(config, image.path, days=1, now=utcnow() - dt.timedelta(days=2))
    assert (await client.get(expired)).status == 404
    preview = card_image_preview(config, image.path)
    assert preview.startswith("/campaign-images/") and (await client.get(preview)).status == 200
    # a card image token does not open an invoice photo, nor a path outside campaign-images/
    assert (await client.get(f"/photos/1/{image.path.split('/')[1]}?{query}")).status == 404
    assert (await client.get(f"/campaign-images/..%2F.photo-link-key?{query}")).status == 404
