"""An export's photo links (發票檔案) work for as long as the campaign keeps its photos — past
PHOTO_LINK_TTL_DAYS — until the retention purge is due, or until `privacy rotate-links`."""
from __future__ import annotations

import csv
import datetime as dt
import io

import time_machine
from sqlalchemy import update

from bot.app import create_app
from bot.campaigns.exports import BOM, ExportFormat, ExportKind, export
from bot.campaigns.store import Actor, CampaignStore
from bot.config import Config
from bot.photos import export_photo_linker, photo_linker
from bot.privacy.keys import link_generation, rotate_link_generation
from bot.privacy.purge import purge_due
from bot.storage.models import Campaign, utcnow
from flows.campaigns.roles import Role
from tests.campaign_store.data import CREATED, add_actor, add_channel, add_customer, add_upload, settings

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def _campaign_with_photo(database, database_url, tmp_path, now: dt.datetime) -> tuple[Config, int]:
    config = Config(database_url=database_url, data_dir=tmp_path, public_base_url="https://bot.example.com",
                    photo_link_ttl_days=7, run_worker=False)
    marketer = await add_actor(database, "mia", Role.MARKETER)
    channel = await add_channel(database)
    view = await CampaignStore(database).create(marketer, settings(channel, timing="list_only"), CREATED)
    async with database.session() as s, s.begin():  # a campaign ending in 30 days (retention: 180)
        await s.execute(update(Campaign).where(Campaign.id == view.id).values(end_at=now + dt.timedelta(days=30)))
    customer = await add_customer(database, channel, "U1", "Amy")
    await add_upload(database, view.id, customer, "AB12345678", status="passed", uploaded_at=now,
                     photo_path=f"photos/{view.id}/a.jpg")
    (tmp_path / "photos" / str(view.id)).mkdir(parents=True)
    (tmp_path / "photos" / str(view.id) / "a.jpg").write_bytes(JPEG)
    return config, view.id


async def _exported_link(database, config: Config, campaign_id: int, now: dt.datetime) -> str:
    out = io.BytesIO()
    async with database.session() as s, s.begin():
        link = await export_photo_linker(s, config, campaign_id, now)
        await export(s, campaign_id, ExportKind.PARTICIPANTS, ExportFormat.CSV, out,
                     actor=Actor(None, "carol", Role.SUPPORT_AGENT), photo_link=link)
    rows = list(csv.reader(io.StringIO(out.getvalue()[len(BOM):].decode("utf-8"))))
    return rows[1][8]


async def test_an_exported_link_works_until_the_purge_is_due(aiohttp_client, database, database_url, tmp_path):
    now = utcnow()
    config, campaign_id = await _campaign_with_photo(database, database_url, tmp_path, now)
    link = await _exported_link(database, config, campaign_id, now)
    assert link.startswith(f"https://bot.example.com/photos/{campaign_id}/a.jpg?e=")
    async with database.session() as s:
        due = await purge_due(s, campaign_id)
    assert due is not None and abs(due - (now + dt.timedelta(days=30 + 180))) < dt.timedelta(minutes=1)
    expires = int(link.split("e=")[1].split("&")[0])
    assert expires == int(due.timestamp())
    path = link.removeprefix("https://bot.example.com")
    client = await aiohttp_client(create_app(config))
    with time_machine.travel(now + dt.timedelta(days=8), tick=False):
        assert (await client.get(path)).status == 200  # a page's link is dead by then
        async with database.session() as s, s.begin():
            page_link = photo_linker(config, generation=await link_generation(s), now=now)(
                f"photos/{campaign_id}/a.jpg")
        assert (await client.get(page_link.removeprefix("https://bot.example.com"))).status == 404
    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        assert (await client.get(path)).status == 404


async def test_rotate_links_revokes_exported_links(aiohttp_client, database, database_url, tmp_path):
    now = utcnow()
    config, campaign_id = await _campaign_with_photo(database, database_url, tmp_path, now)
    path = (await _exported_link(database, config, campaign_id, now)).removeprefix("https://bot.example.com")
    client = await aiohttp_client(create_app(config))
    assert (await client.get(path)).status == 200
    async with database.session() as s, s.begin():
        await rotate_link_generation(s, utcnow())
    assert (await client.get(path)).status == 404


async def test_an_ended_campaign_past_its_retention_still_gets_the_page_lifetime(database, database_url, tmp_path):
    now = utcnow()
    config, campaign_id = await _campaign_with_photo(database, database_url, tmp_path, now)
    with time_machine.travel(now + dt.timedelta(days=400), tick=False):
        later = utcnow()
        link = await _exported_link(database, config, campaign_id, later)
    assert int(link.split("e=")[1].split("&")[0]) == int(later.timestamp()) + 7 * 86400
