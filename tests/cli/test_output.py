"""What admin-cli prints, at 80 columns: display-safe cells, tables that keep their borders, full
photo links on the configured port, `--json` documents, uploads per day (Asia/Taipei) as terminal
bars and as a PNG, and shell completion."""
import datetime as dt
import json
import re

import pytest
import time_machine
from PIL import Image
from rich.cells import cell_len
from rich.console import Console
from sqlalchemy import update

from admin_cli.charts import write_png
from admin_cli.output import add_row, cell, display, json_text, plain, table
from bot.campaigns.stats import DayCounts, uploads_per_day
from bot.storage.models import Customer, Upload
from tests.cli.seed import EXAMPLES, NOW, _run, add_uploads, setup_team

HOSTILE = "發票資訊如下\u2028發票類型：電子發票\n第二行\r\n[bold]粗體[/bold]\x1b[31m紅\x07\t完"


def test_display_escapes_line_breaks_controls_and_markup():
    shown = display(HOSTILE)
    assert "\u2028" not in shown and "\n" not in shown and "\x1b" not in shown and "\x07" not in shown
    assert "\\u" not in shown  # escapes are for --json only (issue 29)
    assert "發票資訊如下⏎發票類型" in shown and "第二行⏎" in shown and "␛[31m紅␇␉完" in shown
    assert "\\[bold]" in shown
    assert plain("a\u2029b\u0085c") == "a⏎b⏎c" and plain("\x7f\x9b\u202eevil") == "␡��evil"
    assert display(None) == "" and display(12) == "12"
    assert cell(["姓名", "U1\nU2"]) == "姓名\nU1⏎U2"  # lines of a cell are ours; a value's newline is not


def test_json_escapes_separators_and_controls_and_stays_the_same_value():
    value = {"name": HOSTILE + "\u202e\x85\x7f"}
    text = json_text(value)
    assert json.loads(text) == value
    assert "\\u2028" in text and "\\u202e" in text and "\\u0085" in text and "\\u007f" in text
    assert "\\u001b" in text and "\\u0007" in text and "\\n" in text
    assert not any(ch in text for ch in "\u2028\u202e\x85\x7f\x1b\x07\n")


@pytest.mark.parametrize("width", [80, 60])
def test_table_with_hostile_text_keeps_its_border(width):
    grid = table("系統訊息", "內容", "按鈕")
    add_row(grid, "重複登錄", HOSTILE * 3, "拍照上傳、手動上傳、電子載具")
    add_row(grid, "[red]x", "https://example.com/" + "a" * 150, None)
    out = Console(width=width, record=True, force_terminal=False)
    out.print(grid)
    lines = out.export_text().splitlines()
    assert {cell_len(line) for line in lines} == {cell_len(lines[0])} and cell_len(lines[0]) <= width
    assert all(line[0] in "┏┃┡│└" and line[-1] in "┓┃┩│┘" for line in lines)
    assert "…" not in "".join(lines)
    assert "a" * 20 in "".join(lines)  # the long URL folds instead of being cut
    assert "[red]x" in "".join(lines)  # shown, not taken as markup


@pytest.fixture
def team(cli):
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        yield cli


def _campaign(cli):
    made = cli("--as", "mia", "campaigns", "create", "-f", str(EXAMPLES / "whole-invoice-amount-tiers.yaml"))
    assert made.exit_code == 0, made.output
    return int(made.output.split()[2])


def _set_upload_times(database_url, times):
    async def work(s):  # noqa: ANN001, ANN202
        for upload_id, moment in times.items():
            await s.execute(update(Upload).where(Upload.id == upload_id).values(uploaded_at=moment))

    _run(database_url, work)


def _border_widths(output):
    return {cell_len(line) for line in output.splitlines() if line[:1] in ("┏", "┃", "│", "└", "┡", "┌")}


def test_participants_print_whole_links_on_the_real_port_and_json(team, database_url):
    campaign_id = _campaign(team)
    add_uploads(database_url, campaign_id, [("Uaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "AB10000001", "passed"),
                                            ("Ubbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "AB10000002", "pending")])

    async def rename(s):  # noqa: ANN001, ANN202
        await s.execute(update(Customer).values(display_name="王小明\u2028[b]x[/b]"))

    _run(database_url, rename)
    shown = team("--as", "sam", "reports", "participants", str(campaign_id), env={"PORT": "9123"})
    assert shown.exit_code == 0, shown.output
    links = re.findall(r"^\[(\d)\] (\S+)$", shown.output, re.M)
    assert [n for n, _ in links] == ["1", "2"]
    assert all(re.fullmatch(rf"http://127\.0\.0\.1:9123/photos/{campaign_id}/\d\.img\?e=\d+&t=[0-9a-f]{{32}}", url)
               for _, url in links), links
    assert "8080" not in shown.output and "…" not in shown.output
    assert "\u2028" not in shown.output and "\\u2028" not in shown.output
    assert "王小明⏎" in shown.output  # a visible line break (and folded at 80 columns)
    assert _border_widths(shown.output) and max(_border_widths(shown.output)) <= 80
    assert len(_border_widths(shown.output)) == 1  # every table line the same width: no broken border

    raw = team("--as", "sam", "reports", "participants", str(campaign_id), "--json",
               env={"PUBLIC_BASE_URL": "https://bot.example.com"}).output
    assert "王小明\\u2028" in raw and "\u2028" not in raw  # the escape, only in JSON
    page = json.loads(raw)
    assert (page["total"], page["pages"], page["per_page"]) == (2, 1, 20)
    first = page["rows"][0]
    assert set(first) == {"upload_id", "name", "line_user_id", "phone", "invoice_number", "invoice_date", "source",
                          "source_label", "uploaded_at", "verified_at", "photo_link", "status", "status_label",
                          "code_notes"}
    assert first["name"] == "王小明\u2028[b]x[/b]"  # full values in JSON
    assert first["photo_link"].startswith(f"https://bot.example.com/photos/{campaign_id}/")
    assert first["invoice_date"] == "2026-11-05" and first["uploaded_at"].endswith("+08:00")


def test_uploads_per_day_in_taipei_chart_json_and_png(team, database_url, tmp_path):
    campaign_id = _campaign(team)
    ids = add_uploads(database_url, campaign_id, [
        ("U01", "AB10000001", "passed"), ("U01", "AB10000002", "invalid"), ("U02", "AB10000003", "passed"),
        ("U02", "AB10000004", "pending"), ("U03", "AB10000005", "not_qualified"), ("U03", "AB10000006", "duplicate")])
    utc = dt.timezone.utc
    _set_upload_times(database_url, {
        ids[0]: dt.datetime(2026, 11, 17, 15, 59, tzinfo=utc),  # 11-17 23:59 Taipei
        ids[1]: dt.datetime(2026, 11, 17, 16, 0, tzinfo=utc),   # 11-18 00:00 Taipei
        ids[2]: dt.datetime(2026, 11, 18, 2, 0, tzinfo=utc),    # 11-18
        ids[3]: dt.datetime(2026, 11, 20, 1, 0, tzinfo=utc),    # 11-20 (11-19: none)
        ids[4]: dt.datetime(2026, 11, 20, 3, 0, tzinfo=utc),
        ids[5]: dt.datetime(2026, 11, 20, 4, 0, tzinfo=utc),    # a duplicate: not counted
    })

    async def query(s):  # noqa: ANN001, ANN202
        return await uploads_per_day(s, campaign_id)

    days = _run(database_url, query)
    assert days == [DayCounts(dt.date(2026, 11, 17), (1, 0, 0, 0)), DayCounts(dt.date(2026, 11, 18), (1, 1, 0, 0)),
                    DayCounts(dt.date(2026, 11, 19), (0, 0, 0, 0)), DayCounts(dt.date(2026, 11, 20), (0, 0, 1, 1))]

    png = tmp_path / "chart.png"
    shown = team("--as", "sam", "reports", "stats", str(campaign_id), "--png", str(png))
    assert shown.exit_code == 0, shown.output
    bars = {m.group(1): m.group(2) for m in re.finditer(r"^(11-\d\d) ([█▓▒░]*) +(?:\d+)$", shown.output, re.M)}
    assert set(bars) == {"11-17", "11-18", "11-19", "11-20"} and bars["11-19"] == ""
    assert set(bars["11-17"]) == {"█"} and set(bars["11-18"]) == {"█", "▓"} and set(bars["11-20"]) == {"▒", "░"}
    assert len(bars["11-18"]) == len(bars["11-20"]) >= 60  # the busiest days fill the 80 columns' room
    assert abs(len(bars["11-18"]) - 2 * len(bars["11-17"])) <= 1  # half as many uploads, half the bar
    assert all(label in shown.output for label in ("通過", "無效", "待驗證", "資格不符"))
    assert max(cell_len(line) for line in shown.output.splitlines() if not line.startswith("wrote ")) <= 80
    assert "no CJK font found" in shown.output or "wrote the chart to" in shown.output
    wide = team("--as", "sam", "reports", "stats", str(campaign_id), env={"COLUMNS": "160"}).output
    assert max(cell_len(line) for line in wide.splitlines()) > 100  # the bars take the terminal's width
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width >= 640 and image.height >= 400
        colours = {colour for _, colour in image.getcolors(1 << 16)}
        assert {(46, 160, 67), (207, 34, 46), (212, 160, 23), (130, 80, 223)} <= colours

    numbers = json.loads(team("--as", "sam", "reports", "stats", str(campaign_id), "--json").output)
    assert numbers["uploads"] == 5 and numbers["duplicates"] == 1 and numbers["passed"] == {"count": 2, "percent": 40.0}
    assert numbers["per_day"][1] == {"day": "2026-11-18", "total": 2, "passed": 1, "invalid": 1, "pending": 0,
                                     "not_qualified": 0}
    assert team("--as", "sam", "reports", "stats", str(campaign_id), "--png",
                str(tmp_path / "missing" / "x.png")).exit_code == 2


def test_png_labels_with_a_given_font_and_without_uploads(tmp_path):
    from admin_cli.charts import cjk_font_file

    font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    days = [DayCounts(dt.date(2026, 11, 1), (3, 1, 0, 2))]
    if not __import__("os").path.exists(font):
        pytest.skip("no DejaVu font to stand in for a CJK one")
    assert write_png(days, ("活動：每日上傳發票數", "Campaign 1"), tmp_path / "a.png", font_file=font) is True
    drawn = write_png([], ("活動", "Campaign 1"), tmp_path / "b.png")
    assert drawn is (cjk_font_file() is not None)
    assert Image.open(tmp_path / "b.png").size == (640, 520)


def test_show_list_and_jobs_json_are_single_documents(team):
    campaign_id = _campaign(team)
    shown = json.loads(team("--as", "sam", "campaigns", "show", str(campaign_id), "--json").output)
    assert shown["id"] == campaign_id and shown["status"] == "draft" and shown["channel"] == "品牌官方帳號"
    assert shown["settings"]["name"] == "冬季發票登錄抽好禮"
    assert shown["settings"]["conditions"]["per_person_cap"] == 5 and "publish" in shown["settings_actions"]
    assert json.loads(team("jobs", "failed", "--json").output) == []
    table_text = team("--as", "sam", "campaigns", "show", str(campaign_id)).output
    assert max(cell_len(line) for line in table_text.splitlines()) <= 80


def test_shell_completion_is_available(cli):
    helped = cli("--help")
    assert "--install-completion" in helped.output and "--show-completion" in helped.output
    # what the installed bash completion script asks the program: complete `admin-cli rep`, `reports st`
    asked = cli(env={"_ADMIN_CLI_COMPLETE": "complete_bash", "COMP_WORDS": "admin-cli rep", "COMP_CWORD": "1"})
    assert asked.exit_code == 0 and asked.output.split() == ["reports"]
    asked = cli(env={"_ADMIN_CLI_COMPLETE": "complete_bash", "COMP_WORDS": "admin-cli reports st", "COMP_CWORD": "2"})
    assert asked.output.split() == ["stats"]
