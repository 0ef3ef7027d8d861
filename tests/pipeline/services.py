"""The whole service as real processes for the inbox fault tests: `python -m bot` (web) and
`python -m bot worker`, against the LINE and MOF simulators served by the test itself on
127.0.0.1, a real database, and optionally a private `redis-server` on a free port that a
test may kill and restart (never the shared one at 6379)."""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.simulators.invoice_photos import render_photo
from bot.simulators.line import SIM_ACCESS_TOKEN, SIM_CHANNEL_SECRET, LineSimulator
from bot.storage.database import Database
from bot.storage.models import Reward, Upload, WebhookEvent
from tests.chat.conftest import LIFF_ID, MOF_APP_ID, MOF_KEY, invoice_code
from tests.chat.conftest import seed_campaign as chat_seed_campaign

ROOT = Path(__file__).resolve().parents[2]
COUPON_PREFIX = "FAULT-"
APP_SECRET = secrets.token_hex(32)  # one for every process of the run, as `openssl rand -hex 32` makes it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server (no persistence) on a free port, killable and restartable."""

    def __init__(self, log_dir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server: not installed")
        self.binary = binary
        self.port = free_port()
        self.log_dir = log_dir
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.log_dir), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@dataclass
class Deployment:
    """The service processes of one test and what they share."""

    database_url: str
    line_url: str
    mof_url: str
    data_dir: Path
    redis_url: str = ""
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    web_port: int = 0

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": self.database_url, "HOST": "127.0.0.1",
            "LINE_CHANNEL_SECRET": SIM_CHANNEL_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": SIM_ACCESS_TOKEN,
            "LINE_API_BASE_URL": self.line_url, "LINE_DATA_API_BASE_URL": self.line_url, "LIFF_ID": LIFF_ID,
            "MOF_API_BASE_URL": self.mof_url, "MOF_APP_ID": MOF_APP_ID, "MOF_API_KEY": MOF_KEY,
            "DATA_DIR": str(self.data_dir), "REDIS_URL": self.redis_url, "LOG_LEVEL": "WARNING",
            "APP_SECRET": APP_SECRET, "LEASE_SECONDS": "3", **extra,
        }

    @property
    def callback(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/callback"

    async def web(self, name: str, **extra: str) -> asyncio.subprocess.Process:
        self.web_port = self.web_port or free_port()
        proc = await self._spawn(name, ["-m", "bot"], PORT=str(self.web_port), **extra)
        await self._until_healthy(proc, name)
        return proc

    async def worker(self, name: str, **extra: str) -> asyncio.subprocess.Process:
        proc = await self._spawn(name, ["-m", "bot", "worker"], PORT=str(self.web_port or free_port()), **extra)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.startswith(b"bot worker ready"), self.log(name)
        return proc

    async def _spawn(self, name: str, args: list[str], **extra: str) -> asyncio.subprocess.Process:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=ROOT, env=self.env(**extra), stdout=asyncio.subprocess.PIPE, stderr=log)
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    async def _until_healthy(self, proc: asyncio.subprocess.Process, name: str) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if proc.returncode is not None:
                    raise AssertionError(f"{name} exited: {self.log(name)}")
                try:
                    async with http.get(f"http://127.0.0.1:{self.web_port}/healthz") as resp:
                        if resp.status in (200, 503):
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{name} not answering: {self.log(name)}")

    async def health(self) -> int:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.web_port}/healthz") as resp:
            return resp.status

    async def kill(self, name: str, sig: int = signal.SIGKILL) -> float:
        """Signal a process and wait for it; the seconds it took to exit."""
        proc = self.procs[name]
        started = time.monotonic()
        if proc.returncode is None:
            proc.send_signal(sig)
        await asyncio.wait_for(proc.wait(), 60)
        return time.monotonic() - started

    async def close(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def seed_campaign(db: Database, coupons: int) -> int:
    """A published campaign on the default channel with a keyword trigger and a coupon pool."""
    return await chat_seed_campaign(db, coupons=coupons, coupon_prefix=COUPON_PREFIX)


def photos(count: int) -> list[tuple[Any, bytes]]:
    """`count` different invoices and their photos (small, so decoding stays quick)."""
    out = []
    for i in range(count):
        code = invoice_code(1000 + i)
        out.append((code, render_photo(code, seed=i, size=(800, 600))))
    return out


async def seed_mof(mof_url: str, codes: list[Any]) -> None:
    invoices = [{
        "invNum": c.invoice_number, "invDate": c.date.isoformat(), "randomNumber": c.random_code,
        "sellerBan": c.seller_ban, "sellerName": "全通路股份有限公司", "encrypt": c.encrypt,
        "amount": str(c.total_amount),
        "items": [{"description": i.name, "quantity": str(i.quantity), "unitPrice": str(i.unit_price)} for i in c.items],
    } for c in codes]
    async with aiohttp.ClientSession() as http, http.post(f"{mof_url}/_sim/invoices", json={"invoices": invoices}) as r:
        assert r.status == 200, await r.text()


def requests_to(sim: LineSimulator, user: str) -> list[dict[str, Any]]:
    """Every reply or push request LINE accepted for `user`, oldest first."""
    return [m for m in sim.messages if m["to"] == user]


def texts(request: dict[str, Any]) -> str:
    return repr(request["messages"])


async def wait_until(probe: Any, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await probe():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def coupons_given(db: Database) -> int:
    return await count(db, Reward, Reward.coupon_code.is_not(None))


async def coupon_messages(db: Database) -> dict[str, int]:
    """Outbox rows carrying a coupon code, per state: "sent", or "queued" (a result notice held
    in quiet hours, 00:00–08:01 Taipei, when the answer to the photo had already gone out)."""
    from bot.storage.models import OutgoingMessage

    async with db.session() as s:
        rows = (await s.execute(select(OutgoingMessage.state, OutgoingMessage.messages))).all()
    out: dict[str, int] = {}
    for state, messages in rows:
        if COUPON_PREFIX in repr(messages):
            out[state] = out.get(state, 0) + 1
    return out


async def uploads_per_user(db: Database) -> Counter[int]:
    async with db.session() as s:
        return Counter((await s.scalars(select(Upload.customer_id))).all())


async def inbox_states(db: Database) -> dict[str | None, int]:
    async with db.session() as s:
        return dict((await s.execute(select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state))).all())
