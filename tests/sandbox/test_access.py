"""Sandbox-only routes (chat page and API, clock, mounted simulators) answer loopback clients only,
judged from the TCP peer, unless SANDBOX_PUBLIC=1; the service's own routes answer everyone.
Over real sockets: the service listens on 127.0.0.1 and on this machine's non-loopback address."""
import socket
import uuid
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.app import create_app
from bot.config import Config
from bot.sandbox_access import loopback_peer, sandbox_only
from tests.sandbox.conftest import free_port

SANDBOX_ONLY = [("GET", "/sandbox/api/clock"), ("POST", "/sandbox/api/clock"), ("GET", "/sandbox/api/campaigns"),
                ("GET", "/sandbox"), ("GET", "/sandbox/line/_sim/messages"), ("GET", "/sandbox/mof/_sim/requests"),
                ("POST", "/sandbox/line/_sim/id_tokens")]


def own_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("198.51.100.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def serve(config: Config, *hosts: str) -> web.AppRunner:
    """The service on `config.port` of each host (sandbox_config aims its clients at 127.0.0.1)."""
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    for host in hosts:
        await web.TCPSite(runner, host, config.port).start()
    return runner


async def statuses(base: str, requests: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    answers = {}
    async with aiohttp.ClientSession() as session:
        for method, path in requests:
            body = {"advance_minutes": 1} if path == "/sandbox/api/clock" else {"userId": "U" + "a" * 32}
            async with session.request(method, base + path, json=body if method == "POST" else None,
                                       headers={"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"},
                                       allow_redirects=False) as resp:
                answers[method, path] = resp.status
                if resp.status == 403:
                    assert "loopback" in await resp.text()
    return answers


@pytest.mark.parametrize("public", [False, True], ids=["default", "SANDBOX_PUBLIC"])
async def test_sandbox_routes_answer_a_remote_peer_only_with_sandbox_public(database_url, tmp_path, public):
    address = own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    config = Config(database_url=database_url, data_dir=tmp_path, state_prefix=f"t{uuid.uuid4().hex[:8]}",
                    port=free_port(), sandbox_public=public)
    runner = await serve(config, "127.0.0.1", address)
    try:
        remote = await statuses(f"http://{address}:{config.port}", SANDBOX_ONLY + [("GET", "/")])
        local = await statuses(f"http://127.0.0.1:{config.port}", SANDBOX_ONLY)
        own = await statuses(f"http://{address}:{config.port}",
                             [("GET", "/healthz"), ("GET", "/liff/manual"), ("POST", "/callback")])
    finally:
        await runner.cleanup()
    # X-Forwarded-For: 127.0.0.1 was sent every time and changed nothing.
    if public:
        assert remote == local | {("GET", "/"): 302}
    else:
        assert remote == dict.fromkeys(SANDBOX_ONLY + [("GET", "/")], 403)
    assert all(status in (200, 302) for status in local.values()), local
    assert own[("GET", "/healthz")] == 200 and own[("GET", "/liff/manual")] == 200
    assert own[("POST", "/callback")] == 400  # no signature: the webhook's own answer, not the sandbox rule


async def test_a_loopback_peer_moves_the_clock(database_url, tmp_path):
    config = Config(database_url=database_url, data_dir=tmp_path, state_prefix=f"t{uuid.uuid4().hex[:8]}",
                    port=free_port())
    runner = await serve(config, "127.0.0.1")
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{config.port}/sandbox/api/clock"
            async with session.post(url, json={"advance_minutes": 5}) as resp:
                assert resp.status == 200 and (await resp.json())["offset_seconds"] == 300
    finally:
        await runner.cleanup()


def _request_from(peer, headers=None) -> web.Request:  # noqa: ANN001
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: peer if name == "peername" else default
    return make_mocked_request("GET", "/sandbox/api/clock", headers=headers, transport=transport)


@pytest.mark.parametrize("peer, loopback", [
    (("127.0.0.1", 50000), True), (("127.9.8.7", 50000), True), (("::1", 50000, 0, 0), True),
    (("::ffff:127.0.0.1", 50000, 0, 0), True),
    (("192.0.2.2", 50000), False), (("10.0.0.5", 50000), False), (("fd00::2", 50000, 0, 0), False),
    (("::ffff:192.0.2.2", 50000, 0, 0), False), (("fe80::1%eth0", 50000, 0, 2), False), ("", False), (None, False),
])
def test_the_peer_check_reads_the_tcp_peer_only(peer, loopback):
    assert loopback_peer(_request_from(peer)) is loopback
    forged = {"X-Forwarded-For": "127.0.0.1", "Forwarded": "for=127.0.0.1", "X-Real-IP": "127.0.0.1", "Host": "127.0.0.1"}
    assert loopback_peer(_request_from(peer, forged)) is loopback


def test_every_route_sandbox_mode_adds_is_sandbox_only_and_the_services_own_are_not(tmp_path):
    """Sandbox mode's routes, by comparing its router with production's: every one it adds is
    sandbox-only; every one both modes have is not."""
    def canonicals(app: web.Application) -> set[str]:
        found = set()
        for resource in app.router.resources():
            sub = getattr(resource, "_app", None)
            found |= canonicals(sub) if isinstance(sub, web.Application) else {resource.canonical}
        return found

    production = Config(data_dir=tmp_path, line_channel_secret="s", line_channel_access_token="t")
    sandboxed = canonicals(create_app(Config(data_dir=tmp_path)))
    own = canonicals(create_app(production))
    added = sandboxed - own
    assert {"/sandbox", "/sandbox/api/clock", "/sandbox/api/campaigns", "/sandbox/line/_sim/messages",
            "/sandbox/mof/_sim/clock", "/"} <= added
    assert all(sandbox_only(path) for path in added), sorted(p for p in added if not sandbox_only(p))
    assert not any(sandbox_only(path) for path in own), sorted(p for p in own if sandbox_only(p))
    assert {"/callback", "/healthz", "/liff/manual", "/liff/sdk/shim.js"} <= own
