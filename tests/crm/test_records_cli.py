"""`admin-cli crm` beyond Backme's own deliveries: donations made elsewhere (add / import, all or
nothing, field-named errors with line numbers), a page's figures adding up from both sides,
receipt options per page, annual receipts and work lists, and contacts search / show."""
from __future__ import annotations

import asyncio
import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from admin_cli.app import app
from bot.backme.reverse import pull_all, split_stats_url
from bot.simulators import backme as sim
from bot.storage.crm_models import Contact, Contribution, DonationPage, EmailOutbox
from bot.storage.models import AdminUser
from tests.crm.conftest import REVERSE_TOKEN


class Cli:
    """admin-cli against the test's database, run in a worker thread (it runs its own loop)."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.runner = CliRunner()

    def __call__(self, *args: str, user: str = "crm-admin"):  # noqa: ANN204
        env = {"DATABASE_URL": self.url, "ADMIN_CLI_USER": user, "BACKME_SECRET": "", "BACKME_STATS_URL": ""}
        return self.runner.invoke(app, list(args), env=env)

    async def run(self, *args: str, user: str = "crm-admin"):  # noqa: ANN201
        return await asyncio.to_thread(self, *args, user=user)


@pytest.fixture
async def cli(crm, database_url):  # noqa: ANN001, ANN201
    async with crm.db.session() as session:  # the acting 管理員 (the app may have made a first user)
        session.add(AdminUser(name="crm-admin", role="admin"))
        await session.commit()
    return Cli(database_url)


def _json_lines(result) -> list:  # noqa: ANN001
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


async def _get_json(crm, path: str, headers: dict | None = None) -> dict:  # noqa: ANN001
    async with crm.http.get(f"{crm.base_url}{path}", headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _page_figures(crm) -> tuple[str, str]:  # noqa: ANN001
    async with crm.http.get(f"{crm.base_url}/backme/demo/page") as response:
        html = await response.text()
    amount = html.split('<span id="amount">')[1].split("<")[0]
    count = html.split('<span id="count">')[1].split("<")[0]
    return amount, count


def _csv_file(tmp_path: Path, rows: list[dict[str, str]], name: str = "donations.csv") -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


async def test_page_figures_add_up_from_both_sides(crm, cli, aiohttp_server, tmp_path):
    # Backme's side: two completed donations, a failed one (not counted anywhere).
    for body in (sim.single_credit_success("BK1", money="1200.0"), sim.single_credit_success("BK2", money="800.0"),
                 sim.credit_failed("BK3")):
        assert (await crm.post(body))[0] == 200
    backme_amount, backme_people = 2000, 2
    project = sim.ProjectStats(id=1234, token="tok-1234", title="海洋計畫", url="https://ocean.backme.tw/projects/1234",
                               money_pledged=backme_amount, backer_count=backme_people, money_goal=100000)
    server = await aiohttp_server(sim.create_backme_stats_app([project]), host="127.0.0.1")
    base, project_id, token = split_stats_url(f"{str(server.make_url('')).rstrip('/')}/api/projects/1234.json?token=tok-1234")
    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(backme_api_base=base, backme_project_id=project_id,
                                                          backme_api_token=token))
        await session.commit()
    assert await pull_all(crm.db, crm.http) == {"demo": "ok"}

    # The CRM side: donations made elsewhere, one by one and from a file; a test entry is not counted.
    added = await cli.run("crm", "contributions", "add", "--page", "demo", "--amount", "3000", "--date", "2024-05-02",
                          "--processor", "銀行轉帳", "--name", "歐陽娜娜", "--email", "nana@example.com",
                          "--receipt-option", "1", "--address", "仁愛路4段1號")
    assert added.exit_code == 0, added.output
    test_entry = await cli.run("crm", "contributions", "add", "--page", "demo", "--amount", "99999",
                               "--date", "2024-05-02", "--processor", "現金", "--name", "測試", "--test")
    assert test_entry.exit_code == 0, test_entry.output
    path = _csv_file(tmp_path, [
        {"page": "demo", "amount": "500", "date": "2024-06-01", "processor": "現金", "name": "張簡大同",
         "email": "", "trade_no": "CASH-1"},
        {"page": "demo", "amount": "1,250.50", "date": "2024-06-02", "processor": "其他表單", "name": "John Smith",
         "email": "john@example.com", "trade_no": "FORM-1"},
    ])
    imported = await cli.run("crm", "contributions", "import", str(path))
    assert imported.exit_code == 0, imported.output
    assert "imported 2 contribution(s)" in imported.output
    offline_amount, offline_people = Decimal("4750.50"), 3

    reverse = await _get_json(crm, f"/backme/demo/stats?token={REVERSE_TOKEN}")
    neticrm = await _get_json(crm, f"/civicrm/contribute/stat?id=demo&token={REVERSE_TOKEN}",
                              headers={"X-CiviCRM-Access-From": "backer"})
    assert reverse == neticrm == {"people": offline_people, "amount": float(offline_amount)}
    amount, count = await _page_figures(crm)
    assert Decimal(amount.replace(",", "")) == backme_amount + offline_amount == Decimal(reverse["amount"]) + project.money_pledged
    assert int(count) == backme_people + offline_people == reverse["people"] + project.backer_count
    async with crm.http.get(f"{crm.base_url}/backme/demo/page") as response:
        assert "本專案與 挖貝海洋計畫 共同募款" in await response.text()
    # The Backme side stored here agrees with what Backme reports.
    stored = [c for c in await crm.rows(Contribution) if c.processor == "挖貝" and c.status == "completed"]
    assert (sum(c.amount for c in stored), len(stored)) == (backme_amount, backme_people)
    [nana] = [c for c in await crm.rows(Contact) if c.first_name == "娜娜"]
    assert nana.last_name == "歐陽"


async def test_import_is_all_or_nothing_with_field_named_errors(crm, cli, tmp_path):
    path = _csv_file(tmp_path, [
        {"page": "demo", "amount": "500", "date": "2024-06-01", "processor": "現金", "name": "王一", "email": "",
         "receipt_option": "", "trade_no": "T-1"},
        {"page": "demo", "amount": "-5", "date": "2024-13-01", "processor": "挖貝", "name": "王二", "email": "nope",
         "receipt_option": "", "trade_no": "T-2"},
        {"page": "demo", "amount": "10", "date": "2024-06-01", "processor": "現金", "name": "", "email": "",
         "receipt_option": "要收據", "trade_no": "T-1"},
        {"page": "demo", "amount": "10", "date": "2999-01-01", "processor": "現金", "name": "王四", "email": "",
         "receipt_option": "電子收據(單次開立)", "trade_no": "T-4"},
    ])
    result = await cli.run("crm", "contributions", "import", str(path))
    assert result.exit_code == 1
    errors = result.output
    for expected in ("line 3: amount:", "line 3: date:", "line 3: processor:", "line 3: email:",
                     "line 4: name: is required", "line 4: receipt_option:", "line 5: date: must not be in the future"):
        assert expected in errors, (expected, errors)
    assert "line 2" not in errors
    assert await crm.count(Contribution) == 0  # nothing stored

    good = _csv_file(tmp_path, [
        {"page": "demo", "amount": "500", "date": "2024-06-01", "processor": "現金", "name": "王一", "trade_no": "T-1"},
        {"page": "nowhere", "amount": "5", "date": "2024-06-01", "processor": "現金", "name": "王二", "trade_no": "T-2"},
    ], "second.csv")
    result = await cli.run("crm", "contributions", "import", str(good))
    assert result.exit_code == 1 and "line 3: page: no donation page 'nowhere'" in result.output
    assert await crm.count(Contribution) == 0
    first = _csv_file(tmp_path, [{"page": "demo", "amount": "500", "date": "2024-06-01", "processor": "現金",
                                  "name": "王一", "trade_no": "T-1"}], "third.csv")
    assert (await cli.run("crm", "contributions", "import", str(first))).exit_code == 0
    again = await cli.run("crm", "contributions", "import", str(first))
    assert again.exit_code == 1 and "line 2: trade_no: 'T-1' is already recorded on page demo" in again.output
    assert await crm.count(Contribution) == 1
    header = tmp_path / "bad-header.csv"
    header.write_text("page,amount\ndemo,5\n", encoding="utf-8")
    bad = await cli.run("crm", "contributions", "import", str(header))
    assert bad.exit_code == 1 and "header lacks column(s) date, processor, name" in bad.output


async def test_add_needs_an_editor(crm, cli):
    assert (await cli.run("users", "add", "agent", "--role", "客服人員")).exit_code == 0
    refused = await cli.run("crm", "contributions", "add", "--page", "demo", "--amount", "5", "--date", "2024-01-02",
                            "--processor", "現金", "--name", "王一", user="agent")
    assert refused.exit_code != 0 and "may not record contributions" in refused.output
    assert await crm.count(Contribution) == 0


async def test_receipt_options_shown_with_seed_defaults_and_editable(crm, cli):
    rows = _json_lines(await cli.run("crm", "pages", "receipt-options", "demo", "--json"))[0]
    assert [(r["value"], r["display_name"]) for r in rows] == [
        ("0", "不要(無抵稅需求/不用寄給我收據)"), ("1", "需要(請寄給我紙本收據)"),
        ("2", "需要(不用寄給我/請幫我在隔年五月上傳至國稅局)"), ("annual_paper_receipt", "年度寄送紙本收據"),
        ("single_e_receipt", "單次寄送電子收據"), ("annual_e_receipt", "年度寄送電子收據")]
    assert rows[1]["label"] == "紙本收據（單次寄送）" and rows[1]["older_label"] == "單次寄送紙本收據"
    edited = await cli.run("crm", "pages", "receipt-options", "demo", "--set", "1=紙本收據,請寄給我", "--json")
    assert _json_lines(edited)[0][1]["display_name"] == "紙本收據,請寄給我"
    assert (await cli.run("crm", "pages", "receipt-options", "demo", "--set", "9=x")).exit_code == 1
    reset = await cli.run("crm", "pages", "receipt-options", "demo", "--reset", "1", "--json")
    assert _json_lines(reset)[0][1]["display_name"] == "需要(請寄給我紙本收據)"
    table = await cli.run("crm", "pages", "receipt-options", "demo")
    assert table.exit_code == 0 and "Backme label" in table.output and "annual_e_receipt"[:10] in table.output


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


async def test_annual_receipts_and_work_lists(crm, cli, tmp_path):
    e_donor = sim.make_user(user_id=501, name="歐陽修", email="ouyang@example.com")
    p_donor = sim.make_user(user_id=502, name="張簡愛", email="jian@example.com")
    bodies = [
        sim.single_credit_success("AE1", money="100.0", user=e_donor,
                                  receipt=sim.make_receipt(option="annual_e_receipt", email="receipts@ouyang.tw",
                                                           contact_name="歐陽修")),
        sim.single_credit_success("AE2", money="300.0", user=e_donor, paid=sim.at(60 * 24 * 30),
                                  receipt=sim.make_receipt(option="annual_e_receipt", older_labels=True,
                                                           email="receipts@ouyang.tw", contact_name="歐陽修")),
        sim.single_credit_success("AP1", money="700.0", user=p_donor,
                                  receipt=sim.make_receipt(option="annual_paper_receipt", contact_name="張簡愛",
                                                           address="光復路10號", postal_code="300",
                                                           subdivision="HSZ", city_area="東區")),
        sim.single_credit_success("SP1", money="200.0",
                                  receipt=sim.make_receipt(option="1", address="中正路1號", postal_code="100",
                                                           subdivision="TPE", city_area="中正區")),
        sim.single_credit_success("TX1", money="400.0",
                                  receipt=sim.make_receipt(option="2", identity_card_number="B234567890")),
    ]
    for body in bodies:
        assert (await crm.post(body))[0] == 200
    before = await crm.count(EmailOutbox)
    paper = tmp_path / "annual.csv"
    result = await cli.run("crm", "receipts", "annual", "2024", "--paper-csv", str(paper))
    assert result.exit_code == 0, result.output
    assert "annual e-receipts queued: 1" in result.output
    [annual] = [o for o in await crm.rows(EmailOutbox) if o.kind == "annual_receipt"]
    assert await crm.count(EmailOutbox) == before + 1
    assert annual.to_address == "receipts@ouyang.tw"
    assert annual.subject == "【海洋保育募資】2024 年度捐款收據"
    assert "AE1" in annual.body and "AE2" in annual.body and "年度合計:NT$ 400(2 筆)" in annual.body
    assert "收據選項:年度寄送電子收據" in annual.body
    [row] = _csv_rows(paper.read_text(encoding="utf-8-sig"))
    assert (row["收據抬頭"], row["郵遞區號"], row["筆數"], row["金額合計"], row["交易編號"]) == ("張簡愛", "300", "1", "700", "AP1")
    assert row["地址"].endswith("東區光復路10號")
    again = await cli.run("crm", "receipts", "annual", "2024", "--paper-csv", str(paper))
    assert "annual e-receipts queued: 0 (already issued before: 1)" in again.output
    assert await crm.count(EmailOutbox) == before + 1  # never e-mailed twice
    assert (await cli.run("crm", "receipts", "annual", "2999")).exit_code == 1

    mail = _csv_rows((await cli.run("crm", "receipts", "paper", "--year", "2024")).output)
    assert [(r["交易編號"], r["郵遞區號"], r["金額"]) for r in mail] == [("SP1", "100", "200")]
    assert mail[0]["地址"].endswith("中正區中正路1號") and mail[0]["收據編號"].startswith("OC-")
    upload = _csv_rows((await cli.run("crm", "receipts", "tax-upload", "2024")).output)
    assert [(r["交易編號"], r["身分證/統一編號"], r["金額"], r["捐贈年度"]) for r in upload] == [
        ("TX1", "B234567890", "400", "2024")]
    assert _csv_rows((await cli.run("crm", "receipts", "tax-upload", "2023")).output) == []


async def test_contacts_search_and_show(crm, cli):
    for d in sim.scenarios()["recipient_and_e_receipt"].deliveries:
        assert (await crm.post(d.body))[0] == 200
    found = _json_lines(await cli.run("crm", "contacts", "search", "王小明", "--json"))
    assert [(c["external_id"], c["last_name"], c["first_name"]) for c in found] == [("backer-270004", "王", "小明")]
    assert [c["first_name"] for c in _json_lines(await cli.run("crm", "contacts", "search", "0933", "--json"))] == ["大媽"]
    assert len(_json_lines(await cli.run("crm", "contacts", "search", "backer-2700", "--json"))) == 1
    assert _json_lines(await cli.run("crm", "contacts", "search", "%", "--json")) == []
    shown = _json_lines(await cli.run("crm", "contacts", "show", "backer-270004", "--json"))[0]
    assert (shown["external_id"], shown["last_name"], shown["first_name"]) == ("backer-270004", "王", "小明")
    assert ("receipts@example.org", "帳單") in [(e["email"], e["location"]) for e in shown["emails"]]
    assert ("xiaoming@example.com", "住家") in [(e["email"], e["location"]) for e in shown["emails"]]
    assert "0912-345678" in [p["phone"] for p in shown["phones"]]
    assert {a["location"] for a in shown["addresses"]} == {"帳單"}
    assert [(r["label"], r["contact_name"]) for r in shown["relations"]] == [("收件者", "張大媽")]
    assert [e["text"] for e in shown["change_log"]] == ["已更新的聯絡人-貝殼自動匯入"]
    assert [(k["trade_no"], k["processor"], k["receipt_option"]) for k in shown["contributions"]] == [
        ("REG1000000000000006", "挖貝", "single_e_receipt")]
    recipient = _json_lines(await cli.run("crm", "contacts", "show", str(shown["relations"][0]["contact_id"]), "--json"))[0]
    assert [r["label"] for r in recipient["relations"]] == ["訂購者"]
    assert {a["location"] for a in recipient["addresses"]} == {"住家"}
    table = await cli.run("crm", "contacts", "show", "backer-270004")
    assert table.exit_code == 0 and "收件者" in table.output and "change log" in table.output
    missing = await cli.run("crm", "contacts", "show", "backer-1")
    assert missing.exit_code == 1 and "no contact 'backer-1'" in missing.output


FORMULA_TITLES = ("=1+1", "@SUM(1,2)", "+1", "-1+2")


async def test_work_lists_write_donor_titles_neutralised(crm, cli, tmp_path):
    """CSV injection: donor-supplied receipt titles that a spreadsheet would read as formulas are
    written with a leading apostrophe by `crm receipts paper`, `tax-upload` and `annual
    --paper-csv`. A tab- or CR-leading title cannot come in through Backme or the import (they
    strip it), so it is set in the database as data from before that validation."""
    options = {"1": "SP", "2": "TX", "annual_paper_receipt": "AP"}
    for option, prefix in options.items():
        for n, title in enumerate(FORMULA_TITLES):
            body = sim.single_credit_success(f"{prefix}{n}", money="100.0", user=sim.make_user(user_id=600 + n),
                                             receipt=sim.make_receipt(option=option, contact_name=title))
            assert (await crm.post(body))[0] == 200
    async with crm.db.session() as session, session.begin():
        await session.execute(update(Contribution).where(Contribution.trade_no.in_(["SP0", "TX0", "AP0"]))
                               .values(receipt_title="\t=1+1"))
        await session.execute(update(Contribution).where(Contribution.trade_no.in_(["SP1", "TX1", "AP1"]))
                               .values(receipt_title="\r@SUM(1,2)"))
    stored = {c.trade_no: c.receipt_title for c in await crm.rows(Contribution)}
    assert len(stored) == 12 and stored["SP2"] == "+1" and stored["TX3"] == "-1+2"

    paper = _csv_rows((await cli.run("crm", "receipts", "paper", "--year", "2024")).output)
    tax = _csv_rows((await cli.run("crm", "receipts", "tax-upload", "2024")).output)
    target = tmp_path / "annual.csv"
    assert (await cli.run("crm", "receipts", "annual", "2024", "--paper-csv", str(target))).exit_code == 0
    with target.open(encoding="utf-8-sig", newline="") as file:  # a CR in a cell stays a CR
        annual = _csv_rows(file.read())
    for rows in (paper, tax, annual):
        assert len(rows) == 4
        assert {r["交易編號"]: r["收據抬頭"] for r in rows} == {
            r["交易編號"]: "'" + stored[r["交易編號"]] for r in rows}


async def test_contacts_search_by_relationship_recipient(crm, cli):
    """進階搜尋-關係-關係類型:收件者: the recipient of a gift order is listed with its buyer and the
    contribution; a buyer whose order ships to himself is not; ``--json`` one object per recipient."""
    for d in sim.scenarios()["recipient_and_e_receipt"].deliveries:
        assert (await crm.post(d.body))[0] == 200
    solo = sim.single_credit_success("REG3000000000000001", money="300.0",
                                     user=sim.make_user(user_id=270099, name="李大同", email="datong@example.com",
                                                        cellphone="+886911222333"))
    assert (await crm.post(solo))[0] == 200
    found = _json_lines(await cli.run("crm", "contacts", "search", "--relationship", "收件者", "--json"))
    assert len(found) == 1
    row = found[0]
    assert set(row) == {"id", "external_id", "last_name", "first_name", "email", "relationship", "label",
                        "related_contact", "contributions"}
    assert (row["last_name"], row["first_name"], row["external_id"]) == ("張", "大媽", None)
    assert (row["relationship"], row["label"]) == ("收件者", "收件者")
    assert row["related_contact"]["external_id"] == "backer-270004"
    assert (row["related_contact"]["name"], row["related_contact"]["label"]) == ("王小明", "訂購者")
    assert [(k["page"], k["trade_no"], k["status"]) for k in row["contributions"]] == [
        ("demo", "REG1000000000000006", "completed")]
    # The buyer-only contact exists (plain search) but is nobody's 收件者.
    assert len(_json_lines(await cli.run("crm", "contacts", "search", "李大同", "--json"))) == 1
    assert "李大同" not in {c["last_name"] + c["first_name"] for c in found}
    # Text narrows the recipients; the buyer's name is not a recipient's.
    assert [c["id"] for c in _json_lines(await cli.run(
        "crm", "contacts", "search", "大媽", "--relationship", "收件者", "--json"))] == [row["id"]]
    assert _json_lines(await cli.run("crm", "contacts", "search", "王小明", "--relationship", "收件者", "--json")) == []
    env = {"DATABASE_URL": cli.url, "ADMIN_CLI_USER": "crm-admin", "COLUMNS": "200"}
    grid = await asyncio.to_thread(cli.runner.invoke, app, ["crm", "contacts", "search", "--relationship", "收件者"],
                                   env=env)
    assert grid.exit_code == 0, grid.output
    assert "大媽" in grid.output and "王小明" in grid.output and "REG1000000000000006" in grid.output
    assert "李大同" not in grid.output
    wrong = await cli.run("crm", "contacts", "search", "--relationship", "朋友")
    assert wrong.exit_code == 1 and "relationship: must be 收件者" in wrong.output
    empty = await cli.run("crm", "contacts", "search")
    assert empty.exit_code == 1 and "text: must not be empty" in empty.output
