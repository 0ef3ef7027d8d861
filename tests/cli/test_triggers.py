"""`admin-cli triggers`: add/list/remove with roles, keyword link and a QR PNG that decodes to it."""
import datetime as dt
from urllib.parse import unquote

import zxingcpp
from PIL import Image

from bot.storage.database import Database
from bot.storage.models import Campaign, Channel
from tests.conftest import run_sync


def _seed_campaign(database_url, basic_id="@brand123"):
    async def work():
        db = Database(database_url)
        try:
            async with db.session() as s, s.begin():
                channel = Channel(name="品牌", basic_id=basic_id, liff_id="1234-abcd")
                s.add(channel)
                await s.flush()
                now = dt.datetime.now(dt.timezone.utc)
                campaign = Campaign(channel_id=channel.id, name="夏日發票登錄", start_at=now,
                                    end_at=now + dt.timedelta(days=30), rules_url="https://example.com/rules")
                s.add(campaign)
                await s.flush()
                return campaign.id
        finally:
            await db.close()

    return run_sync(work())


def test_triggers_lifecycle_link_and_qr(cli, database_url, tmp_path):
    campaign_id = _seed_campaign(database_url)
    cli("users", "add", "boss", "--role", "admin")
    cli("--as", "boss", "users", "add", "sam", "--role", "銷售人員")

    refused = cli("--as", "sam", "triggers", "add", str(campaign_id), "--keyword", "登錄發票")
    assert refused.exit_code == 1 and "may not change triggers" in refused.output

    ok = cli("--as", "boss", "triggers", "add", str(campaign_id), "--keyword", "登錄發票")
    assert ok.exit_code == 0, ok.output
    assert cli("--as", "boss", "triggers", "add", str(campaign_id), "--postback", "invoice:1").exit_code == 0
    clash = cli("--as", "boss", "triggers", "add", str(campaign_id), "--keyword", "登錄發票")
    assert clash.exit_code == 1 and "already triggers" in clash.output
    both = cli("--as", "boss", "triggers", "add", str(campaign_id), "--keyword", "a", "--postback", "b")
    assert both.exit_code == 2
    blank = cli("--as", "boss", "triggers", "add", str(campaign_id), "--keyword", "   ")
    assert blank.exit_code == 1 and "--keyword" in blank.output
    missing = cli("--as", "boss", "triggers", "add", "999", "--keyword", "x")
    assert missing.exit_code == 1 and "no campaign with ID 999" in missing.output

    listing = cli("triggers", "list", "--campaign", str(campaign_id))
    assert "登錄發票" in listing.output and "invoice:1" in listing.output

    link = cli("triggers", "link", str(campaign_id), "登錄發票")
    assert link.exit_code == 0
    url = link.output.strip()
    assert url.startswith("https://line.me/R/oaMessage/%40brand123/?")
    assert unquote(url.split("?", 1)[1]) == "登錄發票"

    png = tmp_path / "qr.png"
    made = cli("triggers", "qr", str(campaign_id), "登錄發票", "-o", str(png))
    assert made.exit_code == 0, made.output
    decoded = zxingcpp.read_barcodes(Image.open(png))
    assert [r.text for r in decoded] == [url]


def test_link_needs_a_basic_id(cli, database_url):
    campaign_id = _seed_campaign(database_url, basic_id=None)
    cli("users", "add", "boss", "--role", "admin")
    cli("--as", "boss", "triggers", "add", str(campaign_id), "--keyword", "發票")
    result = cli("triggers", "link", str(campaign_id), "發票")
    assert result.exit_code == 1 and "basic ID" in result.output
