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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "MOF_", "DATABASE_", "REDIS_"))}
    env.update(extra)
    return env


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
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
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
