"""Console accounts over real HTTP: sign-in and sign-out, the session cookie, CSRF, session
fixation, expiry, password changes, rate limits, login links, sandbox one-click, the audit log
and its page, security headers and escaping; `admin-cli users set-password` and `login-link`."""
from __future__ import annotations

import asyncio
import datetime as dt
import html
import uuid

import aiohttp
import pytest
from sqlalchemy import func, select
from yarl import URL

import bot.accounts.passwords as passwords
from bot.accounts.login_links import TTL, create_login_link, peek_login_link, redeem_login_link
from bot.accounts.password_change import set_password
from bot.accounts.sessions import IDLE, LIFETIME, open_session, resolve
from bot.accounts.signin import ACCOUNT_BURST, ADDRESS_BURST
from bot.config import Config
from bot.storage import audit
from bot.storage.database import Database
from bot.storage.models import AdminUser, AuditEntry, ConsoleLoginLink, ConsoleSession, utcnow
from console.sessions import COOKIE
from flows.campaigns.roles import Role
from tests.cli.conftest import cli  # noqa: F401 - the CLI fixture
from tests.console.conftest import add_user, login_csrf
from tests.sandbox.conftest import free_port, start_sandbox  # noqa: F401 - start_sandbox: a fixture
from tests.sandbox.test_access import own_address, serve

PASSWORD = "correct horse battery"


async def with_password(db: Database, role: Role, name: str | None = None, password: str = PASSWORD) -> AdminUser:
    user = await add_user(db, role, name)
    await set_password(db, user.name, password, None)
    return user


async def sign_in(http, username: str, password: str, *, next_path: str | None = None, headers=None):
    page = await http.get("/console/login" + (f"?next={next_path}" if next_path else ""), allow_redirects=False)
    form = {"csrf_token": login_csrf(await page.text()), "username": username, "password": password}
    if next_path is not None:
        form["next"] = next_path
    return await http.post("/console/login", data=form, allow_redirects=False, headers=headers or {})


def session_cookie(response) -> str:
    return response.cookies[COOKIE].value


async def actions(db: Database) -> list[str]:
    async with db.session() as s:
        return [row.action for row in reversed(await audit.search(s, limit=1000))]


# --- sign-in, cookie, next --------------------------------------------------------------------------

async def test_sign_in_sets_a_new_httponly_lax_cookie_and_follows_next(console_app):
    user = await with_password(console_app.db, Role.MARKETER)
    http = await console_app.client()
    anonymous = await http.get("/console/", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"].startswith("/console/login")
    done = await sign_in(http, user.name, PASSWORD, next_path="/console/audit?x=1")
    assert done.status == 303 and done.headers["Location"] == "/console/audit?x=1"
    morsel = done.cookies[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/console/"
    assert not morsel["secure"]  # http://127.0.0.1 here
    assert (await resolve(console_app.db, morsel.value)).name == user.name
    home = await http.get("/console/", allow_redirects=False)
    assert home.status in (200, 303) and not home.headers.get("Location", "").startswith("/console/login")


@pytest.mark.parametrize("evil", ["//evil.example/console/", "https://evil.example/console/", "/sandbox",
                                  "/console\\..\\x", "javascript:alert(1)"])
async def test_next_stays_under_console(console_app, evil):
    user = await with_password(console_app.db, Role.MARKETER)
    done = await sign_in(await console_app.client(), user.name, PASSWORD, next_path=evil)
    assert done.status == 303 and done.headers["Location"] == "/console/"


async def test_secure_cookie_when_served_over_https(make_console_app):
    app = await make_console_app(public_base_url="https://console.example.com")
    user = await with_password(app.db, Role.ADMIN)
    http = await app.client()
    page = await http.get("/console/login")
    pre = page.cookies["console_login_csrf"]
    assert pre["secure"]  # so this plain-http test browser will not send it back: send it by hand
    done = await http.post("/console/login", data={"csrf_token": login_csrf(await page.text()), "username": user.name,
                                                   "password": PASSWORD},
                           headers={"Cookie": f"console_login_csrf={pre.value}"}, allow_redirects=False)
    assert done.status == 303 and done.cookies[COOKIE]["secure"] and done.cookies[COOKIE]["httponly"]


async def test_unknown_user_and_wrong_password_get_the_same_answer_and_work(console_app, monkeypatch):
    user = await with_password(console_app.db, Role.MARKETER)
    verified: list[str] = []
    real = passwords.HASHER

    class Counting:
        def verify(self, stored, password):
            verified.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(passwords, "HASHER", Counting())
    answers = []
    for name in (user.name, "nobody-here"):
        response = await sign_in(await console_app.client(), name, "wrong password!")
        body = await response.text()
        answers.append((response.status, body.replace(html.escape(name), "NAME").replace(login_csrf(body), "T"),
                        COOKIE in response.cookies))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and "帳號或密碼錯誤。" in answers[0][1] and answers[0][2] is False
    assert len(verified) == 2 and all(stored.startswith("$argon2id$") for stored in verified)  # one dummy
    assert "wrong password!" not in str([e.detail for e in await _entries(console_app.db)])


async def _entries(db: Database) -> list[AuditEntry]:
    async with db.session() as s:
        return list(await s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


# --- CSRF ---------------------------------------------------------------------------------------------

async def test_sign_in_form_needs_its_pre_session_token(console_app):
    user = await with_password(console_app.db, Role.ADMIN)
    http = await console_app.client()
    page = await http.get("/console/login")
    morsel = page.cookies["console_login_csrf"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/console/"
    for token in (None, "wrong-" + "x" * 30, ""):
        form = {"username": user.name, "password": PASSWORD}
        if token is not None:
            form["csrf_token"] = token
        refused = await http.post("/console/login", data=form, allow_redirects=False)
        assert refused.status == 403 and COOKIE not in refused.cookies
        assert "頁面已過期，請重新登入。" in await refused.text()
    other = await console_app.client()  # another browser's valid token is not this browser's
    foreign = login_csrf(await (await other.get("/console/login")).text())
    fresh = await console_app.client()
    refused = await fresh.post("/console/login", data={"csrf_token": foreign, "username": user.name,
                                                      "password": PASSWORD}, allow_redirects=False)
    assert refused.status == 403


async def test_csrf_refused_missing_wrong_and_another_sessions(console_app, console_client):
    alice = await console_client(Role.ADMIN)
    bob = await console_client(Role.ADMIN)
    for data in ({}, {"csrf_token": "nope"}, {"csrf_token": bob.csrf}):
        refused = await alice.http.post("/console/logout", data=data, allow_redirects=False)
        assert refused.status == 403, data
        assert "CSRF" in await refused.text()
    header = await alice.http.post("/console/logout", headers={"X-CSRF-Token": bob.csrf}, allow_redirects=False)
    assert header.status == 403
    assert await resolve(console_app.db, alice.token) is not None  # nothing happened
    done = await alice.http.post("/console/logout", headers={"X-CSRF-Token": alice.csrf}, allow_redirects=False)
    assert done.status == 303


# --- session fixation, sign-out, expiry --------------------------------------------------------------

async def test_session_fixation_a_cookie_set_before_sign_in_is_not_the_session_after(console_app):
    victim = await with_password(console_app.db, Role.ADMIN)
    attacker = await add_user(console_app.db, Role.SALES_AGENT)
    planted = await open_session(console_app.db, attacker.id)  # a real session the attacker owns
    http = await console_app.client()
    root = URL(str(console_app.server.make_url("/console/")))
    http.session.cookie_jar.update_cookies({COOKIE: planted}, root)
    # The browser holds the planted session, so its forms carry that session's CSRF token.
    planted_csrf = (await resolve(console_app.db, planted)).csrf_token
    done = await http.post("/console/login", data={"csrf_token": planted_csrf, "username": victim.name,
                                                   "password": PASSWORD}, allow_redirects=False)
    assert done.status == 303
    assert session_cookie(done) != planted
    assert await resolve(console_app.db, planted) is None  # the planted session is over
    assert (await resolve(console_app.db, session_cookie(done))).name == victim.name
    # A made-up value the attacker wrote is never adopted either.
    made_up = await console_app.client()
    made_up.session.cookie_jar.update_cookies({COOKIE: "A" * 43}, root)
    done = await sign_in(made_up, victim.name, PASSWORD)
    assert session_cookie(done) != "A" * 43


async def test_a_signed_out_cookie_is_dead(console_app, console_client):
    client = await console_client(Role.ADMIN)
    assert (await client.get("/console/audit")).status == 200
    out = await client.post("/console/logout")
    assert out.status == 303 and out.headers["Location"] == "/console/login"
    assert out.cookies[COOKIE].value == ""  # the browser drops it
    replay = await console_app.client()
    replay.session.cookie_jar.update_cookies({COOKIE: client.token}, URL(str(console_app.server.make_url("/console/"))))
    again = await replay.get("/console/audit", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/console/login")
    assert (await replay.post("/console/logout", data={"csrf_token": client.csrf})).status == 401
    assert (await actions(console_app.db))[-1] == "console.sign_out"


async def test_idle_expiry_and_absolute_lifetime(database):
    db = database
    user = await add_user(db, Role.MARKETER)
    start = utcnow()
    idle = await open_session(db, user.id, start)
    assert await resolve(db, idle, start + IDLE - dt.timedelta(seconds=1)) is not None  # used: clock restarts
    assert await resolve(db, idle, start + 2 * IDLE - dt.timedelta(seconds=2)) is not None
    assert await resolve(db, idle, start + 3 * IDLE) is None  # idle too long
    busy = await open_session(db, user.id, start)
    moment = start
    while moment + dt.timedelta(hours=4) < start + LIFETIME:
        moment += dt.timedelta(hours=4)
        assert await resolve(db, busy, moment) is not None
    assert await resolve(db, busy, start + LIFETIME) is None  # never longer than LIFETIME, used or not
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ConsoleSession)) == 0  # expired rows go


async def test_password_change_ends_every_other_session(database):
    user = await add_user(database, Role.ADMIN)
    keep, other, third = [await open_session(database, user.id) for _ in range(3)]
    kept = await resolve(database, keep)
    ended = await set_password(database, user.name, "a brand new password", None, keep_session=kept.session_id)
    assert ended == 2
    assert await resolve(database, keep) is not None
    assert await resolve(database, other) is None and await resolve(database, third) is None
    await set_password(database, user.name, "another new password", None)
    assert await resolve(database, keep) is None
    with pytest.raises(passwords.WeakPassword):
        await set_password(database, user.name, "short", None)


# --- rate limits --------------------------------------------------------------------------------------

async def test_rate_limit_per_account_across_addresses(make_console_app):
    app = await make_console_app(trusted_proxy_hops=1)
    user = await with_password(app.db, Role.MARKETER)
    for attempt in range(ACCOUNT_BURST):
        wrong = await sign_in(await app.client(), user.name, "wrong password!",
                              headers={"X-Forwarded-For": f"198.51.100.{attempt}"})
        assert wrong.status == 401
    limited = await sign_in(await app.client(), user.name, PASSWORD, headers={"X-Forwarded-For": "203.0.113.9"})
    assert limited.status == 429 and COOKIE not in limited.cookies  # the right password is refused too
    assert "登入嘗試次數過多，請稍後再試" in await limited.text()
    other = await with_password(app.db, Role.MARKETER)
    assert (await sign_in(await app.client(), other.name, PASSWORD,
                          headers={"X-Forwarded-For": "203.0.113.9"})).status == 303  # others are not held
    assert "console.sign_in_refused" in await actions(app.db)


async def test_rate_limit_per_address_across_accounts(console_app):
    user = await with_password(console_app.db, Role.MARKETER)
    for attempt in range(ADDRESS_BURST):
        assert (await sign_in(await console_app.client(), f"guess-{attempt}", "x" * 12)).status == 401
    limited = await sign_in(await console_app.client(), user.name, PASSWORD)
    assert limited.status == 429 and COOKIE not in limited.cookies


# --- login links ----------------------------------------------------------------------------------------

async def test_login_link_works_once(console_app):
    user = await add_user(console_app.db, Role.ADMIN)
    token = await create_login_link(console_app.db, user.name, None)
    async with console_app.db.session() as s:
        stored = await s.scalar(select(ConsoleLoginLink.token_hash))
    assert stored != token and len(stored) == 64  # only the hash is kept
    http = await console_app.client()
    page = await http.get(f"/console/login-link/{token}")
    assert page.status == 200 and user.name in await page.text()
    assert (await peek_login_link(console_app.db, token)).usable  # looking at it did not use it
    used = await http.post(f"/console/login-link/{token}", data={"csrf_token": login_csrf(await page.text())},
                           allow_redirects=False)
    assert used.status == 303 and (await resolve(console_app.db, session_cookie(used))).name == user.name
    again = await console_app.client()
    page = await again.get(f"/console/login-link/{token}")
    assert page.status == 410 and "此登入連結無效或已使用過" in await page.text()
    assert "console.sign_in" in await actions(console_app.db)


async def test_login_link_expires_after_15_minutes(console_app):
    user = await add_user(console_app.db, Role.ADMIN)
    made = utcnow() - TTL - dt.timedelta(seconds=1)
    token = await create_login_link(console_app.db, user.name, None, made)
    http = await console_app.client()
    page = await http.get(f"/console/login-link/{token}")
    assert page.status == 410 and "此登入連結已過期" in await page.text()
    csrf = login_csrf(await (await http.get("/console/login")).text())
    refused = await http.post(f"/console/login-link/{token}", data={"csrf_token": csrf}, allow_redirects=False)
    assert refused.status == 410 and COOKIE not in refused.cookies
    fresh = await create_login_link(console_app.db, user.name, None, made)
    assert (await redeem_login_link(console_app.db, fresh, made + TTL - dt.timedelta(seconds=1))).actor.name == user.name


# --- sandbox ------------------------------------------------------------------------------------------

async def test_sandbox_one_click_admin(start_sandbox):  # noqa: F811
    sandbox = await start_sandbox()
    page = await sandbox.client.get("/console/login")
    body = await page.text()
    assert "以沙盒管理員登入" in body
    done = await sandbox.client.post("/console/sandbox-login", data={"csrf_token": login_csrf(body)},
                                     allow_redirects=False)
    assert done.status == 303
    audit_page = await sandbox.client.get("/console/audit")
    assert audit_page.status == 200 and "sandbox（管理員）" in await audit_page.text()
    chat = await sandbox.client.get("/sandbox")
    assert 'href="/console/"' in await chat.text()


async def test_no_sandbox_login_outside_sandbox_mode(console_app):
    http = await console_app.client()
    body = await (await http.get("/console/login")).text()
    assert "以沙盒管理員登入" not in body
    refused = await http.post("/console/sandbox-login", data={"csrf_token": login_csrf(body)}, allow_redirects=False)
    assert refused.status == 404 and COOKIE not in refused.cookies


# --- audit, headers, escaping ---------------------------------------------------------------------------

async def test_audit_records_every_console_account_event(console_app):
    user = await with_password(console_app.db, Role.ADMIN)
    http = await console_app.client()
    assert (await sign_in(http, user.name, "wrong password!")).status == 401
    assert (await sign_in(http, "nobody-here", "wrong password!")).status == 401
    done = await sign_in(http, user.name, PASSWORD)
    signed = await resolve(console_app.db, session_cookie(done))
    token = await create_login_link(console_app.db, user.name, signed.actor)
    assert (await redeem_login_link(console_app.db, token)).actor.id == user.id
    await http.post("/console/logout", data={"csrf_token": signed.csrf_token})
    async with console_app.db.session() as s:
        rows = [r for r in reversed(await audit.search(s, limit=100)) if not r.action.startswith("campaign")]
    assert [(r.action, r.actor) for r in rows] == [
        ("user.set_password", user.name),
        ("console.sign_in_failed", user.name), ("console.sign_in_failed", "未知帳號"),
        ("console.sign_in", user.name), ("user.login_link", user.name), ("console.sign_in", user.name),
        ("console.sign_out", user.name)]
    assert rows[2].detail["name"] == "nobody-here"
    assert "wrong password!" not in repr([r.detail for r in rows]) and PASSWORD not in repr([r.detail for r in rows])


async def test_audit_page_newest_first_paged_and_filtered(console_app, console_client):
    admin = await console_client(Role.ADMIN)
    async with console_app.db.session() as s, s.begin():
        start = utcnow() - dt.timedelta(days=1)
        for i in range(120):
            audit.record(s, action="test.step", target=f"thing:{i}", actor=admin.user.actor,
                         at=start + dt.timedelta(seconds=i), step=i)
    first = await (await admin.get("/console/audit?action=test.step")).text()
    assert first.count("thing:") == 50 and "thing:119" in first and "thing:70" in first and "thing:69" not in first
    assert first.index("thing:119") < first.index("thing:118")
    assert 'href="/console/audit?action=test.step&amp;page=2"' in first
    last = await (await admin.get("/console/audit?action=test.step&page=3")).text()
    assert last.count("thing:") == 20 and "thing:0<" in last and "下一頁" not in last
    nobody = await (await admin.get("/console/audit?actor=someone-else")).text()
    assert "thing:" not in nobody and "沒有符合的紀錄。" in nobody
    assert (await (await console_client(Role.SUPERVISOR)).get("/console/audit")).status == 403


async def test_user_names_render_escaped_in_the_header_and_the_audit_page(console_app, console_client):
    name = """<script>alert("x")</script>'&"""
    admin = await console_client(Role.ADMIN, name=name)
    async with console_app.db.session() as s, s.begin():
        audit.record(s, action="test.escape", target="x", actor=admin.user.actor, note=name)
    body = await (await admin.get("/console/audit")).text()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&amp;（管理員）" in body  # the header
    assert "<td>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&amp;</td>" in body  # the actor column


async def test_security_headers_on_404_and_the_sign_in_page(console_app, console_client):
    admin = await console_client(Role.ADMIN)
    for response in (await admin.get("/console/no-such-page"), await (await console_app.client()).get("/console/login"),
                     await (await console_client(Role.NO_ACCESS)).get("/console/audit")):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_no_access_sees_an_empty_home(console_app, console_client):
    nobody = await console_client(Role.NO_ACCESS)
    home = await nobody.get("/console/")
    body = await home.text()
    assert home.status == 200 and "無權限" in body and "活動列表" not in body and "稽核紀錄" not in body


# --- the CLI ----------------------------------------------------------------------------------------------

def test_cli_set_password_prompts_twice_and_ends_sessions(cli, database_url):  # noqa: F811
    assert cli("users", "add", "boss", "--role", "admin").exit_code == 0
    unknown = cli("users", "set-password", "ghost", input="a good long password\n" * 2)
    assert unknown.exit_code == 1 and "no admin user named 'ghost'" in unknown.output
    mismatch = cli("users", "set-password", "boss", input="a good long password\nsomething else\n" * 3)
    assert mismatch.exit_code != 0
    short = cli("users", "set-password", "boss", input="short\nshort\n")
    assert short.exit_code == 1 and "密碼至少需要 10 個字元" in short.output
    done = cli("users", "set-password", "boss", input="a good long password\na good long password\n")
    assert done.exit_code == 0, done.output
    assert "a good long password" not in done.output  # hidden input
    piped = cli("--as", "boss", "users", "set-password", "boss", "--password-stdin", input="another long one\n")
    assert piped.exit_code == 0, piped.output
    assert cli("--as", "boss", "users", "add", "sam", "--role", "sales_agent").exit_code == 0
    not_admin = cli("--as", "sam", "users", "set-password", "boss", "--password-stdin", input="sam owns boss now\n")
    assert not_admin.exit_code == 1 and "only 管理員 may" in not_admin.output

    async def check() -> tuple[str, list[str]]:
        db = Database(database_url)
        try:
            async with db.session() as s:
                stored = await s.scalar(select(AdminUser.password_hash).where(AdminUser.name == "boss"))
                return stored, [r.action for r in await audit.search(s, action="user.set_password")]
        finally:
            await db.close()

    stored, logged = asyncio.run(check())
    assert stored.startswith("$argon2id$") and passwords.verify_password(stored, "another long one")
    assert len(logged) == 2


def test_cli_login_link_prints_a_one_time_link(cli, database_url, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bot.example.com")
    assert cli("users", "add", "boss", "--role", "admin").exit_code == 0
    unknown = cli("users", "login-link", "ghost")
    assert unknown.exit_code == 1 and "no admin user named 'ghost'" in unknown.output
    made = cli("users", "login-link", "boss")
    assert made.exit_code == 0, made.output
    link = made.stdout.strip().splitlines()[-1]
    assert link.startswith("https://bot.example.com/console/login-link/")
    token = link.rsplit("/", 1)[1]

    async def use() -> tuple[bool, bool]:
        db = Database(database_url)
        try:
            first = await peek_login_link(db, token)
            await redeem_login_link(db, token)
            return first.usable, (await peek_login_link(db, token)).usable
        finally:
            await db.close()

    assert asyncio.run(use()) == (True, False)


@pytest.mark.parametrize("public", [False, True], ids=["default", "SANDBOX_PUBLIC"])
async def test_sandbox_login_answers_a_remote_peer_only_with_sandbox_public(database_url, tmp_path, public):
    """Issue 25's rule for sandbox-only routes, over real sockets from this machine's own
    non-loopback address (an X-Forwarded-For of 127.0.0.1 changes nothing)."""
    address = own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    config = Config(database_url=database_url, data_dir=tmp_path, state_prefix=f"t{uuid.uuid4().hex[:8]}",
                    port=free_port(), sandbox_public=public)
    runner = await serve(config, "127.0.0.1", address)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            base = f"http://{address}:{config.port}"
            async with http.get(base + "/console/login") as page:
                csrf = login_csrf(await page.text())
            async with http.post(base + "/console/sandbox-login", data={"csrf_token": csrf},
                                 headers={"X-Forwarded-For": "127.0.0.1"}, allow_redirects=False) as done:
                status, cookies = done.status, done.cookies
                body = await done.text()
    finally:
        await runner.cleanup()
    if public:
        assert status == 303 and COOKIE in cookies
    else:
        assert status == 403 and "loopback" in body and COOKIE not in cookies
