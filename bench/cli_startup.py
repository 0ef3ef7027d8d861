"""Benchmark: start-up of `admin-cli` (help, completion, read commands on SQLite) and of
`python -m bot` (to a healthy /healthz, sandbox mode), as whole processes, side by side with
`python -c 'import typer, rich'` measured in the same rounds (issue 29).

    .venv/bin/python bench/cli_startup.py --rounds 15

Sets up a scratch SQLite database (the README walkthrough's first steps: a user, a channel, one
campaign from docs/examples with a few uploads), runs every case once to warm the bytecode
caches (as an installed program has them), then runs the cases round-robin `--rounds` times and
prints the median and 90th-percentile wall time, the median CPU time (user + system: on a busy
machine closer to what a quiet one shows as wall time), the median peak RSS, the ratio of the
median to the typer+rich baseline's median, and the issue's budget (0.3 s for help and
completion, 0.8 s for the read commands), judged on the median wall time.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "admin_cli"]


@dataclass
class Case:
    name: str
    argv: list[str]
    budget: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peaks_kib: list[int] = field(default_factory=list)


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (KiB) of one process, output
    discarded; a failure stops the bench."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=env["BENCH_CWD"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}: {process.stderr.read().decode()[-800:]}")
    process.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def record(case: Case, elapsed: float, cpu: float, peak_kib: int) -> None:
    case.times.append(elapsed)
    case.cpu.append(cpu)
    case.peaks_kib.append(peak_kib)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_once(env: dict[str, str]) -> tuple[float, float, int]:
    """`python -m bot` in sandbox mode on a free port: seconds from spawn to the first 200 from
    /healthz, and the process's CPU seconds and peak RSS (KiB) when it is stopped right after."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bot"], env={**env, "PORT": str(port)}, cwd=env["BENCH_CWD"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    healthy = None
    while healthy is None and time.perf_counter() - started < 60:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    healthy = time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.01)
    process.terminate()
    _, _, usage = os.wait4(process.pid, 0)
    if healthy is None:
        raise SystemExit("python -m bot: /healthz did not answer 200 within 60 s")
    return healthy, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def prepare(folder: Path) -> dict[str, str]:
    """A scratch walkthrough database and the environment every case runs in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "LINE_CHANNEL_SECRET",
                                                            "LINE_CHANNEL_ACCESS_TOKEN", "REDIS_URL")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="80", BENCH_CWD=str(folder), ADMIN_CLI_USER="boss",
               DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'bench.db'}", DATA_DIR=str(folder / "data"))
    shutil.copy(ROOT / "docs" / "examples" / "whole-invoice-amount-tiers.yaml", folder / "campaign.yaml")
    steps = [["db", "upgrade"], ["users", "add", "boss", "--role", "admin"],
             ["channels", "add", "品牌官方帳號", "--basic-id", "@brand123", "--liff-id", "1234567890-AbCdEfGh"],
             ["campaigns", "create", "-f", "campaign.yaml"]]
    secrets = {"LINE_CHANNEL_SECRET": "0123456789abcdef0123456789abcdef", "LINE_CHANNEL_ACCESS_TOKEN": "t" * 40}
    for step in steps:
        done = subprocess.run([*CLI, *step], env={**env, **secrets}, cwd=folder, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"setup {' '.join(step)}: {done.stderr}")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    complete = {"_ADMIN_CLI_COMPLETE": "complete_bash"}
    cases = [
        Case("python -c 'import typer, rich' (baseline)", [sys.executable, "-c", "import typer, rich"]),
        Case("admin-cli --help", [*CLI, "--help"], 0.3),
        Case("admin-cli campaigns --help", [*CLI, "campaigns", "--help"], 0.3),
        Case("admin-cli reports export --help", [*CLI, "reports", "export", "--help"], 0.3),
        Case("completion: admin-cli ca<TAB>", CLI, 0.3, {**complete, "COMP_WORDS": "admin-cli ca", "COMP_CWORD": "1"}),
        Case("completion: admin-cli campaigns <TAB>", CLI, 0.3,
             {**complete, "COMP_WORDS": "admin-cli campaigns ", "COMP_CWORD": "2"}),
        Case("completion: …export 1 participants --<TAB>", CLI, 0.3,
             {**complete, "COMP_WORDS": "admin-cli reports export 1 participants --", "COMP_CWORD": "5"}),
        Case("admin-cli campaigns list", [*CLI, "campaigns", "list"], 0.8),
        Case("admin-cli reports stats 1", [*CLI, "reports", "stats", "1"], 0.8),
    ]
    service = Case("python -m bot → healthy /healthz (sandbox)", [sys.executable, "-m", "bot"])
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        env = prepare(Path(scratch))
        for case in cases:  # warm-up: bytecode caches written, files in the page cache
            run_once(case.argv, {**env, **case.env})
        service_once(env)
        for _ in range(rounds):
            for case in cases:
                record(case, *run_once(case.argv, {**env, **case.env}))
            record(service, *service_once(env))
    baseline = statistics.median(cases[0].times)
    print(f"{rounds} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; wall time of whole processes (CPU: user + system, median)")
    print(f"{'case':<46} {'median':>8} {'p90':>8} {'CPU':>7} {'peak RSS':>9} {'× base':>7}  budget")
    for case in [*cases, service]:
        ordered = sorted(case.times)
        median = statistics.median(ordered)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        peak = statistics.median(case.peaks_kib) / 1024
        cpu = statistics.median(case.cpu)
        verdict = "" if case.budget is None else f"< {case.budget:.1f} s {'ok' if median < case.budget else 'OVER'}"
        print(f"{case.name:<46} {median:>7.3f}s {p90:>7.3f}s {cpu:>6.3f}s {peak:>6.0f} MiB {median / baseline:>6.1f}×  "
              f"{verdict}")


if __name__ == "__main__":
    main()
