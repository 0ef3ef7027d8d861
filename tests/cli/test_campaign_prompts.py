"""Prompts that forgive (issue 29): interactive `campaigns create` checks every answer as it is
entered with the campaign file's validators and asks again; when the questions stop — Ctrl-C, the
end of input — the answers so far are saved as a campaign file that `campaigns create -f` takes
once completed."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import time_machine
import yaml

from bot.storage.models import Campaign
from tests.cli.seed import NOW, fetch, setup_team

ROOT = Path(__file__).resolve().parents[2]
STEP_1 = ["互動活動", "品牌官方帳號", "2026-11-01T00:00", "2027-01-31T23:59"]
REST = ["-", "2", "-", "2026-11-01", "2027-01-31", "immediate", "whole_invoice", "amount", "500",
        "品牌小幫手", "百元券", "code_pool", "1500", "兩百元券", "shared_link", "https://example.com/c", "-"]


@pytest.fixture
def team(cli, tmp_path, monkeypatch):
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        yield cli


def _lines(*answers: str) -> str:
    return "\n".join(answers) + "\n"


def test_bad_answers_are_asked_again_with_the_file_validators_reason(team, database_url):
    answers = ["互動活動", "沒有這個渠道", "品牌官方帳號", "2026-11-01T00:00", "2026-10-01T00:00", "2027-01-31T23:59",
               "ftp://example.com/rules", "https://example.com/rules",
               "-", "0", "2", "-", "2026-11-01", "2027-01-31", "immediate", "whole_invoice", "amount", "abc", "500",
               "品牌小幫手", "百元券", "code_pool", "500", "1500", "兩百元券", "shared_link", "not a url",
               "https://example.com/c", "-"]
    done = team("--as", "mia", "campaigns", "create", input=_lines(*answers))
    assert done.exit_code == 0, done.output
    out = done.output
    assert "channel: no LINE channel named '沒有這個渠道'" in out
    assert "end_at: 活動結束時間需晚於開始時間" in out
    assert "rules_url: 請輸入活動規則網頁 URL（個資授權同意說明）：網址需以 http:// 或 https:// 開頭" in out
    assert "conditions.per_person_cap: 每人參與次數需為 1 以上的整數" in out
    assert "conditions.scope.threshold:" in out
    assert "conditions.higher_tiers[0].min_amount: 第 2 級距金額須大於第 1 級距金額（500 元）" in out
    assert "conditions.higher_tiers[0].reward.coupon.url: 優惠券共用連結無效" in out
    assert out.count("活動規則網址 rules URL") == 2  # asked again, once
    [row] = fetch(database_url, Campaign, Campaign.name == "互動活動")
    assert row.settings["rules_url"] == "https://example.com/rules" and row.cap == 2
    assert row.settings["conditions"]["higher_tiers"][0]["min_amount"] == 1500
    assert not list(Path.cwd().iterdir())  # nothing left behind


def test_end_of_input_saves_the_answers_under_a_new_name(team):
    (Path.cwd() / "campaign-draft.yaml").write_text("mine", encoding="utf-8")
    stopped = team("--as", "mia", "campaigns", "create", input=_lines(*STEP_1, "ftp://x"))
    assert stopped.exit_code == 1
    assert (Path.cwd() / "campaign-draft.yaml").read_text(encoding="utf-8") == "mine"  # never overwritten
    saved = Path.cwd() / "campaign-draft-2.yaml"
    assert f"saved in {saved}" in stopped.output
    assert "admin-cli campaigns create -f campaign-draft-2.yaml" in stopped.output
    data = yaml.safe_load(saved.read_text(encoding="utf-8"))
    assert data == {"name": "互動活動", "channel": "品牌官方帳號", "start_at": "2026-11-01T00:00",
                    "end_at": "2027-01-31T23:59"}  # the refused rules URL is not kept


def _complete(data: dict) -> dict:
    data.update(rules_url="https://example.com/rules", image_url=None, conditions={
        "per_person_cap": None, "issue_dates": {"start": "2026-11-01", "end": "2027-01-31"}, "sellers": None,
        "reward_timing": "list_only", "scope": {"kind": "whole_invoice", "measure": "amount", "threshold": 500}})
    return data


def test_ctrl_c_mid_way_saves_a_file_that_create_takes_once_completed(team, database_url):
    env = {**os.environ, "ADMIN_CLI_USER": "mia", "COLUMNS": "80",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    process = subprocess.Popen([sys.executable, "-m", "admin_cli", "campaigns", "create"], cwd=Path.cwd(), env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = bytearray()

    def read() -> None:
        while chunk := process.stdout.read1(4096):
            seen.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    process.stdin.write(_lines(*STEP_1, "ftp://example.com/rules", "https://example.com/rules").encode())
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while "image URL".encode() not in bytes(seen) and time.monotonic() < deadline:  # waits at the next question
        time.sleep(0.05)
    assert "image URL".encode() in bytes(seen), (process.poll(), bytes(seen).decode(errors="replace"))
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 1
    reader.join(5)
    output = bytes(seen).decode()
    assert "網址需以 http:// 或 https:// 開頭" in output
    assert "stopped: your answers are saved in" in output and "create -f campaign-draft.yaml" in output
    saved = Path.cwd() / "campaign-draft.yaml"
    data = yaml.safe_load(saved.read_text(encoding="utf-8"))
    assert data["rules_url"] == "https://example.com/rules" and data["name"] == "互動活動"
    assert "conditions" not in data

    unfinished = team("--as", "mia", "campaigns", "create", "-f", str(saved))
    assert unfinished.exit_code == 1 and "conditions" in unfinished.output
    saved.write_text(yaml.safe_dump(_complete(data), allow_unicode=True), encoding="utf-8")
    finished = team("--as", "mia", "campaigns", "create", "-f", str(saved))
    assert finished.exit_code == 0, finished.output
    assert fetch(database_url, Campaign, Campaign.name == "互動活動")
