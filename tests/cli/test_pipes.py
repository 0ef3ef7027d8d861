"""Pipes (issue 29): `-f -` / a `-` input reads stdin and `-o -` writes stdout, for campaign files,
coupon CSVs, templates, contribution CSVs and the exports, run as real processes with their data
piped in and out (as `heroku run --no-tty … admin-cli …` does). Binary exports are exactly the
file's bytes on stdout; messages go to stderr."""
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import time_machine
import yaml
from PIL import Image

from bot.storage.models import Campaign, MessageTemplate
from flows.messages.custom import QUALIFIED_BUBBLE
from tests.cli.seed import EXAMPLES, NOW, add_uploads, fetch, setup_team

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN_FILE = EXAMPLES / "whole-invoice-amount-tiers.yaml"


@pytest.fixture
def team(cli):
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        yield cli


def admin_cli(*args: str, data: bytes = b"", user: str = "mia") -> subprocess.CompletedProcess:
    """`admin-cli ARGS` as its own process, `data` piped to stdin; stdout and stderr kept apart as bytes."""
    env = {**os.environ, "ADMIN_CLI_USER": user, "COLUMNS": "80",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "admin_cli", *args], input=data, capture_output=True,
                          env=env, timeout=120, cwd=ROOT)


def _campaign_from_stdin() -> int:
    made = admin_cli("campaigns", "create", "-f", "-", data=CAMPAIGN_FILE.read_bytes())
    assert made.returncode == 0, made.stderr.decode()
    return int(made.stdout.split()[2])


def test_campaign_files_through_stdin(team, database_url):
    campaign_id = _campaign_from_stdin()
    edited = yaml.safe_load(admin_cli("campaigns", "show", str(campaign_id), "--yaml").stdout)
    edited["name"] = "從標準輸入改名"
    changed = admin_cli("campaigns", "edit", str(campaign_id), "-f", "-",
                        data=yaml.safe_dump(edited, allow_unicode=True).encode())
    assert changed.returncode == 0, changed.stderr.decode()
    [row] = fetch(database_url, Campaign, Campaign.id == campaign_id)
    assert row.name == "從標準輸入改名"
    broken = admin_cli("campaigns", "create", "-f", "-", data=b"name: [unclosed")
    assert broken.returncode == 1 and broken.stderr.decode().startswith("error: standard input: line 1")


def test_coupon_csv_and_templates_through_stdin(team, database_url, line_sim, monkeypatch):
    monkeypatch.setenv("LINE_API_BASE_URL", line_sim[1])  # saving asks LINE's validate endpoint
    campaign_id = _campaign_from_stdin()
    imported = admin_cli("coupons", "import", str(campaign_id), "-", data="序號,級距\nP-1,1\nP-2,2\n".encode())
    assert imported.returncode == 0, imported.stderr.decode()
    assert b"imported 2 codes" in imported.stdout
    source = QUALIFIED_BUBBLE.replace("恭喜符合活動資格！", "管線送來的範本！").encode()
    previewed = admin_cli("messages", "preview", str(campaign_id), "qualified", "-f", "-", data=source)
    assert previewed.returncode == 0, previewed.stderr.decode()
    assert "管線送來的範本！" in previewed.stdout.decode()
    saved = admin_cli("messages", "edit", str(campaign_id), "qualified", "-f", "-", data=source)
    assert saved.returncode == 0, saved.stderr.decode()
    [row] = fetch(database_url, MessageTemplate, MessageTemplate.campaign_id == campaign_id)
    assert "管線送來的範本！" in row.source


def test_exports_to_stdout_are_the_files_bytes_only(team, database_url, tmp_path):
    campaign_id = _campaign_from_stdin()
    add_uploads(database_url, campaign_id, [("U01", "AB12345678", "passed"), ("U02", "AB12345679", "pending")])
    xlsx = admin_cli("reports", "export", str(campaign_id), "participants", "--format", "xlsx", "-o", "-")
    assert xlsx.returncode == 0, xlsx.stderr.decode()
    assert xlsx.stdout[:2] == b"PK" and xlsx.stderr == "wrote 2 rows of 參加名單 to stdout\n".encode()
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.stdout), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "LINE UID", "電話") and len(rows) == 3
    as_file = tmp_path / "參加名單.xlsx"
    assert admin_cli("reports", "export", str(campaign_id), "participants", "--format", "xlsx",
                     "-o", str(as_file)).returncode == 0
    from_file = openpyxl.load_workbook(as_file, read_only=True).active
    assert list(from_file.iter_rows(values_only=True)) == rows  # the same workbook (zipped as a stream)

    text = admin_cli("reports", "export", str(campaign_id), "items", "-o", "-")
    assert text.returncode == 0 and text.stdout.startswith(b"\xef\xbb\xbf")  # the CSV's BOM first, nothing before
    header = next(csv.reader(io.StringIO(text.stdout.decode("utf-8-sig"))))
    assert header[:4] == ["姓名", "LINE UID", "電話", "發票號碼"] and b"wrote" in text.stderr

    assert admin_cli("triggers", "add", str(campaign_id), "--keyword", "登錄發票").returncode == 0
    png = admin_cli("triggers", "qr", str(campaign_id), "登錄發票", "-o", "-")
    assert png.returncode == 0, png.stderr.decode()
    assert Image.open(io.BytesIO(png.stdout)).format == "PNG" and b"https://line.me/" in png.stderr


def test_lottery_winners_to_stdout(team, database_url):
    made = admin_cli("campaigns", "create", "-f", "-", data=(EXAMPLES / "list-only.yaml").read_bytes())
    campaign_id = int(made.stdout.split()[2])
    assert admin_cli("campaigns", "publish", str(campaign_id)).returncode == 0
    add_uploads(database_url, campaign_id, [("U01", "AB10000001", "passed"), ("U02", "AB10000002", "passed")])
    drawn = admin_cli("reports", "lottery", str(campaign_id), "1", "--seed", "7", "-o", "-")
    assert drawn.returncode == 0, drawn.stderr.decode()
    rows = list(csv.reader(io.StringIO(drawn.stdout.decode("utf-8-sig"))))
    assert rows[0][:2] == ["名次", "上傳 ID"] and len(rows) == 2
    assert b"seed 7" in drawn.stderr and b"seed" not in drawn.stdout


def test_contributions_csv_through_stdin(team):
    assert admin_cli("crm", "pages", "add", "spring", "--name", "春季募款", "--financial-type", "捐款",
                     data=b"a-long-backme-secret\n", user="boss").returncode == 0
    rows = "page,amount,date,processor,name\nspring,500,2026-11-02,銀行轉帳,王小明\n".encode()
    done = admin_cli("crm", "contributions", "import", "-", data=rows, user="boss")
    assert done.returncode == 0, done.stderr.decode()
    assert b"imported 1 contribution(s)" in done.stdout
