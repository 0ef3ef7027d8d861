"""Photo links: served only with the right token, only under photos/, with a sniffed type."""
import pytest

from bot.app import create_app
from bot.config import Config
from bot.photos import link_key, photo_linker, token
from bot.storage.models import utcnow

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def config(database_url, tmp_path):
    return Config(database_url=database_url, data_dir=tmp_path, public_base_url="https://bot.example.com")


async def test_a_linked_photo_is_served_and_a_wrong_token_is_not(aiohttp_client, config):
    folder = config.data_dir / "photos" / "7"
    folder.mkdir(parents=True)
    (folder / "a.img").write_bytes(JPEG)
    (folder / "b.img").write_bytes(JPEG)
    link = photo_linker(config, generation=1, now=utcnow())("photos/7/a.img")
    assert link.startswith("https://bot.example.com/photos/7/a.img?e=")
    client = await aiohttp_client(create_app(config))
    query = link.split("?", 1)[1]
    ok = await client.get(f"/photos/7/a.img?{query}")
    assert ok.status == 200 and ok.headers["Content-Type"] == "image/jpeg"
    assert await ok.read() == JPEG
    assert (await client.get(f"/photos/7/b.img?{query}")).status == 404  # a's token opens only a
    assert (await client.get("/photos/7/a.img")).status == 404
    assert (await client.get("/photos/7/a.img?t=" + "0" * 32)).status == 404
    sneaky = "photos/7/../../.photo-link-key"
    expires = int(utcnow().timestamp()) + 60
    sneaky_token = token(link_key(config), sneaky, expires, 1)
    assert (await client.get(f"/{sneaky}?e={expires}&t={sneaky_token}")).status == 404


def test_the_key_persists_beside_the_photos_unless_app_secret_is_set(tmp_path):
    first = link_key(Config(data_dir=tmp_path))
    assert link_key(Config(data_dir=tmp_path)) == first
    assert (tmp_path / ".photo-link-key").stat().st_mode & 0o777 == 0o600
    secret = link_key(Config(data_dir=tmp_path, app_secret="s3cret-value"))
    assert secret != first and secret == link_key(Config(data_dir=tmp_path / "x", app_secret="s3cret-value"))
