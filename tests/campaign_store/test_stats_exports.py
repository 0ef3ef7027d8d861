"""Statistics, the participant list and the exports on SQLite and PostgreSQL — including the
seed's two sample rows of each export, produced end to end (upload → settle → export bytes)."""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import zipfile
from decimal import Decimal

import pytest

from bot.campaigns.exports import (
    BOM,
    ITEM_COLUMNS,
    PARTICIPANT_COLUMNS,
    ExportFormat,
    ExportKind,
    count_rows,
    export,
    export_items,
    export_participants,
)
from bot.campaigns.settle import settle
from bot.campaigns.stats import campaign_stats, participants
from bot.campaigns.store import Actor, CampaignStore
from flows.campaigns.roles import PermissionDenied, Role
from flows.campaigns.rules import UploadStatus
from flows.einvoice.model import Item
from tests.campaign_store.data import (
    CREATED,
    add_actor,
    add_channel,
    add_customer,
    add_phone,
    add_upload,
    invoice,
    reward,
    settings,
    taipei,
)

PHOTO = "https:omnichat.image1234.invoice"
READER = Actor(None, "客服", Role.SUPPORT_AGENT)  # a read-only role may export


async def make_campaign(db, store, marketer, channel, **kwargs):
    view = await store.create(marketer, settings(channel, **kwargs), CREATED)
    await store.publish(marketer, view.id, CREATED)
    return view.id


async def settle_at(db, upload_id, inv, now):
    async with db.session() as s, s.begin():
        return await settle(s, upload_id, inv, now)


async def export_bytes(db, cid, kind, fmt, **options):
    out = io.BytesIO()
    async with db.session() as s:
        rows = await export(s, cid, kind, fmt, out, actor=READER, **options)
    return rows, out.getvalue()


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM):].decode("utf-8"), newline="")))


def _displayed(attrs: str, text: str) -> str:
    """A date cell (style 4, yyyy/mm/dd) or date-time cell (style 5, yyyy-mm-dd hh:mm) as Excel
    shows it; any other cell's text as stored."""
    style = re.search(r's="(\d+)"', attrs)
    if style is None or style.group(1) not in ("4", "5"):
        return text
    moment = dt.datetime(1899, 12, 30) + dt.timedelta(minutes=round(float(text) * 1440))
    return moment.strftime("%Y/%m/%d") if style.group(1) == "4" else moment.strftime("%Y-%m-%d %H:%M")


def xlsx_rows(data: bytes) -> dict[str, list[list[str]]]:
    """Sheet name → rows of cell texts, read from the XLSX's XML (numbers, inline or shared strings;
    date cells as displayed)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = re.findall(r'<sheet name="([^"]+)"', z.read("xl/workbook.xml").decode())
        shared: list[str] = []
        if "xl/sharedStrings.xml" in z.namelist():
            shared = [re.sub(r"<[^>]+>", "", si) for si in
                      re.findall(r"<si>(.*?)</si>", z.read("xl/sharedStrings.xml").decode(), re.S)]
        sheets = {}
        for index, name in enumerate(names, start=1):
            xml = z.read(f"xl/worksheets/sheet{index}.xml").decode()
            rows = []
            for row_xml in re.findall(r"<row [^>]*>(.*?)</row>", xml, re.S):
                cells = []
                for attrs, body in re.findall(r"<c ([^>]*?)(?:/>|>(.*?)</c>)", row_xml, re.S):
                    value = re.search(r"<v>(.*?)</v>|<t[^>]*>(.*?)</t>", body or "", re.S)
                    text = html.unescape(value.group(1) or value.group(2) or "") if value else ""
                    col = re.search(r'r="([A-Z]+)\d+"', attrs).group(1)
                    position = 0
                    for ch in col:
                        position = position * 26 + ord(ch) - 64
                    while len(cells) < position - 1:
                        cells.append("")
                    cells.append(shared[int(text)] if 't="s"' in attrs else _displayed(attrs, text))
                rows.append(cells)
            sheets[name.replace("&amp;", "&")] = rows
    return sheets


@pytest.fixture
async def seed_world(database):
    """The seed's sample rows: Amy (photo, 通過 tier 1, 測試機器人 / LINEPOINT), Brian (manual,
    通過 tier 1, 測試機器人 / 兌換連結), and Amy's 資格不符 全通路綠茶 invoice in a second channel."""
    db = database
    store = CampaignStore(db)
    marketer = await add_actor(db, "mia", Role.MARKETER)
    channel = await add_channel(db, "全通路官方帳號")
    channel2 = await add_channel(db, "全通路二號店")
    amy = await add_customer(db, channel, "U54da85055da461fbae52372e9a79135a", "Amy")
    brian = await add_customer(db, channel, "Ue433gea85055da461f522e9a7913er336", "Brian")
    amy2 = await add_customer(db, channel2, "U54da85055da461fbae52372e9a79135a", "Amy")
    points = await make_campaign(db, store, marketer, channel, name="紅茶活動", reward_=reward("LINEPOINT"))
    await store.import_coupons(marketer, points, "LP-0001\n", CREATED)
    link = await make_campaign(db, store, marketer, channel, name="兌換活動", reward_=reward(
        "兌換連結", {"kind": "shared_link", "url": "https://brand.example.com/redeem"}))
    green = await make_campaign(db, store, marketer, channel2, name="綠茶活動", threshold=100)
    for campaign, customer, phone in ((points, amy, "886912345678"), (link, brian, "886955666666"),
                                      (green, amy2, "886955666666")):
        await add_phone(db, campaign, customer, phone)

    amy_up = await add_upload(db, points, amy, "AB12312312", uploaded_at=taipei(2023, 9, 2, 18, 0),
                              photo_path=PHOTO)
    await settle_at(db, amy_up, invoice("AB12312312"), taipei(2023, 9, 2, 18, 1))
    green_up = await add_upload(db, green, amy2, "AB56756756", day=dt.date(2023, 9, 2),
                                source="manual", uploaded_at=taipei(2023, 9, 2, 20, 0))
    tea = (Item("全通路綠茶", Decimal(1), Decimal(10), Decimal(10)),)
    result = await settle_at(db, green_up, invoice("AB56756756", day=dt.date(2023, 9, 2),
                                                   total=10, items=tea), taipei(2023, 9, 2, 20, 1))
    assert result.status is UploadStatus.NOT_QUALIFIED
    brian_up = await add_upload(db, link, brian, "AB56756756", day=dt.date(2023, 9, 2),
                                source="manual", uploaded_at=taipei(2023, 9, 1, 1, 0), photo_path=PHOTO)
    await settle_at(db, brian_up, invoice("AB56756756", day=dt.date(2023, 9, 2)),
                    taipei(2023, 9, 1, 18, 1))
    return db, points, link, green


@pytest.mark.parametrize("fmt", list(ExportFormat))
async def test_seed_participant_rows_end_to_end(seed_world, fmt):
    db, points, link, _ = seed_world
    expected = {
        points: ["Amy", "U54da85055da461fbae52372e9a79135a", "886912345678", "AB12312312", "2023/09/01",
                 "拍照上傳", "2023-09-02 18:00", "2023-09-02 18:01", PHOTO, "通過", "1", "測試機器人",
                 "LINEPOINT"],
        link: ["Brian", "Ue433gea85055da461f522e9a7913er336", "886955666666", "AB56756756", "2023/09/02",
               "手動輸入", "2023-09-01 01:00", "2023-09-01 18:01", PHOTO, "通過", "1", "測試機器人",
               "兌換連結"],
    }
    for cid, row in expected.items():
        count, data = await export_bytes(db, cid, ExportKind.PARTICIPANTS, fmt)
        assert count == 1
        rows = csv_rows(data) if fmt is ExportFormat.CSV else xlsx_rows(data)["參加名單"]
        assert rows == [list(PARTICIPANT_COLUMNS), row]


async def test_seed_item_rows_end_to_end_csv(seed_world):
    db, points, _, green = seed_world
    _, data = await export_bytes(db, points, ExportKind.ITEMS, ExportFormat.CSV)
    assert csv_rows(data) == [list(ITEM_COLUMNS), [
        "Amy", "U54da85055da461fbae52372e9a79135a", "886912345678", "AB12312312", "2023/09/01",
        "全通路股份有限公司", "82910724", "全通路紅茶", "1,000", "3", "3,000", "通過"]]
    _, data = await export_bytes(db, green, ExportKind.ITEMS, ExportFormat.CSV)
    assert csv_rows(data)[1] == [
        "Amy", "U54da85055da461fbae52372e9a79135a", "886955666666", "AB56756756", "2023/09/02",
        "全通路股份有限公司", "82910724", "全通路綠茶", "10", "1", "10", "資格不符"]


async def test_seed_item_rows_xlsx_numbers_are_numbers(seed_world):
    db, points, _, _ = seed_world
    _, data = await export_bytes(db, points, ExportKind.ITEMS, ExportFormat.XLSX)
    rows = xlsx_rows(data)["發票明細"]
    assert rows[0] == list(ITEM_COLUMNS)
    assert rows[1] == ["Amy", "U54da85055da461fbae52372e9a79135a", "886912345678", "AB12312312",
                       "2023/09/01", "全通路股份有限公司", "82910724", "全通路紅茶", "1000", "3", "3000", "通過"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "#,##0" in z.read("xl/styles.xml").decode()


@pytest.fixture
async def crafted(database):
    """One campaign: 2 passed, 1 invalid, 3 pending, 1 not qualified, 2 duplicates, 1 unreadable,
    by 5 distinct users (one of whom only has an unreadable photo)."""
    db = database
    store = CampaignStore(db)
    marketer = await add_actor(db, "mia", Role.MARKETER)
    channel = await add_channel(db)
    cid = await make_campaign(db, store, marketer, channel, timing="list_only")
    users = [await add_customer(db, channel, f"U{i}", f"user{i}") for i in range(5)]
    plan = [(0, "passed"), (0, "passed"), (1, "invalid"), (1, "pending"), (2, "pending"),
            (2, "pending"), (3, "not_qualified"), (3, "duplicate"), (0, "duplicate"), (4, "unreadable")]
    ids = []
    for i, (user, status) in enumerate(plan):
        ids.append(await add_upload(db, cid, users[user], f"AB{i:08d}", status=status,
                                    uploaded_at=taipei(2023, 9, 2, 10, i)))
    return db, cid, ids


async def test_stats_numbers(crafted):
    db, cid, _ = crafted
    async with db.session() as s:
        stats = await campaign_stats(s, cid)
    assert (stats.uploads, stats.participants) == (7, 5)
    assert (stats.passed.count, stats.passed.percent) == (2, 28.6)
    assert (stats.invalid.count, stats.invalid.percent) == (1, 14.3)
    assert (stats.pending.count, stats.pending.percent) == (3, 42.9)
    assert (stats.not_qualified.count, stats.not_qualified.percent) == (1, 14.3)
    assert (stats.duplicates, stats.unreadable) == (2, 1)
    async with db.session() as s:
        empty = await campaign_stats(s, cid + 1000)
    assert (empty.uploads, empty.participants, empty.passed.percent) == (0, 0, 0.0)


async def test_participant_list_pages_and_filters(crafted):
    db, cid, ids = crafted
    async with db.session() as s:
        page = await participants(s, cid, limit=3)
        second = await participants(s, cid, limit=3, offset=3)
        pending = await participants(s, cid, status=UploadStatus.PENDING)
        dups = await participants(s, cid, status=UploadStatus.DUPLICATE,
                                  photo_link=lambda p: "https://cdn.example/" + p)
    assert page.total == 7 and [r.upload_id for r in page.rows] == [ids[6], ids[5], ids[4]]
    assert [r.upload_id for r in second.rows] == [ids[3], ids[2], ids[1]]
    assert {r.status for r in pending.rows} == {UploadStatus.PENDING} and pending.total == 3
    assert [r.upload_id for r in dups.rows] == [ids[8], ids[7]]
    row = page.rows[0]
    assert (row.name, row.line_user_id, row.invoice_number, row.source.label) == (
        "user3", "U3", "AB00000006", "拍照上傳")


async def test_participants_export_includes_every_status(crafted):
    db, cid, _ = crafted
    seen = []
    count, data = await export_bytes(db, cid, ExportKind.PARTICIPANTS, ExportFormat.CSV,
                                     progress=seen.append, batch_size=4)
    rows = csv_rows(data)
    assert count == 10 and len(rows) == 11 and seen == [4, 8, 10]
    assert [r[9] for r in rows[1:]] == ["通過", "通過", "無效", "待驗證", "待驗證", "待驗證", "資格不符",
                                        "重複登錄", "重複登錄", "無法辨識"]
    assert rows[-1][3:5] == ["", ""]  # an unreadable photo has no invoice number or date
    assert rows[1][10:] == ["", "", ""]  # rows made without a tier, list-only: no reward module
    async with db.session() as s:
        assert await count_rows(s, cid, ExportKind.PARTICIPANTS) == 10
        assert await count_rows(s, cid, ExportKind.ITEMS) == 0


async def test_xlsx_splits_sheets_past_the_row_limit(crafted, monkeypatch):
    import bot.campaigns.exports as exports_module

    db, cid, _ = crafted
    monkeypatch.setattr(exports_module, "XLSX_MAX_DATA_ROWS", 4)
    out = io.BytesIO()
    async with db.session() as s:
        await export_participants(s, cid, out, ExportFormat.XLSX, actor=READER)
    sheets = xlsx_rows(out.getvalue())
    assert list(sheets) == ["參加名單", "參加名單 2", "參加名單 3"]
    assert [len(rows) - 1 for rows in sheets.values()] == [4, 4, 2]
    assert all(rows[0] == list(PARTICIPANT_COLUMNS) for rows in sheets.values())


async def test_items_export_empty_has_headers(crafted):
    db, cid, _ = crafted
    out = io.BytesIO()
    async with db.session() as s:
        assert await export_items(s, cid, out, ExportFormat.CSV, actor=READER) == 0
    assert out.getvalue() == BOM + ("," .join(ITEM_COLUMNS) + "\r\n").encode()


# --- the fast (SQL-formatted) exports give exactly what Python formatting gives ----------------

def sheet_xml(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")}


@pytest.fixture
async def hostile_world(database):
    """Every awkward value an export meets: missing names and phones, markup and control
    characters, surrounding spaces, emoji, unknown codes, pre-1980 times (Taiwan had DST in
    1979), a time 1 µs before the next minute, tiers past a thousand, fractional and huge
    amounts, negative and zero numbers."""
    from sqlalchemy import insert

    from bot.storage.models import InvoiceItem, Reward, Upload

    db = database
    store = CampaignStore(db)
    marketer = await add_actor(db, "mia", Role.MARKETER)
    channel = await add_channel(db)
    cid = await make_campaign(db, store, marketer, channel, timing="list_only")
    names = [None, "a & <b> \"c\"", " lead", "bell\x07\r", "_x0041_", "🎉 全形\u3000", "Amy"]
    customers = [await add_customer(db, channel, f"U{i}", name) for i, name in enumerate(names)]
    for i, customer in enumerate(customers):
        await add_phone(db, cid, customer, None if i % 2 else f"88691234567{i}")
    utc = dt.timezone.utc
    plan = [  # status, source, uploaded_at, verified_at, tier, photo
        ("passed", "photo", dt.datetime(2023, 9, 2, 9, 59, 59, 999_999, tzinfo=utc),
         dt.datetime(2023, 9, 2, 10, 0, tzinfo=utc), 1, "photos/1.jpg"),
        ("not_qualified", "manual", dt.datetime(1979, 7, 15, 12, 0, tzinfo=utc),
         dt.datetime(1975, 1, 1, 0, 30, tzinfo=utc), None, None),
        ("passed", "carrier", dt.datetime(2024, 2, 29, 16, 0, tzinfo=utc), None, 1234, "p <&>.jpg"),
        ("pending", "fax", dt.datetime(2023, 12, 31, 15, 59, 59, tzinfo=utc), None, -5, None),
        ("weird", "photo", dt.datetime(2023, 10, 1, tzinfo=utc), None, None, None),
        ("unreadable", "photo", dt.datetime(2023, 10, 2, tzinfo=utc), None, None, "photos/x.jpg"),
        ("duplicate", "manual", dt.datetime(2023, 10, 3, tzinfo=utc),
         dt.datetime(2023, 10, 3, 0, 1, tzinfo=utc), 2, None),
    ]
    amounts = [Decimal("12.5"), Decimal("0.0001"), Decimal("-3"), Decimal("1234567890.1234"),
               Decimal("1000"), Decimal("0"), Decimal("-0.5"), Decimal("1234.5670")]
    async with db.session() as s, s.begin():
        for i, (status, source, uploaded, verified, tier, photo) in enumerate(plan):
            readable = status != "unreadable"
            upload_id = (await s.execute(insert(Upload).values(
                campaign_id=cid, customer_id=customers[i], source=source, status=status,
                invoice_number=f"AB{i:08d}" if readable else None,
                invoice_date=dt.date(2023, 9, i + 1) if readable else None,
                seller_name=["全通路 & 分店", None, " 空白 "][i % 3] if readable else None,
                seller_ban="82910724" if i % 2 else None, tier=tier, photo_path=photo,
                uploaded_at=uploaded, verified_at=verified).returning(Upload.id))).scalar_one()
            if tier is not None:
                await s.execute(insert(Reward).values(
                    upload_id=upload_id, campaign_id=cid, tier=tier, bot_name=f"機器人<{i}>",
                    module_name="LINE&POINT" if i % 2 else "兌換連結", state="none"))
            for n, amount in enumerate(amounts[i:i + 3]):
                await s.execute(insert(InvoiceItem).values(
                    upload_id=upload_id, row_num=n + 1, name=names[(i + n) % len(names)] or "品項",
                    unit_price=amount, quantity=Decimal(n + 1) / 2, amount=amount * (n + 1)))
    return db, cid


def _cdn(path: str) -> str:
    return "https://cdn.example/" + path


@pytest.mark.parametrize("kind", [ExportKind.PARTICIPANTS, ExportKind.ITEMS])  # 審核名單: Python only
@pytest.mark.parametrize("fmt", list(ExportFormat))
@pytest.mark.parametrize("photo_link", [None, _cdn])
async def test_sql_formatting_matches_python_formatting(hostile_world, kind, fmt, photo_link):
    db, cid = hostile_world
    options = {"photo_link": photo_link} if photo_link else {}
    fast_count, fast = await export_bytes(db, cid, kind, fmt, batch_size=3, **options)
    slow_count, slow = await export_bytes(db, cid, kind, fmt, sql_formatting=False, **options)
    assert fast_count == slow_count == (7 if kind is ExportKind.PARTICIPANTS else 9)
    if fmt is ExportFormat.CSV:
        assert fast == slow
    else:
        assert sheet_xml(fast) == sheet_xml(slow)


async def test_hostile_values_in_the_participant_csv(hostile_world):
    db, cid = hostile_world
    _, data = await export_bytes(db, cid, ExportKind.PARTICIPANTS, ExportFormat.CSV, photo_link=_cdn)
    rows = csv_rows(data)[1:]
    assert rows[0][:2] == ["", "U0"] and rows[0][6:9] == [
        "2023-09-02 17:59", "2023-09-02 18:00", "https://cdn.example/photos/1.jpg"]
    assert rows[1][1:3] == ["U1", ""]
    assert rows[1][6:8] == ["1979-07-15 21:00", "1975-01-01 08:30"]  # DST (UTC+9) in July 1979
    assert rows[2][10:] == ["1,234", "機器人<2>", "兌換連結"]
    assert rows[3][5] == "fax" and rows[3][9] == "待驗證" and rows[3][10] == "-5"
    assert rows[4][9] == "weird" and rows[5][3:5] == ["", ""] and rows[5][9] == "無法辨識"
    assert [r[0] for r in rows[1:4]] == ['a & <b> "c"', " lead", "bell\x07\r"]


async def test_hostile_values_in_the_items_xlsx(hostile_world):
    db, cid = hostile_world
    _, data = await export_bytes(db, cid, ExportKind.ITEMS, ExportFormat.XLSX)
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(data))["發票明細"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == 9  # 3 items of each of the 3 passed / not-qualified uploads
    assert rows[0][:6] == [None, "U0", "886912345670", "AB00000000", dt.datetime(2023, 9, 1), "全通路 & 分店"]
    assert sheet.cell(2, 5).is_date and sheet.cell(2, 5).number_format == "yyyy/mm/dd"
    assert rows[0][8:11] == [12.5, 0.5, 12.5]
    assert rows[4][8:11] == [-3, 1, -6]
    assert rows[5][8:11] == [1234567890.1234, 1.5, 3703703670.3702]
    assert [sheet.cell(2, c).number_format for c in (9, 10, 11)] == ["#,##0.####"] * 3
    assert [sheet.cell(6, c).number_format for c in (9, 10, 11)] == ["#,##0"] * 3


async def test_sql_number_text_matches_format_number(database):
    """The SELECT's number formatting against `format_number` on many values at once."""
    import random

    from sqlalchemy import Integer, Numeric, literal, select

    from bot.campaigns.exports import _SqlText, format_number

    rng = random.Random(7)
    async with database.session() as s:
        dialect = s.get_bind().dialect.name
        sql = _SqlText(dialect)
        integers = [0, 1, -1, 999, 1000, -1000, 2**31 - 1, -(2**31)] + [
            rng.randint(-10**9, 10**9) for _ in range(200)]
        got = (await s.execute(select(*[sql.integer(literal(v, Integer)) for v in integers]))).one()
        assert list(got) == [format_number(v) for v in integers]
        if dialect == "postgresql":
            decimals = [Decimal("0"), Decimal("0.5"), Decimal("-0.5"), Decimal("0.0001"),
                        Decimal("999999999999.9999"), Decimal("-1000"), Decimal("1000.1000")] + [
                Decimal(rng.randint(-10**16, 10**16)).scaleb(-4) for _ in range(300)]
            got = (await s.execute(select(*[sql.decimal(literal(v, Numeric(16, 4)))
                                            for v in decimals]))).one()
            assert list(got) == [format_number(v) for v in decimals]


@pytest.mark.parametrize("sql_formatting", [True, False])
async def test_participant_xlsx_dates_and_times_are_date_cells(hostile_world, sql_formatting):
    """openpyxl reads 開立日期 / 上傳時間 / 驗證時間 as datetimes (Taipei wall time, to the minute),
    formatted like the CSV text; missing values are empty cells."""
    db, cid = hostile_world
    _, data = await export_bytes(db, cid, ExportKind.PARTICIPANTS, ExportFormat.XLSX,
                                 sql_formatting=sql_formatting)
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(data))["參加名單"]
    first = [c for c in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert first[4].value == dt.datetime(2023, 9, 1) and first[4].number_format == "yyyy/mm/dd"
    # 09:59:59.999999 UTC is 17:59 in Taipei (cut, never rounded up to 18:00)
    assert first[6].value == dt.datetime(2023, 9, 2, 17, 59) and first[6].number_format == "yyyy-mm-dd hh:mm"
    assert first[7].value == dt.datetime(2023, 9, 2, 18, 0) and first[7].is_date
    third = [c.value for c in next(sheet.iter_rows(min_row=4, max_row=4))]
    assert third[6] == dt.datetime(2024, 3, 1, 0, 0) and third[7] is None


async def test_csv_cells_that_would_be_formulas_are_neutralised(database):
    """OWASP CSV injection: names (from users), seller and item names (from MOF) starting with
    = + - @ tab or CR get a leading apostrophe; negative amounts stay plain numbers."""
    from sqlalchemy import insert

    from bot.storage.models import InvoiceItem, Upload

    db = database
    store = CampaignStore(db)
    marketer = await add_actor(db, "mia", Role.MARKETER)
    channel = await add_channel(db)
    cid = await make_campaign(db, store, marketer, channel, timing="list_only")
    hostile = ["=HYPERLINK(\"http://evil\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", "Amy"]
    customers = [await add_customer(db, channel, f"U{i}", name) for i, name in enumerate(hostile)]
    await add_phone(db, cid, customers[1], "+886912345678")  # not a form stored today: escaped all the same
    async with db.session() as s, s.begin():
        for i, customer in enumerate(customers):
            upload_id = (await s.execute(insert(Upload).values(
                campaign_id=cid, customer_id=customer, source="manual", status="passed",
                invoice_number=f"AB{i:08d}", invoice_date=dt.date(2023, 9, 1),
                seller_name="=cmd|' /C calc'!A0" if i == 0 else "店",
                uploaded_at=dt.datetime(2023, 9, 2, tzinfo=dt.timezone.utc)).returning(Upload.id))).scalar_one()
            await s.execute(insert(InvoiceItem).values(
                upload_id=upload_id, row_num=1, name="-折扣" if i == 0 else "品項",
                unit_price=Decimal("-50"), quantity=Decimal(1), amount=Decimal("-50")))
    for sql_formatting in (True, False):
        _, data = await export_bytes(db, cid, ExportKind.PARTICIPANTS, ExportFormat.CSV,
                                     sql_formatting=sql_formatting)
        rows = csv_rows(data)[1:]
        assert [r[0] for r in rows] == ["'" + h for h in hostile[:6]] + ["Amy"]
        assert rows[1][2] == "'+886912345678"  # kept as text: Excel would make it a number without the +
        _, data = await export_bytes(db, cid, ExportKind.ITEMS, ExportFormat.CSV,
                                     sql_formatting=sql_formatting)
        items = csv_rows(data)[1:]
        assert items[0][5] == "'=cmd|' /C calc'!A0" and items[0][7] == "'-折扣"
        assert items[0][8:11] == ["-50", "1", "-50"]
    _, data = await export_bytes(db, cid, ExportKind.PARTICIPANTS, ExportFormat.XLSX)
    assert xlsx_rows(data)["參加名單"][1][0] == hostile[0]  # XLSX holds strings, never formulas


@pytest.mark.parametrize("kind", list(ExportKind))
async def test_no_access_exports_nothing(crafted, kind):
    """無權限 gets PermissionDenied before a single byte is written (the CLI and the console share this)."""
    db, cid, _ = crafted
    out = io.BytesIO()
    async with db.session() as s:
        with pytest.raises(PermissionDenied) as info:
            await export(s, cid, kind, ExportFormat.CSV, out, actor=Actor(None, "nobody", Role.NO_ACCESS))
    assert out.getvalue() == b""
    assert "無權限" in str(info.value) and "檢視" in str(info.value)
