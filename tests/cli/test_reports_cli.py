"""`admin-cli reports`, `coupons` and `jobs`: statistics, paged participants, both exports in
both formats, the lottery, coupon pools with waiting rewards, and the verification jobs."""
import csv
import io
import json
import re
import zipfile

import pytest
import time_machine

from bot.storage.models import AuditEntry, CouponCode, OutgoingMessage, Reward, VerificationJob
from flows.einvoice.codes import parse_barcode
from tests.cli.seed import (
    EXAMPLES,
    NOW,
    _run,
    add_job,
    add_uploads,
    add_waiting_reward,
    fetch,
    set_code_notes,
    setup_team,
)

STATUSES = ["passed", "passed", "passed", "invalid", "pending", "not_qualified", "duplicate", "unreadable"]


@pytest.fixture
def team(cli):
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        yield cli


def _campaign(cli, example):
    result = cli("--as", "mia", "campaigns", "create", "-f", str(EXAMPLES / example))
    assert result.exit_code == 0, result.output
    campaign_id = int(result.output.split()[2])
    assert cli("--as", "mia", "campaigns", "publish", str(campaign_id)).exit_code == 0
    return campaign_id


def _seeded(cli, database_url, example="list-only.yaml"):
    campaign_id = _campaign(cli, example)
    rows = [(f"U{i % 3:02d}", f"AB{10000000 + i}", status) for i, status in enumerate(STATUSES)]
    return campaign_id, add_uploads(database_url, campaign_id, rows)


def test_stats_table(team, database_url):
    campaign_id, _ = _seeded(team, database_url)
    out = team("--as", "sam", "reports", "stats", str(campaign_id)).output
    assert re.search(r"上傳發票數\s*│\s*6\s", out) and re.search(r"參與人數\s*│\s*3\s", out)
    assert re.search(r"通過\s*│\s*3\s*│\s*50\.0%", out) and re.search(r"無效\s*│\s*1\s*│\s*16\.7%", out)
    assert re.search(r"待驗證\s*│\s*1\s*│\s*16\.7%", out) and re.search(r"資格不符\s*│\s*1\s*│\s*16\.7%", out)
    assert re.search(r"重複登錄（不計入）\s*│\s*1", out) and re.search(r"無法辨識（不計入）\s*│\s*1", out)
    missing = team("--as", "sam", "reports", "stats", "404")
    assert missing.exit_code == 1 and "no campaign with ID 404" in missing.output


def test_stats_count_uploads_waiting_for_a_person_appeals_included(team, database_url):
    """待審核 counts every upload waiting for a person: passes flagged by a signal and appeals of
    any result (an appealed 資格不符 or 無法辨識 is not a pass); the appeals are also shown apart."""
    campaign_id, ids = _seeded(team, database_url)  # passed ×3, invalid, pending, not_qualified, …, unreadable

    async def review(s):  # noqa: ANN001, ANN202
        from sqlalchemy import update

        from bot.storage.models import Upload

        for upload_id, state in zip((ids[0], ids[1], ids[5], ids[7]), ("held", "flagged", "appealed", "appealed")):
            await s.execute(update(Upload).where(Upload.id == upload_id).values(review_state=state, review_since=NOW))

    _run(database_url, review)
    out = team("--as", "sam", "reports", "stats", str(campaign_id)).output
    assert re.search(r"通過・獎項保留中\s*│\s*1\s", out), out
    assert re.search(r"待審核（含回報問題）\s*│\s*3\s", out) and re.search(r"其中回報問題\s*│\s*2\s", out)
    assert "通過・待審核" not in out
    numbers = json.loads(team("--as", "sam", "reports", "stats", str(campaign_id), "--json").output)
    assert (numbers["held"], numbers["awaiting_review"], numbers["appeals_waiting"]) == (1, 3, 2)
    assert numbers["passed"]["count"] == 3


def test_participants_paged_and_filtered(team, database_url):
    campaign_id, _ = _seeded(team, database_url)
    first = team("--as", "sam", "reports", "participants", str(campaign_id), "--per-page", "4")
    assert "page 1 of 2 (6 uploads)" in first.output and "AB-10000005" in first.output
    second = team("--as", "sam", "reports", "participants", str(campaign_id), "--per-page", "4", "--page", "2")
    assert "page 2 of 2" in second.output and "AB-10000000" in second.output
    assert "AB-10000005" not in second.output
    duplicates = team("--as", "sam", "reports", "participants", str(campaign_id), "--status", "重複登錄", "--json")
    page = json.loads(duplicates.output)
    assert (page["total"], page["page"], page["pages"]) == (1, 1, 1)
    assert [row["invoice_number"] for row in page["rows"]] == ["AB10000006"]
    assert team("--as", "sam", "reports", "participants", str(campaign_id), "--status", "bad").exit_code == 2


def test_participants_show_the_code_readers_notes(team, database_url):
    campaign_id, ids = _seeded(team, database_url)
    barcode = parse_barcode("11511AB100000021234")  # a printer's odd-month period, read as 11512
    set_code_notes(database_url, ids[2], [note.as_json() for note in barcode.notes])
    hostile = {"code": "item_name_line_break", "text": "items: line breaks in item names joined: \x1b[2J紅茶"}
    set_code_notes(database_url, ids[0], [hostile])  # an item name is whatever the QR code held
    out = team("--as", "sam", "reports", "participants", str(campaign_id)).output
    notes = out[out.index("讀碼註記:"):]
    assert ("AB-10000002 條碼期別印單月，依日期換算 (period_odd_month): period: the barcode prints 11511"
            in notes)
    assert "\x1b" not in out and "AB-10000000 品名含換行，已合併 (item_name_line_break): items: line breaks in item names " \
        "joined: ␛[2J紅茶" in notes
    assert "AB-10000001" not in notes  # rows without notes are not listed there
    page = json.loads(team("--as", "sam", "reports", "participants", str(campaign_id), "--json").output)
    by_number = {row["invoice_number"]: row["code_notes"] for row in page["rows"]}
    assert by_number["AB10000002"] == [note.as_json() for note in barcode.notes]
    assert by_number["AB10000001"] == []


def test_exports_csv_and_xlsx(team, database_url, tmp_path):
    campaign_id, _ = _seeded(team, database_url)
    people = tmp_path / "people.csv"
    done = team("--as", "sam", "reports", "export", str(campaign_id), "participants", "-o", str(people))
    assert done.exit_code == 0 and "wrote 8 rows of 參加名單" in done.output
    raw = people.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["姓名", "LINE UID", "電話", "發票號碼", "開立日期", "上傳方式", "上傳時間", "驗證時間",
                       "發票檔案", "狀態", "獎項級距", "機器人名稱", "機器人模組名稱"]
    assert len(rows) == 9 and rows[1][4] == "2026/11/05" and rows[1][5] == "手動輸入"
    from bot.config import Config
    from bot.photos import link_key, token

    path = "photos/%d/0.img" % campaign_id
    key = link_key(Config(data_dir=tmp_path / "data"))
    link, _, query = rows[1][8].partition("?")
    assert link == f"http://127.0.0.1:8080/{path}"
    expires = int(query.split("&")[0].removeprefix("e="))
    assert query == f"e={expires}&t={token(key, path, expires, 1)}"  # fresh, generation 1, 7 days
    assert people.stat().st_mode & 0o777 == 0o600  # personal data: owner-only
    [entry] = fetch(database_url, AuditEntry, AuditEntry.action == "campaign.export")
    assert entry.detail["actor"] == "sam" and entry.detail["kind"] == "participants"
    assert entry.detail["rows"] == 8 and entry.detail["file"] == str(people.resolve())
    items = tmp_path / "items.xlsx"
    done = team("--as", "sam", "reports", "export", str(campaign_id), "items", "--format", "xlsx", "-o", str(items))
    assert done.exit_code == 0 and "wrote 4 rows of 發票明細" in done.output  # 3 通過 + 1 資格不符
    with zipfile.ZipFile(items) as book:
        shared = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/") and n.endswith(".xml"))
    assert "公司統一編號" in shared and "全通路紅茶" in shared
    bad = team("--as", "sam", "reports", "export", str(campaign_id), "items", "-o", str(tmp_path / "no" / "x.csv"))
    assert bad.exit_code == 2 and not (tmp_path / "no").exists()
    assert not list(tmp_path.glob(".*.part"))


def test_lottery_is_reproducible_and_audited(team, database_url, tmp_path):
    campaign_id, ids = _seeded(team, database_url)
    passed = set(ids[:3])
    first = team("--as", "mia", "reports", "lottery", str(campaign_id), "2", "--seed", "12345",
                 "-o", str(tmp_path / "winners.csv"))
    assert first.exit_code == 0, first.output
    assert "seed 12345" in first.output and "among 3 通過 invoices from 3 users" in first.output
    winners = list(csv.reader(io.StringIO((tmp_path / "winners.csv").read_text(encoding="utf-8-sig"))))[1:]
    assert len(winners) == 2 and {int(w[1]) for w in winners} <= passed
    again = team("--as", "mia", "reports", "lottery", str(campaign_id), "2", "--seed", "12345")
    assert again.output == first.output.replace(f"wrote the winners to {tmp_path / 'winners.csv'}\n", "")
    fresh = team("--as", "mia", "reports", "lottery", str(campaign_id), "5", "--one-per-user")
    seed = int(re.search(r"seed (\d+)", fresh.output).group(1))
    assert "drew 3 of 5 winners" in fresh.output and f"--seed {seed}" in fresh.output
    entries = [e for e in fetch(database_url, AuditEntry, AuditEntry.action == "campaign.lottery")]
    assert [e.detail["seed"] for e in entries] == [12345, 12345, seed]
    assert team("--as", "sam", "reports", "lottery", str(campaign_id), "1").exit_code == 1


def test_lottery_only_for_list_only_campaigns(team, database_url):
    campaign_id = _campaign(team, "whole-invoice-amount-tiers.yaml")
    refused = team("--as", "mia", "reports", "lottery", str(campaign_id), "1")
    assert refused.exit_code == 1 and "僅搜集名單" in refused.output
    empty = _campaign(team, "list-only.yaml")
    nothing = team("--as", "mia", "reports", "lottery", str(empty), "1")
    assert nothing.exit_code == 1 and "no 通過 invoices" in nothing.output


def test_coupon_pool_and_waiting_rewards(team, database_url, tmp_path):
    campaign_id, ids = _seeded(team, database_url, "whole-invoice-amount-tiers.yaml")
    reward_id = add_waiting_reward(database_url, campaign_id, ids[0])
    waiting = team("--as", "sam", "coupons", "waiting", "--campaign", str(campaign_id))
    assert "1 rewards waiting" in waiting.output and "U00" in waiting.output
    pool = tmp_path / "codes.csv"
    pool.write_text("序號,級距\nWIN-1,1\n\nWIN-2,1\nWIN-1,1\nWIN-3,2\n,\nWIN-4,first\n", encoding="utf-8")
    refused = team("--as", "sam", "coupons", "import", str(campaign_id), str(pool))
    assert refused.exit_code == 1 and not fetch(database_url, CouponCode)
    done = team("--as", "mia", "coupons", "import", str(campaign_id), str(pool))
    assert done.exit_code == 0, done.output
    out = done.output
    assert "imported 3 codes" in out and "skipped 2 blank lines: 3, 7" in out
    assert "line 5: WIN-1 — 與第 2 行重複" in out and "line 8: WIN-4" in out
    assert "gave codes to 1 waiting rewards" in out
    [reward] = fetch(database_url, Reward, Reward.id == reward_id)
    assert reward.state == "given" and reward.coupon_code == "WIN-1"
    [push] = fetch(database_url, OutgoingMessage, OutgoingMessage.upload_id == reward.upload_id)
    assert (push.delivery, push.billable, push.state, push.kind) == ("push", True, "queued", "upload.coupon")
    assert "WIN-1" in json.dumps(push.messages, ensure_ascii=False)
    left = team("--as", "sam", "coupons", "remaining", str(campaign_id)).output
    assert "2 codes left, 1 given" in left and re.search(r"第 1 級\s*│\s*1", left)
    again = team("--as", "mia", "coupons", "import", str(campaign_id), str(pool))
    assert len(fetch(database_url, OutgoingMessage)) == 1  # nothing new was given: no second push
    assert "imported 0 codes" in again.output and "序號已存在於序號池" in again.output
    missing = team("--as", "mia", "coupons", "import", str(campaign_id), str(tmp_path / "none.csv"))
    assert missing.exit_code == 1 and "cannot read" in missing.output
    assert "0 rewards waiting" in team("--as", "sam", "coupons", "waiting").output


def test_jobs_failed_requeue_and_stats(team, database_url):
    campaign_id, ids = _seeded(team, database_url)
    broken = add_job(database_url, ids[4], "failed", "MOF permanent error: signature mismatch")
    queued = add_job(database_url, ids[3], "queued")
    listing = team("jobs", "failed")
    assert "1 failed jobs" in listing.output and "AB10000004" in listing.output
    [failed] = json.loads(team("jobs", "failed", "--json").output)
    assert failed["job_id"] == broken and failed["reason"] == "MOF permanent error: signature mismatch"
    assert failed["invoice_number"] == "AB10000004" and failed["campaign_id"] == campaign_id
    counts = team("jobs", "stats").output
    assert re.search(r"│\s*1\s*│\s*0\s*│\s*1\s*│", counts)
    numbers = json.loads(team("jobs", "stats", "--json").output)
    assert (numbers["queued"], numbers["running"], numbers["failed"]) == (1, 0, 1)
    not_failed = team("--as", "boss", "jobs", "requeue", str(queued))
    assert not_failed.exit_code == 1 and f"{queued} (queued)" in not_failed.output
    assert team("--as", "sam", "jobs", "requeue", str(broken)).exit_code == 1
    unknown = team("--as", "boss", "jobs", "requeue", "9999")
    assert unknown.exit_code == 1 and "9999" in unknown.output
    done = team("--as", "boss", "jobs", "requeue", str(broken))
    assert done.exit_code == 0 and "requeued 1 jobs" in done.output
    [job] = fetch(database_url, VerificationJob, VerificationJob.id == broken)
    assert job.state == "queued"
    assert "0 failed jobs" in team("jobs", "failed").output


def test_no_access_sees_nothing_from_the_cli(team, database_url, tmp_path):
    """無權限 gets one refusal line for every read: list, show, stats, participants, both exports,
    coupon pools and owed rewards; no export file is written."""
    campaign_id, _ = _seeded(team, database_url)
    assert team("--as", "boss", "users", "add", "nina", "--role", "無權限").exit_code == 0
    out = tmp_path / "people.csv"
    reads = [("campaigns", "list"), ("campaigns", "show", str(campaign_id)),
             ("reports", "stats", str(campaign_id)), ("reports", "participants", str(campaign_id)),
             ("reports", "export", str(campaign_id), "participants", "-o", str(out)),
             ("reports", "export", str(campaign_id), "items", "-o", str(out)),
             ("coupons", "remaining", str(campaign_id)), ("coupons", "waiting")]
    for args in reads:
        result = team("--as", "nina", *args)
        assert result.exit_code == 1, (args, result.output)
        assert "nina（無權限）沒有發票活動的「檢視」權限" in result.output, args
        assert "AB" not in result.output
    assert not out.exists() and list(tmp_path.glob(".people.csv.*")) == []
    assert team("--as", "sam", "reports", "export", str(campaign_id), "participants", "-o", str(out)).exit_code == 0
