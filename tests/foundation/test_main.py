"""`python -m bot` as an operator runs it: starts in sandbox mode, or refuses bad settings."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LINE_", "MOF_", "DATABASE_", "REDIS_", "SANDBOX", "APP_SECRET"))
           and k not in ("DYNO", "PUBLIC_BASE_URL")}
    env.update(extra)
    return env


def _wait_healthy(port: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                assert response.status == 200
                return
        except OSError:
            assert proc.poll() is None, "the service ended"
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_starts_in_sandbox_mode_says_where_and_answers_healthz(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        env=_env(PORT=str(port), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/app.db"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/sandbox" in banner
        assert banner.rstrip().endswith("sandbox routes answer loopback clients only")
        _wait_healthy(port, proc)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    "env, variable",
    [({"DATABASE_URL": "nonsense"}, "DATABASE_URL"), ({"REDIS_URL": "http://x"}, "REDIS_URL"), ({"PORT": "x"}, "PORT")],
)
def test_bad_setting_stops_start_up_with_one_line(tmp_path, env, variable):
    result = subprocess.run(
        [sys.executable, "-m", "bot"], env=_env(**env), cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"configuration error: {variable}:")


def test_sandbox_start_up_log_shows_the_simulators_not_production(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        env=_env(PORT=str(port), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/app.db"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = []
        while not any("/sandbox  ·  health" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "the service ended before its banner: " + "".join(lines)
            lines.append(line)
    finally:
        proc.terminate()
        proc.wait(10)
    [starting] = [line for line in lines if '"msg": "starting"' in line]
    assert f'"line_api": "http://127.0.0.1:{port}/sandbox/line"' in starting
    assert f'"mof_api": "http://127.0.0.1:{port}/sandbox/mof"' in starting
    text = "".join(lines)
    for production in ("api.line.me", "api.einvoice.nat.gov.tw", '"mof_api_key": "None"', "sim-channel-secret"):
        assert production not in text


@pytest.mark.parametrize("command", [["bot"], ["bot", "worker"]])
@pytest.mark.parametrize("env, sign", [
    ({"DATABASE_URL": "postgresql+asyncpg://app:pw@127.0.0.1:9/prod"}, "DATABASE_URL is PostgreSQL"),
    ({"DYNO": "web.1"}, "DYNO=web.1"),
    ({"PUBLIC_BASE_URL": "https://invoices.example.com"}, "PUBLIC_BASE_URL is https"),
])
def test_a_production_deployment_without_line_credentials_refuses_to_start(tmp_path, command, env, sign):
    """No sandbox mode on a production database: one line naming the missing variables, the
    sign it saw and the override; nothing started (the database is not even reached)."""
    result = subprocess.run([sys.executable, "-m", *command], env=_env(**env), cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("configuration error: LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, MOF_APP_ID, "
                           "MOF_API_KEY, APP_SECRET: unset")
    assert f"({sign})" in line and "SANDBOX=1" in line and "pw" not in line
    assert not (tmp_path / "data").exists()


def test_sandbox_1_starts_the_sandbox_on_postgresql_and_says_who_it_answers(tmp_path, database_url):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        env=_env(PORT=str(port), DATABASE_URL=database_url, DYNO="web.1", SANDBOX="1", SANDBOX_PUBLIC="1"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert f"http://127.0.0.1:{port}/sandbox" in banner, proc.stderr.read()
    assert banner.rstrip().endswith("sandbox routes answer every client (SANDBOX_PUBLIC=1)")


def test_a_second_service_on_a_busy_port_fails_in_one_line_naming_port(tmp_path):
    """Issue 29: the walkthrough's second `python -m bot` while the first runs: one line naming
    PORT, no traceback, a non-zero exit, and nothing of the second service started."""
    port = _free_port()
    env = _env(PORT=str(port), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/app.db")
    first = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(port, first)
        second = subprocess.run([sys.executable, "-m", "bot"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
    finally:
        first.terminate()
        first.wait(10)
    assert second.returncode != 0
    assert second.stdout == ""
    [line] = second.stderr.strip().splitlines()
    assert line.startswith("configuration error: PORT:") and str(port) in line, line
    assert "Traceback" not in second.stderr and "Errno" not in line
