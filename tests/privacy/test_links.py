"""Photo links expire (PHOTO_LINK_TTL_DAYS) and all die when the link generation is rotated."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from bot.app import create_app
from bot.config import Config, ConfigError
from bot.photos import photo_linker
from bot.privacy.keys import link_generation, rotate_link_generation
from bot.storage.database import Database
from bot.storage.models import utcnow

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def config(database_url, tmp_path):
    folder = tmp_path / "photos" / "7"
    folder.mkdir(parents=True)
    (folder / "a.img").write_bytes(JPEG)
    return Config(database_url=database_url, data_dir=tmp_path, public_base_url="https://bot.example.com",
                  photo_link_ttl_days=7, run_worker=False)


async def _generation(config) -> int:
    db = Database(config.database_url)
    try:
        async with db.session() as s, s.begin():
            return await link_generation(s)
    finally:
        await db.close()


async def test_a_link_works_until_it_expires(aiohttp_client, config):
    made = utcnow()
    link = photo_linker(config, generation=await _generation(config), now=made)("photos/7/a.img")
    query = link.split("?", 1)[1]
    expires = int(query.split("e=")[1].split("&")[0])
    assert expires == int(made.timestamp()) + 7 * 86400
    client = await aiohttp_client(create_app(config))
    assert (await client.get(f"/photos/7/a.img?{query}")).status == 200
    with time_machine.travel(made + dt.timedelta(days=7, seconds=1), tick=False):
        assert (await client.get(f"/photos/7/a.img?{query}")).status == 404
    # the expiry cannot be moved on without the key: the token covers it
    later = query.replace(f"e={expires}", f"e={expires + 86400}")
    assert (await client.get(f"/photos/7/a.img?{later}")).status == 404
    assert (await client.get(f"/photos/7/a.img?{query.replace('e=', 'e=x')}")).status == 404


async def test_rotating_the_generation_revokes_every_link(aiohttp_client, config):
    old = photo_linker(config, generation=await _generation(config), now=utcnow())("photos/7/a.img")
    client = await aiohttp_client(create_app(config))
    path = "/photos/7/a.img?" + old.split("?", 1)[1]
    assert (await client.get(path)).status == 200
    db = Database(config.database_url)
    try:
        async with db.session() as s, s.begin():
            assert await rotate_link_generation(s, utcnow()) == (1, 2)
    finally:
        await db.close()
    assert (await client.get(path)).status == 404
    fresh = photo_linker(config, generation=2, now=utcnow())("photos/7/a.img")
    assert (await client.get("/photos/7/a.img?" + fresh.split("?", 1)[1])).status == 200


def test_link_lifetime_is_configurable():
    assert Config.from_env({}, service=False).photo_link_ttl_days == 7
    assert Config.from_env({"PHOTO_LINK_TTL_DAYS": "2"}, service=False).photo_link_ttl_days == 2
    with pytest.raises(ConfigError, match="PHOTO_LINK_TTL_DAYS"):
        Config.from_env({"PHOTO_LINK_TTL_DAYS": "0"}, service=False)


def test_local_files_delete_only_stored_photos(tmp_path):
    from bot.photo_store import LocalPhotoStore

    (tmp_path / "photos" / "1").mkdir(parents=True)
    (tmp_path / "photos" / "1" / "a.jpg").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("keep")
    files = LocalPhotoStore(tmp_path)
    assert files.delete("photos/1/a.jpg") is True and not (tmp_path / "photos" / "1" / "a.jpg").exists()
    assert files.delete("photos/1/a.jpg") is False  # already gone: not an error
    assert files.delete("photos/../secret.txt") is False and (tmp_path / "secret.txt").exists()
    assert files.delete("https://cdn.example/x.jpg") is False
