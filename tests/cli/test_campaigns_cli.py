"""`admin-cli campaigns`: files of every scope/tier shape, interactive creation, list/search,
show, edits allowed or refused by status, lifecycle actions, roles and one-line errors."""
import json
import sys

import pytest
import time_machine
import yaml
from rich.cells import cell_len

from bot.storage.models import Campaign
from tests.cli.seed import EXAMPLES, NOW, audit_actions, fetch, setup_team


@pytest.fixture
def team(cli):
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        yield cli


def _create(cli, name="whole-invoice-amount-tiers.yaml", user="mia"):
    result = cli("--as", user, "campaigns", "create", "-f", str(EXAMPLES / name))
    assert result.exit_code == 0, result.output
    return int(result.output.split()[2])


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_file_creates_a_draft(team, database_url, example):
    campaign_id = _create(team, example)
    [row] = fetch(database_url, Campaign, Campaign.id == campaign_id)
    source = yaml.safe_load((EXAMPLES / example).read_text(encoding="utf-8"))
    assert row.name == source["name"] and row.published_at is None
    assert row.settings["conditions"]["scope"] == source["conditions"]["scope"]
    assert len(row.settings["conditions"]["higher_tiers"]) == len(source["conditions"].get("higher_tiers") or [])
    shown = team("--as", "sam", "campaigns", "show", str(campaign_id))
    assert shown.exit_code == 0 and "草稿" in shown.output and source["name"] in shown.output
    review = source.get("review") or {}
    hold = f"保留 {review['hold_days']} 天" if review.get("hold_enabled") else "不保留（通過後立即送獎）"
    assert "審核：審核保留" in shown.output and hold in shown.output  # the review settings too


def test_bad_files_say_where_and_why(team, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nconditions:\n  scope: [1,\n", encoding="utf-8")
    result = team("--as", "mia", "campaigns", "create", "-f", str(broken))
    assert result.exit_code == 1 and "line 4" in result.output and result.output.startswith("error:")

    data = yaml.safe_load((EXAMPLES / "list-only.yaml").read_text(encoding="utf-8"))
    data["conditions"]["scope"]["threshold"] = "lots"
    data["colour"] = "red"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = team("--as", "mia", "campaigns", "create", "-f", str(wrong))
    assert result.exit_code == 1
    assert "colour: 未知的欄位" in result.output and "conditions.scope.threshold: 必須是整數" in result.output

    data = yaml.safe_load((EXAMPLES / "list-only.yaml").read_text(encoding="utf-8"))
    data["channel"] = "別的帳號"
    other = tmp_path / "other.json"
    import json
    other.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    result = team("--as", "mia", "campaigns", "create", "-f", str(other))
    assert result.exit_code == 1 and "no LINE channel named '別的帳號'" in result.output

    missing = team("--as", "mia", "campaigns", "create", "-f", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1 and "cannot read" in missing.output
    assert team("--as", "mia", "campaigns", "list").output.count("no campaigns match") == 1


def test_roles_and_the_acting_user(team):
    refused = team("--as", "sam", "campaigns", "create", "-f", str(EXAMPLES / "list-only.yaml"))
    assert refused.exit_code == 1 and "sam（銷售人員）沒有發票活動的「編輯」權限" in refused.output
    nobody = team("--as", "ghost", "campaigns", "list")
    assert nobody.exit_code == 1 and "no admin user named 'ghost'" in nobody.output
    anonymous = team("campaigns", "list")
    assert anonymous.exit_code == 1 and "--as" in anonymous.output
    campaign_id = _create(team)
    assert team("--as", "sam", "campaigns", "publish", str(campaign_id)).exit_code == 1
    assert team("--as", "sam", "campaigns", "delete", str(campaign_id), "-y").exit_code == 1
    missing = team("--as", "mia", "campaigns", "publish", "999")
    assert missing.exit_code == 1 and missing.output.strip() == "error: CAMPAIGN: no campaign with ID 999"


def test_list_searches_campaign_and_channel_names_and_filters_status(team):
    first = _create(team, "list-only.yaml")
    second = _create(team, "items-blocks-or.yaml")
    assert team("--as", "mia", "campaigns", "publish", str(second)).exit_code == 0
    def names(*args):
        listed = team("--as", "sam", "campaigns", "list", "--json", *args)
        assert listed.exit_code == 0, listed.output
        return [row["name"] for row in json.loads(listed.output)]

    assert names("--search", "早餐") == ["早餐組合登錄活動"]
    assert names("--search", "官方") == ["早餐組合登錄活動", "年終發票抽獎"]
    assert names("--status", "草稿") == ["年終發票抽獎"]
    [running] = json.loads(team("--as", "sam", "campaigns", "list", "--status", "running", "--json").output)
    assert running == {"id": second, "name": "早餐組合登錄活動", "start_at": "2026-11-01T00:00:00+08:00",
                       "end_at": "2027-01-31T23:59:59+08:00", "channel": "品牌官方帳號", "upload_count": 0,
                       "status": "running", "status_label": "進行中"}
    table = team("--as", "sam", "campaigns", "list", "--status", "running").output  # the table, 80 columns
    assert "進行中" in table and "2026-11-01" in table and "2027-01-31" in table
    assert {cell_len(line) for line in table.splitlines() if line[:1] in "┏┃│└"} == {80}  # wrapped, border whole
    assert team("--as", "sam", "campaigns", "list", "--status", "soon").exit_code == 2
    assert str(first) in team("--as", "sam", "campaigns", "list", "--status", "草稿").output


def test_edit_follows_the_status(team, database_url, tmp_path):
    campaign_id = _create(team)
    saved = team("--as", "mia", "campaigns", "edit", str(campaign_id), "--name", "冬季抽獎", "--image-url", "-")
    assert saved.exit_code == 0 and "saved campaign" in saved.output
    [row] = fetch(database_url, Campaign, Campaign.id == campaign_id)
    assert row.name == "冬季抽獎" and row.image_url is None

    as_file = team("--as", "mia", "campaigns", "show", str(campaign_id), "--yaml")
    edited = tmp_path / "edited.yaml"
    edited.write_text(as_file.output.replace("threshold: 500", "threshold: 600"), encoding="utf-8")
    assert team("--as", "mia", "campaigns", "edit", str(campaign_id), "-f", str(edited)).exit_code == 0
    [row] = fetch(database_url, Campaign, Campaign.id == campaign_id)
    assert row.settings["conditions"]["scope"]["threshold"] == 600

    assert team("--as", "mia", "campaigns", "publish", str(campaign_id)).exit_code == 0
    edited.write_text(as_file.output.replace("threshold: 500", "threshold: 700"), encoding="utf-8")
    refused = team("--as", "mia", "campaigns", "edit", str(campaign_id), "-f", str(edited))
    assert refused.exit_code == 1
    assert "活動狀態為「進行中」時不可編輯「活動條件」（conditions.scope）" in refused.output
    [row] = fetch(database_url, Campaign, Campaign.id == campaign_id)
    assert row.settings["conditions"]["scope"]["threshold"] == 600 and row.name == "冬季抽獎"

    renamed = team("--as", "mia", "campaigns", "edit", str(campaign_id), "--name", "冬季大抽獎")
    assert renamed.exit_code == 0 and "published the edits" in renamed.output
    bad_time = team("--as", "mia", "campaigns", "edit", str(campaign_id), "--end", "2026-10-01T00:00")
    assert bad_time.exit_code == 1 and "end_at" in bad_time.output


def test_edit_in_the_editor(team, database_url, tmp_path):
    campaign_id = _create(team)
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text(encoding='utf-8').replace('冬季發票登錄抽好禮', '編輯器改名'),"
                      " encoding='utf-8')\n", encoding="utf-8")
    result = team("--as", "mia", "campaigns", "edit", str(campaign_id), env={"EDITOR": f"{sys.executable} {script}"})
    assert result.exit_code == 0, result.output
    [row] = fetch(database_url, Campaign, Campaign.id == campaign_id)
    assert row.name == "編輯器改名"
    untouched = team("--as", "mia", "campaigns", "edit", str(campaign_id), env={"EDITOR": "true"})
    assert untouched.exit_code == 0 and "no changes" in untouched.output
    failing = team("--as", "mia", "campaigns", "edit", str(campaign_id), env={"EDITOR": "false"})
    assert failing.exit_code == 1 and "nothing saved" in failing.output


def test_interactive_create(team, database_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a stopped run would save its answers
    answers = "\n".join([
        "互動建立活動", "品牌官方帳號", "2026-11-01T00:00", "2027-01-31T23:59", "https://example.com/rules",
        "-", "2", "-", "2026-11-01", "2027-01-31", "immediate", "whole_invoice", "amount", "500",
        "品牌小幫手", "百元券", "code_pool", "1500", "兩百元券", "shared_link", "https://example.com/c", "-",
    ]) + "\n"
    result = team("--as", "mia", "campaigns", "create", input=answers)
    assert result.exit_code == 0, result.output
    [row] = fetch(database_url, Campaign, Campaign.name == "互動建立活動")
    conditions = row.settings["conditions"]
    assert row.cap == 2 and conditions["higher_tiers"][0]["min_amount"] == 1500
    assert conditions["higher_tiers"][0]["reward"]["coupon"] == {"kind": "shared_link", "url": "https://example.com/c"}


def test_lifecycle_actions_and_audit(team, database_url):
    campaign_id = _create(team)
    assert "now 進行中" in team("--as", "mia", "campaigns", "publish", str(campaign_id)).output
    assert "now 暫停中" in team("--as", "mia", "campaigns", "pause", str(campaign_id)).output
    again = team("--as", "mia", "campaigns", "pause", str(campaign_id))
    assert again.exit_code == 1 and "「暫停中」時不可執行「暫停」" in again.output
    assert "now 進行中" in team("--as", "mia", "campaigns", "resume", str(campaign_id)).output
    not_paused = team("--as", "mia", "campaigns", "resume", str(campaign_id))
    assert not_paused.exit_code == 1 and "「進行中」" in not_paused.output
    copied = team("--as", "mia", "campaigns", "copy", str(campaign_id))
    assert copied.exit_code == 0 and "（複本）" in copied.output
    copy_id = int(copied.output.split("to campaign ")[1].split()[0])
    refused = team("--as", "mia", "campaigns", "delete", str(campaign_id), "-y")
    assert refused.exit_code == 1 and "「進行中」時不可執行「刪除」" in refused.output
    assert team("--as", "mia", "campaigns", "delete", str(copy_id), input="n\n").exit_code != 0
    assert fetch(database_url, Campaign, Campaign.id == copy_id)
    assert team("--as", "boss", "campaigns", "delete", str(copy_id), "-y").exit_code == 0
    assert not fetch(database_url, Campaign, Campaign.id == copy_id)
    assert audit_actions(database_url).count("campaign.delete") == 1
    assert {"campaign.create", "campaign.publish", "campaign.pause", "campaign.resume",
            "campaign.copy"} <= set(audit_actions(database_url))


def test_publish_warns_of_codes_taken_by_draft_test_uploads(team, database_url, tmp_path):
    from sqlalchemy import update

    from bot.campaigns.coupons import take_code
    from bot.storage.models import Upload
    from tests.cli.seed import _run, add_uploads

    campaign_id = _create(team)
    pool = tmp_path / "codes.csv"
    pool.write_text("code\nW-1\nW-2\nW-3\n", encoding="utf-8")
    assert team("--as", "mia", "coupons", "import", str(campaign_id), str(pool)).exit_code == 0
    uploads = add_uploads(database_url, campaign_id, [("U01", "AB12345678", "passed"), ("U02", "AB12345679", "passed")])

    async def draft_codes(s):  # noqa: ANN001, ANN202
        await s.execute(update(Upload).where(Upload.id.in_(uploads)).values(is_draft=True))
        return [await take_code(s, campaign_id, None, upload, NOW) for upload in uploads]

    assert all(_run(database_url, draft_codes))
    published = team("--as", "mia", "campaigns", "publish", str(campaign_id))
    assert published.exit_code == 0
    assert "draft test uploads had taken 2 coupon code(s)" in published.output
    assert fetch(database_url, Upload, Upload.campaign_id == campaign_id) == []
    second = _create(team)
    quiet = team("--as", "mia", "campaigns", "publish", str(second))
    assert quiet.exit_code == 0 and "warning" not in quiet.output
