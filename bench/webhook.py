"""Benchmark: LINE webhook acknowledgement. A load generator on loopback posts signed webhook
batches (1–5 text events per request) to the REAL service (`python -m bot` in its own process,
SQLite file or PostgreSQL) and, in the same run, to a bare aiohttp handler (reads the body,
checks the signature, parses the JSON, answers 200) as the baseline; prints events/s and ack
latency p50/p99 and the ratio to bare. Each acknowledged event is first stored in the inbox.

    .venv/bin/python -m bench.webhook [--rate 500] [--duration 10] [--concurrency 32] [--scaling-events 3000]
        [--closed-duration 8] [--backends sqlite,postgresql] [--no-work] [--ack-only] [--workers N] [--append-docs]

Per target: an open-loop run (requests leave at a fixed event arrival rate whatever the
answers do; latency counts from the scheduled send time, so a stall is not hidden) and a
closed-loop run (`--concurrency` connections each sending the next request as soon as the
previous one is answered) for the maximum ack throughput; the notes of both give the serving
process's CPU time per acknowledged request (from /proc), which the generator and the database
sharing the cores do not blur (`--rate 6000` compares bare and service at one offered load).

Events are text messages with a word that triggers nothing (the background work is one
trigger lookup); the `work` rows send a keyword that triggers a published campaign, so every
event also answers with the invoice card through the LINE simulator (a reply, its tokens
issued by the simulator); their note gives how many were answered and the time from each
event's due time to the simulator receiving its reply (p50/p99); the warm-up's events are all
answered before the measured run starts, so the workers' start-up is not counted. The scaling rows store
`--scaling-events` card requests, then handle them with one and then two worker processes
(`python -m bot worker`) and give the handled events/s. The service runs with explicit LINE
credentials against a LINE simulator in a third process (`python -m bench.webhook line-sim`),
its verification worker off, its state in Redis (`BENCH_REDIS_URL`, as in production);
`--workers N` runs the card rows as docs/deploy.md's multi-process deployment (the web process
only acknowledges, N worker processes handle). Everything listens on 127.0.0.1 and every
process is stopped at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from bot.simulators.line import SIM_ACCESS_TOKEN, SIMULATOR, LineSimulator, sign
from bot.storage.database import Database
from bot.storage.models import Campaign, Channel, OutgoingMessage, Trigger, WebhookEvent

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
# The state store and per-user locks, as in production (its keys expire with the photo window).
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = os.environ.setdefault("BENCH_WEBHOOK_SECRET", "bench-" + secrets.token_hex(16))  # children inherit it
IDLE_TEXT = "謝謝"  # matches no trigger
WORK_KEYWORD = "登錄發票"
USERS = 2000
REQUEST_TIMEOUT_S = 10.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
WARMUP_REQUESTS = 200
WORKER_START_S = 12.0  # scaling rows: time allowed for the worker processes to start
OPEN_STARTS_IN_S = 1.0  # building the open-loop bodies takes about this long


# --- the servers the generator talks to -----------------------------------------------------


def bare_app() -> web.Application:
    """The baseline: read the body, check the signature, parse the JSON, answer 200."""
    import base64
    import hashlib
    import hmac

    async def callback(request: web.Request) -> web.Response:
        body = await request.read()
        expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, request.headers.get("X-Line-Signature", "").encode()):
            return web.Response(status=400)
        json.loads(body)
        return web.Response()

    app = web.Application()
    app.router.add_post("/callback", callback)
    app.router.add_get("/healthz", lambda _r: _ok())
    return app


async def _ok() -> web.Response:
    return web.Response(text="ok")


def line_sim_app(secret: str) -> web.Application:
    """The LINE simulator plus two bench routes: reply tokens issued for given users (so the
    generator's events carry tokens this simulator accepts) and counts of what was sent."""
    sim = LineSimulator(channel_secret=secret)
    app = sim.app()

    async def tokens(request: web.Request) -> web.Response:
        body = await request.json()
        users = body.get("users") if isinstance(body, dict) else None
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            return web.json_response({"error": "users: a list of user IDs is required"}, status=400)
        return web.json_response({"tokens": [sim.issue_reply_token(u) for u in users]})

    replied_at: dict[str, float] = {}

    @web.middleware
    async def note_replies(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if request.path == "/v2/bot/message/reply" and response.status == 200:
            token = (await request.json()).get("replyToken")
            replied_at[str(token)] = time.time()
        return response

    app.middlewares.append(note_replies)

    async def reply_times(_request: web.Request) -> web.Response:
        return web.json_response(replied_at)

    async def counts(request: web.Request) -> web.Response:
        sent = request.app[SIMULATOR].messages
        return web.json_response({
            "reply": sum(1 for m in sent if m["kind"] == "reply"),
            "push": sum(1 for m in sent if m["kind"] == "push"),
        })

    app.router.add_post("/_bench/reply_tokens", tokens)
    app.router.add_get("/_bench/counts", counts)
    app.router.add_get("/_bench/reply_times", reply_times)
    app.router.add_get("/healthz", lambda _r: _ok())
    return app


def _serve(app: web.Application, port: int) -> None:
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True)


# --- processes ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    proc: asyncio.subprocess.Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _start(name: str, args: list[str], env: dict[str, str], port: int) -> Server:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.DEVNULL,
    )
    server = Server(name, proc, port)
    deadline = time.monotonic() + START_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"{name}: exited with {proc.returncode} while starting")
            try:
                async with session.get(f"{server.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        return server
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.1)
    await _stop(server)
    raise RuntimeError(f"{name}: not answering /healthz after {START_TIMEOUT_S:.0f} s")


async def _stop(server: Server) -> None:
    """SIGINT (a graceful aiohttp shutdown: background events drained), then SIGKILL."""
    if server.proc.returncode is None:
        server.proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(server.proc.wait(), STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            server.proc.kill()
            await server.proc.wait()


async def _start_workers(count: int, env: dict[str, str]) -> list[asyncio.subprocess.Process]:
    """`count` worker processes (`python -m bot worker`) of the service configured by `env`."""
    return [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env, "RUN_WORKER": "false"},
        stdout=asyncio.subprocess.DEVNULL) for _ in range(count)]


async def _stop_workers(procs: list[asyncio.subprocess.Process]) -> None:
    """SIGTERM (a graceful stop, as on a deploy) and wait."""
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await proc.wait()


def _service_env(database_url: str, port: int, line_url: str, data_dir: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url, "PORT": str(port), "HOST": "127.0.0.1",
        "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": SIM_ACCESS_TOKEN,
        "LINE_API_BASE_URL": line_url, "LINE_DATA_API_BASE_URL": line_url, "LIFF_ID": "1234567890-bench",
        "MOF_APP_ID": "BENCHAPP0001", "MOF_API_KEY": "bench-" + secrets.token_hex(8),
        "MOF_API_BASE_URL": "http://127.0.0.1:9", "RUN_WORKER": "false", "LOG_LEVEL": "WARNING",
        "APP_SECRET": secrets.token_hex(32),
        "DATA_DIR": data_dir, "REDIS_URL": REDIS_URL, "STATE_PREFIX": "bench" + secrets.token_hex(4),
    }


async def _pg_database(admin_url: str, name: str, *, drop: bool) -> str:
    import asyncpg

    admin = make_url(admin_url).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' if drop else f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


# --- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    body: bytes
    signature: str
    events: int
    tokens: tuple[str, ...] = ()


class Bodies:
    """Signed webhook bodies of 1–5 text events from a pool of users (built before timing)."""

    def __init__(self, rng: random.Random, text: str) -> None:
        self.rng = rng
        self.text = text
        self.users = ["U" + rng.getrandbits(128).to_bytes(16, "big").hex() for _ in range(USERS)]
        self.sim = LineSimulator(channel_secret=SECRET)

    def make(self, count: int, tokens: Iterator[str] | None = None, *, rate: float | None = None,
             first_at: float = 0.0) -> list[Request]:
        """`rate`: events stamped with the wall time they will be sent in an open loop at that
        rate whose first event leaves at `first_at` (the service judges reply tokens by it)."""
        out = []
        sent = 0
        for _ in range(count):
            events = []
            for _ in range(self.rng.randint(1, 5)):
                user = self.rng.choice(self.users)
                event = self.sim.text_event(user, self.text)
                if rate:
                    event["timestamp"] = int((first_at + sent / rate) * 1000)
                sent += 1
                if tokens is not None:
                    event["replyToken"] = next(tokens)
                events.append(event)
            self.sim.reply_tokens.clear()
            body = self.sim.webhook_body(events)
            out.append(Request(body, sign(SECRET, body), len(events), tuple(e["replyToken"] for e in events)))
        return out


async def _reply_tokens(session: aiohttp.ClientSession, line_url: str, users: int) -> Iterator[str]:
    """Tokens the LINE simulator process will accept (user IDs do not matter for a reply)."""
    async with session.post(f"{line_url}/_bench/reply_tokens", json={"users": ["U" + "0" * 32] * users}) as r:
        r.raise_for_status()
        return iter((await r.json())["tokens"])


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Run:
    target: str
    mode: str  # open | closed
    events: int = 0
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    note: str = ""
    sent_at: dict[str, float] = field(default_factory=dict)  # reply token → wall time its event was due

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else float("nan")


async def _post(session: aiohttp.ClientSession, url: str, req: Request) -> bool:
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Line-Signature": req.signature}
    try:
        async with session.post(url, data=req.body, headers=headers) as resp:
            await resp.read()
            return resp.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False


def _client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=512), timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    )


async def open_loop(target: str, url: str, requests: list[Request], rate: float, *,
                    server_pid: int | None = None) -> Run:
    """Each request leaves when the events before it are due at `rate` events/s. With
    `server_pid`, the note gives that process's CPU time per acknowledged request at this
    offered load (as `closed_loop`'s)."""
    run = Run(target, "open")
    due: list[float] = []
    elapsed_events = 0
    for req in requests:
        due.append(elapsed_events / rate)
        elapsed_events += req.events
    last_ack = 0.0

    async with _client() as session:
        cpu_before = _cpu_seconds(server_pid) if server_pid else None
        start = time.perf_counter()
        wall = time.time()
        for req, at in zip(requests, due):
            for token in req.tokens:
                run.sent_at[token] = wall + at

        async def one(req: Request, at: float) -> None:
            nonlocal last_ack
            ok = await _post(session, url, req)
            now = time.perf_counter()
            if ok:
                run.events += req.events
                run.requests += 1
                run.latencies.append(now - (start + at))
                last_ack = max(last_ack, now - start)
            else:
                run.errors += 1

        tasks = []
        for req, at in zip(requests, due):
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(req, at)))
        await asyncio.gather(*tasks)
        run.note = _cpu_note(server_pid, cpu_before, run.requests)
    # Sustained rate: events acked over the offered window (the last request's due time plus
    # its own 1/rate share), or until the last ack if that came later.
    run.seconds = max(elapsed_events / rate, last_ack)
    return run


def _cpu_seconds(pid: int) -> float | None:
    """The process's CPU time so far (user + system), from /proc (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def closed_loop(target: str, url: str, requests: list[Request], concurrency: int, seconds: float,
                      *, reuse: bool, server_pid: int | None = None) -> Run:
    """`concurrency` senders, each posting the next body as soon as its last one is answered.
    With `server_pid`, the note gives that process's CPU time per acknowledged request: what
    acknowledging costs, whatever else (the generator, the database) shares the cores."""
    run = Run(target, "closed")
    cpu_before = _cpu_seconds(server_pid) if server_pid else None
    pool = iter(requests)
    exhausted = False

    def next_request() -> Request | None:
        nonlocal pool, exhausted
        try:
            return next(pool)
        except StopIteration:
            if not reuse:
                exhausted = True
                return None
            pool = iter(requests)
            return next(pool)

    async with _client() as session:
        start = time.perf_counter()
        stop_at = start + seconds

        async def sender() -> None:
            while time.perf_counter() < stop_at:
                req = next_request()
                if req is None:
                    return
                sent = time.perf_counter()
                ok = await _post(session, url, req)
                if ok:
                    run.events += req.events
                    run.requests += 1
                    run.latencies.append(time.perf_counter() - sent)
                else:
                    run.errors += 1

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - start
    notes = [_cpu_note(server_pid, cpu_before, run.requests)]
    if exhausted:
        notes.append("pre-built bodies ran out")
    run.note = "; ".join(filter(None, notes))
    return run


def _cpu_note(server_pid: int | None, cpu_before: float | None, requests: int) -> str:
    """"server CPU N µs/request": the server's CPU time since `cpu_before` per answered request."""
    cpu_after = _cpu_seconds(server_pid) if server_pid else None
    if cpu_before is None or cpu_after is None or not requests:
        return ""
    return f"server CPU {(cpu_after - cpu_before) / requests * 1e6:.0f} µs/request"


# --- the runs -------------------------------------------------------------------------------


async def _seed_trigger(db: Database) -> None:
    """A published, running campaign on the default channel with the keyword trigger."""
    now = dt.datetime.now(dt.timezone.utc)
    async with db.session() as session, session.begin():
        channel_id = await session.scalar(select(Channel.id).where(Channel.name == "default"))
        if channel_id is None:
            raise RuntimeError("the service did not create its default channel")
        campaign = Campaign(channel_id=channel_id, name="基準測試活動", rules_url="https://example.com/rules",
                            start_at=now - dt.timedelta(days=1), end_at=now + dt.timedelta(days=30),
                            published_at=now - dt.timedelta(days=1), settings={})
        session.add(campaign)
        await session.flush()
        session.add(Trigger(channel_id=channel_id, campaign_id=campaign.id, kind="keyword_exact", value=WORK_KEYWORD))


async def _count(db: Database, model: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _wait_stable(probe: Any, want: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    value = await probe()
    while value < want and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        value = await probe()
    return value


async def bench_bare(args: argparse.Namespace, rng: random.Random) -> list[Run]:
    bodies = Bodies(rng, IDLE_TEXT)
    warm, opened, closed = bodies.make(WARMUP_REQUESTS), _open_requests(bodies, args), bodies.make(5000)
    port = _free_port()
    server = await _start("bare", ["-m", "bench.webhook", "bare", "--port", str(port)], {}, port)
    try:
        url = f"{server.url}/callback"
        await closed_loop("bare", url, warm, 8, 30, reuse=False)
        runs = [await open_loop("bare", url, opened, args.rate, server_pid=server.proc.pid)]
        runs.append(await closed_loop("bare", url, closed, args.concurrency, args.closed_duration, reuse=True,
                                      server_pid=server.proc.pid))
    finally:
        await _stop(server)
    return runs


def _open_requests(bodies: Bodies, args: argparse.Namespace, tokens: Iterator[str] | None = None) -> list[Request]:
    want = int(args.rate * args.duration)
    out: list[Request] = []
    total = 0
    first_at = time.time() + OPEN_STARTS_IN_S
    while total < want:
        req = bodies.make(1, tokens, rate=args.rate, first_at=first_at + total / args.rate)[0]
        out.append(req)
        total += req.events
    return out


async def bench_service(backend: str, work: bool, args: argparse.Namespace, rng: random.Random) -> list[Run]:
    workers = args.workers if work else 0
    target = (f"{backend}{' +work' if work else ''}{' ack-only' if args.ack_only else ''}"
              f"{f' web+{workers}w' if workers else ''}")
    tmp = tempfile.TemporaryDirectory(prefix="bench-webhook-")
    pg_name = f"bench_webhook_{secrets.token_hex(4)}"
    if backend == "sqlite":
        database_url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    else:
        database_url = await _pg_database(args.postgres_url, pg_name, drop=False)
    sim_port, port = _free_port(), _free_port()
    servers: list[Server] = []
    procs: list[asyncio.subprocess.Process] = []
    db = Database(database_url)
    runs: list[Run] = []
    try:
        sim = await _start("line-sim", ["-m", "bench.webhook", "line-sim", "--port", str(sim_port)], {}, sim_port)
        servers.append(sim)
        env = _service_env(database_url, port, sim.url, tmp.name)
        if args.ack_only or workers:
            env["HANDLE_EVENTS"] = "false"  # acknowledge only: queued for the workers, if any
        service = await _start(f"service/{backend}", ["-m", "bot"], env, port)
        servers.append(service)
        procs += await _start_workers(workers, env)  # docs/deploy.md: web acknowledges, workers handle
        if work:
            await _seed_trigger(db)
        bodies = Bodies(rng, WORK_KEYWORD if work else IDLE_TEXT)
        async with aiohttp.ClientSession() as control:
            n_open = int(args.rate * args.duration)
            tokens = await _reply_tokens(control, sim.url, n_open + 5 * WARMUP_REQUESTS) if work else None
            warm = bodies.make(WARMUP_REQUESTS, tokens)
        url = f"{service.url}/callback"
        sent = 0
        warm_run = await closed_loop(target, url, warm, 8, 30, reuse=False)
        sent += warm_run.events
        if work:  # the measured run starts with nothing queued (and every worker process started)
            async with aiohttp.ClientSession() as control:
                await _wait_stable(lambda: _answered(control, sim.url), sent, START_TIMEOUT_S)
        await asyncio.sleep(1.0)
        opened = _open_requests(bodies, args, tokens)  # stamped for when they will be sent
        run = await open_loop(target, url, opened, args.rate, server_pid=service.proc.pid)
        runs.append(run)
        sent += run.events
        if work:
            # Cards answered: every acked event should reach the simulator as a reply.
            async with aiohttp.ClientSession() as control:
                done = await _wait_stable(lambda: _answered(control, sim.url), sent)
                async with control.get(f"{sim.url}/_bench/reply_times") as r:
                    replied = await r.json()
            delays = sorted(replied[t] - due for t, due in run.sent_at.items() if t in replied)
            p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))] * 1000 if delays else float("nan")
            answered = (f"{done}/{sent} events answered; open-loop replies {len(delays)}/{len(run.sent_at)}, "
                        f"event→reply p50 {statistics.median(delays) * 1000 if delays else float('nan'):.0f} ms "
                        f"p99 {p99:.0f} ms")
            run.note = "; ".join(filter(None, [answered, run.note]))
        else:
            await asyncio.sleep(1.0)
        # The closed loop: fresh bodies (the service drops redelivered IDs, so no reuse).
        closed_count = int(args.closed_requests)
        async with aiohttp.ClientSession() as control:
            tokens = await _reply_tokens(control, sim.url, 5 * closed_count) if work else None
        closed = bodies.make(closed_count, tokens)
        crun = await closed_loop(target, url, closed, args.concurrency, args.closed_duration, reuse=False,
                                 server_pid=service.proc.pid)
        runs.append(crun)
        sent += crun.events
        stored = await _wait_stable(lambda: _count(db, WebhookEvent), sent, 10)
        crun.note = "; ".join(filter(None, [crun.note, f"IDs stored {stored}/{sent}"]))
        if work:
            outgoing = await _count(db, OutgoingMessage)
            crun.note += f"; outbox rows {outgoing}"
    finally:
        await _stop_workers(procs)
        for server in reversed(servers):
            await _stop(server)
        await db.close()
        if backend == "postgresql":
            await _pg_database(args.postgres_url, pg_name, drop=True)
        tmp.cleanup()
    return runs


async def _answered(control: aiohttp.ClientSession, line_url: str) -> int:
    """Replies and pushes the LINE simulator has accepted."""
    async with control.get(f"{line_url}/_bench/counts") as r:
        counts = await r.json()
    return int(counts["reply"]) + int(counts["push"])


async def bench_scaling(args: argparse.Namespace, rng: random.Random, workers: int) -> Run:
    """Handling throughput of `workers` worker processes (`python -m bot worker`): the web
    process only stores events (HANDLE_EVENTS=false); `--scaling-events` card requests are
    stored first and held until `WORKER_START_S` later, while the workers start; events/s from
    the first handled event to the last (webhook_events.handled_at), so process start-up does
    not count."""
    target = f"postgresql workers={workers}"
    tmp = tempfile.TemporaryDirectory(prefix="bench-webhook-")
    pg_name = f"bench_webhook_{secrets.token_hex(4)}"
    database_url = await _pg_database(args.postgres_url, pg_name, drop=False)
    sim_port, port = _free_port(), _free_port()
    servers: list[Server] = []
    procs: list[asyncio.subprocess.Process] = []
    db = Database(database_url)
    run = Run(target, "handle")
    try:
        sim = await _start("line-sim", ["-m", "bench.webhook", "line-sim", "--port", str(sim_port)], {}, sim_port)
        servers.append(sim)
        env = _service_env(database_url, port, sim.url, tmp.name)
        service = await _start("service/web", ["-m", "bot"], {**env, "HANDLE_EVENTS": "false"}, port)
        servers.append(service)
        await _seed_trigger(db)
        bodies = Bodies(rng, WORK_KEYWORD)
        async with aiohttp.ClientSession() as control:
            tokens = await _reply_tokens(control, sim.url, 5 * args.scaling_events)
        requests: list[Request] = []
        while sum(r.events for r in requests) < args.scaling_events:
            requests.extend(bodies.make(1, tokens))
        stored = await closed_loop(target, f"{service.url}/callback", requests, 16, 600, reuse=False)
        # The stored events become due together once every worker has started, so that no
        # worker's start-up (imports, connections) runs while another is already handling.
        due_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=WORKER_START_S)
        async with db.session() as session, session.begin():
            await session.execute(update(WebhookEvent).values(next_attempt_at=due_at))
        procs += await _start_workers(workers, env)

        async def handled() -> int:
            return await _count_where(db, WebhookEvent.state == "done")

        done = await _wait_stable(handled, stored.events, timeout=600)
        async with db.session() as session:
            first, last = (await session.execute(
                select(func.min(WebhookEvent.handled_at), func.max(WebhookEvent.handled_at))
                .where(WebhookEvent.state == "done"))).one()
        run.events = done
        run.seconds = max((last - first).total_seconds(), 1e-6) if first and last else 0.0
        run.note = f"{done}/{stored.events} events handled"
    finally:
        await _stop_workers(procs)
        for server in reversed(servers):
            await _stop(server)
        await db.close()
        await _pg_database(args.postgres_url, pg_name, drop=True)
        tmp.cleanup()
    return run


async def _count_where(db: Database, condition: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookEvent).where(condition)) or 0)


def table(runs: list[Run], bare: dict[str, Run]) -> str:
    lines = [
        "| target | loop | events/s | requests | errors | p50 ms | p99 ms | max ms | events/s vs bare | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        base = bare.get(r.mode)
        ratio = f"{r.rate / base.rate:.0%}" if base and base.rate else "-"
        worst = max(r.latencies) * 1000 if r.latencies else float("nan")
        lines.append(f"| {r.target} | {r.mode} | {r.rate:,.0f} | {r.requests:,} | {r.errors} | {r.p50:.1f} | "
                     f"{r.pct(0.99):.1f} | {worst:.1f} | {ratio} | {r.note} |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[Run]:
    rng = random.Random(args.seed)
    runs = await bench_bare(args, rng)
    for r in runs:
        print(f"bare       {r.mode:6} {r.rate:8.0f} events/s  p50 {r.p50:6.1f} ms  p99 {r.pct(0.99):6.1f} ms", flush=True)
    for backend in args.backends:
        for work in ([False] if args.no_work or args.ack_only else [False, True]):  # nothing answers when ack-only
            got = await bench_service(backend, work, args, rng)
            for r in got:
                print(f"{r.target:10} {r.mode:6} {r.rate:8.0f} events/s  p50 {r.p50:6.1f} ms  "
                      f"p99 {r.pct(0.99):6.1f} ms  errors {r.errors}  {r.note}", flush=True)
            runs += got
    if args.scaling_events:
        scaling = []
        for workers in (1, 2):
            r = await bench_scaling(args, rng, workers)
            print(f"{r.target:10} {r.mode:6} {r.rate:8.0f} events/s handled  {r.note}", flush=True)
            scaling.append(r)
        if scaling[0].rate:
            scaling[1].note += f"; {scaling[1].rate / scaling[0].rate:.2f}× one worker"
        runs += scaling
    return runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.webhook", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    for name in ("bare", "line-sim"):
        serve = sub.add_parser(name, help=f"serve the {name} app (used by the benchmark)")
        serve.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=500.0, help="open-loop events per second")
    p.add_argument("--duration", type=float, default=10.0, help="open-loop seconds")
    p.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    p.add_argument("--closed-duration", type=float, default=8.0, help="closed-loop seconds")
    p.add_argument("--closed-requests", type=int, default=40000, help="bodies built for a closed-loop service run")
    p.add_argument("--backends", type=lambda s: s.split(","), default=["sqlite", "postgresql"])
    p.add_argument("--no-work", action="store_true", help="skip the runs whose events trigger a campaign card")
    p.add_argument("--ack-only", action="store_true",
                   help="service rows run with HANDLE_EVENTS=false: acknowledgement alone (events left queued)")
    p.add_argument("--workers", type=int, default=0,
                   help="card rows: the web process only acknowledges and this many `python -m bot worker` "
                        "processes handle (0: the web process handles, as with HANDLE_EVENTS's default)")
    p.add_argument("--postgres-url", default=DEFAULT_PG, help="server for a throwaway benchmark database")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--scaling-events", type=int, default=3000,
                   help="card requests handled by 1 then 2 worker processes (PostgreSQL; 0: skip)")
    p.add_argument("--append-docs", action="store_true", help="append the table to docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.command == "bare":
        _serve(bare_app(), args.port)
        return 0
    if args.command == "line-sim":
        _serve(line_sim_app(SECRET), args.port)
        return 0
    if args.rate <= 0 or args.duration <= 0 or args.concurrency < 1 or args.closed_duration <= 0:
        p.error("rate, duration, concurrency, closed-duration: must be > 0")
    if set(args.backends) - {"sqlite", "postgresql"}:
        p.error("backends: sqlite and/or postgresql")
    if args.workers < 0:
        p.error("workers: must be >= 0")
    runs = asyncio.run(main_async(args))
    bare = {r.mode: r for r in runs if r.target == "bare"}
    result = table(runs, bare)
    print()
    print(result)
    if args.append_docs:
        given = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--append-docs"]
        command = " ".join(["python -m bench.webhook", *given]).strip()
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as out:
            out.write(f"\n`{command}` ({dt.date.today().isoformat()}, {os.cpu_count()} CPUs)\n\n{result}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
