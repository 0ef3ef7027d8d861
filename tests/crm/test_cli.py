"""`admin-cli crm …`: pages add/list (secret from env or hidden prompt, never echoed), contribution
search by processor / page / transaction ID, failed transactions with reasons, outbox status."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from admin_cli.app import app
from bot.backme.sync import sync_order
from bot.simulators import backme as sim
from bot.storage.crm_models import DonationPage
from bot.storage.database import Database
from bot.storage.models import AuditEntry
from flows.backme.payload import parse_order
from tests.conftest import run_sync

SECRET = "cli-secret-4242"


@pytest.fixture
def cli(database_url: str):  # noqa: ANN201
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None):  # noqa: ANN202, A002
        full_env = {"DATABASE_URL": database_url, "BACKME_SECRET": "", "BACKME_STATS_URL": "",
                    "ADMIN_CLI_USER": "crm-admin", **(env or {})}
        return runner.invoke(app, list(args), env=full_env, input=input)

    assert invoke("users", "add", "crm-admin", "--role", "admin").exit_code == 0

    return invoke


def _deliver(database_url: str, page_key: str, *bodies: dict) -> None:
    async def work() -> None:
        db = Database(database_url)
        try:
            async with db.session() as session:
                page_id = (await session.execute(select(DonationPage.id).where(DonationPage.key == page_key))).scalar_one()
            for body in bodies:
                raw = sim.encode(body)
                await sync_order(db, page_id, parse_order(raw), json.loads(raw), body_sha256=hashlib.sha256(raw).hexdigest())
        finally:
            await db.close()

    run_sync(work())


def _page(database_url: str, key: str) -> DonationPage:
    async def work() -> DonationPage:
        db = Database(database_url)
        try:
            async with db.session() as session:
                return (await session.execute(select(DonationPage).where(DonationPage.key == key))).scalar_one()
        finally:
            await db.close()

    return run_sync(work())


def test_pages_add_from_env_never_echoes_the_secret(cli, database_url, tmp_path):
    mapping = tmp_path / "fields.json"
    mapping.write_text(json.dumps({"衣服尺寸": {"crm_field": "custom_3", "options": {"L": "large"}}}), encoding="utf-8")
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"0": "不要(無抵稅需求/不用寄給我收據)"}), encoding="utf-8")
    result = cli("crm", "pages", "add", "ocean", "--name", "海洋募資", "--financial-type", "捐款",
                 "--receipt-prefix", "OC-", "--e-receipt", "--custom-fields", str(mapping),
                 "--receipt-names", str(names), "--reverse-sync", "--link-name", "挖貝海洋",
                 "--link-url", "https://ocean.backme.tw/projects/1",
                 env={"BACKME_SECRET": SECRET,
                      "BACKME_STATS_URL": "https://ocean.backme.tw/api/projects/1.json?token=tok-abc"})
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output and "tok-abc" not in result.output
    assert "reverse-sync token" in result.output
    page = _page(database_url, "ocean")
    assert page.backme_secret == SECRET
    assert (page.backme_api_base, page.backme_project_id, page.backme_api_token) == (
        "https://ocean.backme.tw", 1, "tok-abc")
    assert page.reverse_sync_token and page.reverse_sync_token in result.output
    assert page.custom_field_mapping["衣服尺寸"]["crm_field"] == "custom_3"
    listing = cli("crm", "pages", "list")
    assert listing.exit_code == 0
    assert "ocean" in listing.output and "海洋募資" in listing.output
    assert SECRET not in listing.output and page.reverse_sync_token not in listing.output


def test_pages_add_prompts_hidden_and_validates(cli, database_url, tmp_path):
    result = cli("crm", "pages", "add", "p2", "--name", "n", "--financial-type", "捐款", input="prompted-secret-1\n")
    assert result.exit_code == 0, result.output
    assert "prompted-secret-1" not in result.output
    assert _page(database_url, "p2").backme_secret == "prompted-secret-1"
    again = cli("crm", "pages", "add", "p2", "--name", "n", "--financial-type", "捐款", env={"BACKME_SECRET": SECRET})
    assert again.exit_code == 1 and "already exists" in again.output
    bad_key = cli("crm", "pages", "add", "Bad Key", "--name", "n", "--financial-type", "x", env={"BACKME_SECRET": SECRET})
    assert bad_key.exit_code == 1 and "key:" in bad_key.output
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"9": "x"}), encoding="utf-8")
    bad_names = cli("crm", "pages", "add", "p3", "--name", "n", "--financial-type", "x",
                    "--receipt-names", str(names), env={"BACKME_SECRET": SECRET})
    assert bad_names.exit_code == 1 and "receipt_option_names.9" in bad_names.output


def test_search_failed_and_outbox(cli, database_url):
    assert cli("crm", "pages", "add", "ocean", "--name", "海洋", "--financial-type", "捐款",
               env={"BACKME_SECRET": SECRET}).exit_code == 0
    assert cli("crm", "pages", "add", "forest", "--name", "森林", "--financial-type", "捐款",
               env={"BACKME_SECRET": SECRET}).exit_code == 0
    _deliver(database_url, "ocean", sim.single_credit_success("OK1"), sim.credit_failed("BAD1", log="餘額不足"))
    _deliver(database_url, "forest", sim.single_credit_success("OK2"))

    def lines(result) -> list[dict]:  # noqa: ANN001
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines() if line.strip()]

    everything = lines(cli("crm", "contributions", "search", "--processor", "挖貝", "--json"))
    assert sorted(r["trade_no"] for r in everything) == ["BAD1", "OK1", "OK2"]
    assert lines(cli("crm", "contributions", "search", "--processor", "綠界", "--json")) == []
    ocean = lines(cli("crm", "contributions", "search", "--page", "ocean", "--json"))
    assert sorted(r["trade_no"] for r in ocean) == ["BAD1", "OK1"]
    [one] = lines(cli("crm", "contributions", "search", "--trade-no", "OK2", "--json"))
    assert (one["page"], one["amount"], one["status_label"]) == ("forest", "500.00", "已完成")
    [failed] = lines(cli("crm", "contributions", "failed", "--json"))
    assert (failed["trade_no"], failed["reason"]) == ("BAD1", "failed: 餘額不足")
    table = cli("crm", "contributions", "failed")
    assert "餘額不足" in table.output
    assert lines(cli("crm", "outbox", "status", "--json")) == [{"queued": 2, "sending": 0, "sent": 0, "failed": 0}]


def test_pages_add_needs_an_editor_role_and_is_audited(cli, database_url):
    assert cli("--as", "crm-admin", "users", "add", "agent", "--role", "客服人員").exit_code == 0
    refused = cli("crm", "pages", "add", "p9", "--name", "n", "--financial-type", "捐款",
                  env={"BACKME_SECRET": SECRET, "ADMIN_CLI_USER": "agent"})
    assert refused.exit_code != 0 and "may not add donation pages" in refused.output
    unknown = cli("crm", "pages", "add", "p9", "--name", "n", "--financial-type", "捐款",
                  env={"BACKME_SECRET": SECRET, "ADMIN_CLI_USER": "nobody"})
    assert unknown.exit_code != 0 and "no admin user named 'nobody'" in unknown.output
    assert cli("crm", "pages", "add", "p9", "--name", "n", "--financial-type", "捐款",
               env={"BACKME_SECRET": SECRET}).exit_code == 0

    async def audit() -> list[str]:
        db = Database(database_url)
        try:
            async with db.session() as s:
                return [a.action for a in await s.scalars(select(AuditEntry))]
        finally:
            await db.close()

    assert run_sync(audit()).count("crm.page.add") == 1
