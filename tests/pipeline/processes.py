"""Worker processes for the fault tests: `python -m bot.verification.worker_main` started for
real, with the recording callbacks, and a MOF simulator that can be taken down and up again."""
from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.simulators.mof import create_mof_simulator
from tests.pipeline.conftest import API_KEY, APP_ID, sim_invoice

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcesses:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[asyncio.subprocess.Process] = []

    async def spawn(self, database_url: str, mof_url: str, *, owner: str, time_scale: float = 1.0,
                    lease_seconds: float | None = None, concurrency: int = 4, poll: float = 0.1,
                    mof_rate: float = 1000.0) -> asyncio.subprocess.Process:
        args = [
            sys.executable, "-m", "bot.verification.worker_main",
            "--callbacks", "tests.pipeline.recording:CALLBACKS",
            "--database-url", database_url, "--mof-url", mof_url, "--mof-app-id", APP_ID,
            "--owner", owner, "--time-scale", str(time_scale), "--concurrency", str(concurrency),
            "--poll-interval", str(poll), "--mof-rate", str(mof_rate), "--mof-timeout", "10",
        ]
        if lease_seconds is not None:
            args += ["--lease-seconds", str(lease_seconds)]
        env = {**os.environ, "MOF_API_KEY": API_KEY, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
        stderr = open(self.log_dir / f"{owner}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )
        stderr.close()
        self.procs.append(proc)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"verification worker ready"):
            raise AssertionError(f"worker {owner} did not start: {(self.log_dir / f'{owner}.log').read_text()}")
        return proc

    async def close(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[WorkerProcesses]:
    procs = WorkerProcesses(tmp_path)
    yield procs
    await procs.close()


class Simulator:
    """The MOF simulator on a fixed port that can go down (connections refused) and come back."""

    def __init__(self, port: int, invoices: list[int]) -> None:
        self.port = port
        self.invoices = invoices
        self.runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def up(self) -> None:
        self.app = create_mof_simulator(
            app_id=APP_ID, api_key=API_KEY, seed={"invoices": [sim_invoice(i) for i in self.invoices]}
        )
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

