"""The installed entry point end to end: `python -m admin_cli` in a fresh directory and database
runs the walkthrough's core (user, channel, campaign from a file, publish, coupons, stats, export)."""
import csv
import datetime as dt
import os
import subprocess
import sys

import yaml

from tests.cli.seed import EXAMPLES, SECRET, TOKEN


def test_walkthrough_core_in_a_subprocess(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "ADMIN_CLI_USER")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'smoke.db'}"

    def run(*args, extra=None, code=0):
        done = subprocess.run([sys.executable, "-m", "admin_cli", *args], cwd=tmp_path, capture_output=True,
                              text=True, env={**env, **(extra or {})}, timeout=120)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done.stdout + done.stderr

    today = dt.date.today()  # a file whose dates are valid today
    data = yaml.safe_load((EXAMPLES / "list-only.yaml").read_text(encoding="utf-8"))
    data.update(start_at=f"{today - dt.timedelta(days=1)}T00:00", end_at=f"{today + dt.timedelta(days=60)}T23:59")
    data["conditions"]["issue_dates"] = {"start": str(today.replace(day=1)), "end": str(today + dt.timedelta(days=60))}
    (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    run("db", "upgrade")
    run("users", "add", "boss", "--role", "admin")
    run("--as", "boss", "channels", "add", "品牌官方帳號",
        extra={"LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN})
    assert "created campaign 1" in run("--as", "boss", "campaigns", "create", "-f", "campaign.yaml")
    assert "now 進行中" in run("--as", "boss", "campaigns", "publish", "1")
    (tmp_path / "codes.csv").write_text("CODE-1\nCODE-2\n", encoding="utf-8")
    assert "imported 2 codes" in run("--as", "boss", "coupons", "import", "1", "codes.csv")
    assert "上傳發票數" in run("--as", "boss", "reports", "stats", "1")
    run("--as", "boss", "reports", "export", "1", "participants", "-o", "people.csv")
    with (tmp_path / "people.csv").open(encoding="utf-8-sig") as f:
        assert next(csv.reader(f))[:2] == ["姓名", "LINE UID"]
    assert run("--as", "boss", "campaigns", "show", "9", code=1).strip() == "error: CAMPAIGN: no campaign with ID 9"
