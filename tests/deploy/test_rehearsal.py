"""A deployment rehearsal, as a Heroku-style platform runs the repository: build from the lock in a
fresh virtualenv (the project itself not installed), run the Procfile's `release` on an empty
PostgreSQL database given as a platform URL (`postgres://…?sslmode=disable`), start two processes
with the photo store on a local S3 server, send a signed photo event through the LINE simulator,
and check the photo is in the bucket and its link (made by admin-cli) verifies on the other process.
"""
from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.chat.conftest import invoice_code, photo_of
from tests.conftest import POSTGRES_URL, REDIS_URL, RUN_ID, _create_pg_database, _drop_pg_database, run_sync

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECRET, TOKEN = "rehearsal-channel-secret-0123456789", "rehearsal-access-token-" + "t" * 20
MOF_APP_ID, MOF_KEY = "EINV0000000015", "rehearsal-mof-key-0123456789"
APP_SECRET = secrets.token_hex(32)  # as `openssl rand -hex 32` makes it
USER = "U" + "d" * 32
KEYWORD = "登錄發票"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _procfile() -> dict[str, str]:
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def _checkout(target: Path) -> None:
    """The files a clone of this commit has (tracked, plus new files not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _build(app: Path, venv: Path) -> None:
    """What the platform's Python build does with a requirements.txt: a fresh environment and
    `pip install -r requirements.txt` (hash-checked, since the lock carries hashes). uv installs
    the same lock when it is at hand (seconds instead of minutes on a cold cache)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if Path(uv).exists():
        command = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                   "--require-hashes", "-r", "requirements.txt"]
    else:
        command = [str(venv / "bin" / "pip"), "install", "-q", "--require-hashes", "-r", "requirements.txt"]
    done = subprocess.run(command, cwd=app, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    shown = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "show", "invoice-campaigns"],
                           capture_output=True, text=True)
    assert shown.returncode != 0, "the project itself is not installed: the Procfile must run from the checkout"


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _post_json(url: str, body: object) -> object:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_build_release_two_processes_s3_photos_and_links_that_verify_everywhere(tmp_path, s3_endpoint, s3_bucket):
    app, venv = tmp_path / "app", tmp_path / "venv"
    _checkout(app)
    _build(app, venv)

    database = f"rehearsal_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    run_sync(_create_pg_database(database))
    processes: list[tuple[str, subprocess.Popen]] = []
    try:
        pg = make_url(POSTGRES_URL).set(database=database)
        platform_url = "postgres://" + pg.render_as_string(hide_password=False).split("://", 1)[1] + "?sslmode=disable"
        line_port, mof_port, web_port, second_port = (_free_port() for _ in range(4))
        line = f"http://127.0.0.1:{line_port}"
        code = invoice_code(15)
        seed = tmp_path / "mof-seed.json"
        seed.write_text(json.dumps({"invoices": [{
            "invNum": code.invoice_number, "invDate": code.date.isoformat(), "randomNumber": code.random_code,
            "sellerBan": code.seller_ban, "sellerName": "全通路股份有限公司", "encrypt": code.encrypt,
            "amount": str(code.total_amount),
            "items": [{"description": i.name, "quantity": str(i.quantity), "unitPrice": str(i.unit_price)}
                      for i in code.items]}]}), encoding="utf-8")
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("LINE_", "MOF_", "DATABASE_", "REDIS_", "PHOTO_", "S3_", "APP_", "DYNO",
                                     "WEB_CONCURRENCY", "PUBLIC_BASE_URL", "ADMIN_CLI_USER"))}
        base["PATH"] = f"{venv / 'bin'}{os.pathsep}{base.get('PATH', '')}"
        base.pop("PYTHONPATH", None)
        env = {**base, "DATABASE_URL": platform_url, "REDIS_URL": REDIS_URL, "STATE_PREFIX": f"rehearsal:{RUN_ID}",
               "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
               "LINE_API_BASE_URL": line, "LINE_DATA_API_BASE_URL": line, "LIFF_ID": "1234567890-AbCdEfGh",
               "MOF_API_BASE_URL": f"http://127.0.0.1:{mof_port}", "MOF_APP_ID": MOF_APP_ID, "MOF_API_KEY": MOF_KEY,
               "APP_SECRET": APP_SECRET, "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
               "PHOTO_STORE_URL": f"s3://{s3_bucket}/rehearsal", "S3_ENDPOINT_URL": s3_endpoint,
               "RUN_MIGRATIONS": "false"}

        def start(name: str, command: str, **extra: str) -> None:
            log = (tmp_path / f"{name}.log").open("w")
            proc = subprocess.Popen(["bash", "-c", command], cwd=app, env={**env, **extra}, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            processes.append((name, proc))

        def run(*args: str) -> str:
            done = subprocess.run(["python", "-m", "admin_cli", *args], cwd=app, env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
            return done.stdout

        procfile = _procfile()
        release = subprocess.run(["bash", "-c", procfile["release"]], cwd=app, env=env, capture_output=True,
                                 text=True, timeout=180)
        assert release.returncode == 0, release.stderr
        assert "database schema: empty →" in release.stdout

        start("line", f"python -m bot.simulators line --port {line_port} --channel-secret {SECRET} "
                      f"--access-token {TOKEN}")
        start("mof", f"python -m bot.simulators mof --port {mof_port} --app-id {MOF_APP_ID} --api-key {MOF_KEY} "
                     f"--seed-file {seed}")
        # As docs/deploy.md scales it: web processes only acknowledge and serve; the worker handles the
        # inbox's events (card, photo download into the bucket, MOF), sends LINE messages and verifies.
        web_only = {"HANDLE_EVENTS": "false", "RUN_WORKER": "false"}
        start("web", procfile["web"], PORT=str(web_port), DYNO="web.1", **web_only)
        start("worker", procfile["worker"], DYNO="worker.1")
        start("web2", procfile["web"], PORT=str(second_port), DYNO="web.2", **web_only)
        for port in (line_port, mof_port, web_port, second_port):
            _wait_http(f"http://127.0.0.1:{port}/healthz" if port in (web_port, second_port)
                       else f"http://127.0.0.1:{port}/_sim/messages")

        today = dt.date.today()
        campaign = yaml.safe_load((app / "docs" / "examples" / "list-only.yaml").read_text(encoding="utf-8"))
        campaign.update(channel="default", start_at=f"{today - dt.timedelta(days=2)}T00:00",
                        end_at=f"{today + dt.timedelta(days=30)}T23:59")
        campaign["conditions"]["issue_dates"] = {"start": str(today - dt.timedelta(days=30)), "end": str(today)}
        campaign["conditions"]["scope"]["threshold"] = 1
        (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(campaign, allow_unicode=True), encoding="utf-8")
        run("users", "add", "ops", "--role", "admin")
        created = run("--as", "ops", "campaigns", "create", "-f", str(tmp_path / "campaign.yaml"))
        campaign_id = created.split()[2]
        run("--as", "ops", "campaigns", "publish", campaign_id)
        run("--as", "ops", "triggers", "add", campaign_id, "--keyword", KEYWORD)

        def messages() -> list[dict]:
            return [m for m in json.loads(_get(f"{line}/_sim/messages")[1]) if m["to"] == USER]

        callback = f"http://127.0.0.1:{web_port}/callback"
        deadline = time.monotonic() + 60  # triggers are re-read at most every 5 seconds
        while not messages():
            assert time.monotonic() < deadline, ("no invoice card", (tmp_path / "worker.log").read_text()[-3000:])
            assert _post_json(f"{line}/_sim/deliver", {"url": callback, "events": [
                {"type": "text", "userId": USER, "text": KEYWORD}]})
            time.sleep(1)
        photo = photo_of(code)
        _post_json(f"{line}/_sim/deliver", {"url": callback, "events": [
            {"type": "image", "userId": USER, "contentBase64": base64.b64encode(photo).decode()}]})
        deadline = time.monotonic() + 60
        while len(messages()) < 2:
            assert time.monotonic() < deadline, f"no answer to the photo: {(tmp_path / 'worker.log').read_text()[-3000:]}"
            time.sleep(0.2)
        assert code.invoice_number[2:] in json.dumps(messages()[1], ensure_ascii=False)

        keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint)
                .list_objects_v2(Bucket=s3_bucket, Prefix="rehearsal/").get("Contents", [])]
        assert len(keys) == 1 and keys[0].startswith(f"rehearsal/photos/{campaign_id}/")
        kept = boto3.client("s3", endpoint_url=s3_endpoint).get_object(Bucket=s3_bucket, Key=keys[0])
        assert kept["Body"].read() == photo

        run("--as", "ops", "reports", "export", campaign_id, "participants", "-o", str(tmp_path / "people.csv"))
        with (tmp_path / "people.csv").open(encoding="utf-8-sig") as f:
            [row] = list(csv.DictReader(f))
        link = row["發票檔案"]
        assert link.startswith(f"http://127.0.0.1:{web_port}/{keys[0].removeprefix('rehearsal/')}?e=")
        on_second = link.replace(f":{web_port}/", f":{second_port}/")
        assert _get(on_second) == (200, photo)
        assert _get(link) == (200, photo)
        assert _get(on_second[:-1] + ("0" if on_second[-1] != "0" else "1"))[0] == 404
        assert not list(tmp_path.glob("app/data/photos/**/*.img")), "no photo on the local disk"
    finally:
        for _name, proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for _name, proc in processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        run_sync(_drop_pg_database(database))
