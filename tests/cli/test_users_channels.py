"""`admin-cli users` and `admin-cli channels`: roles enforced, secrets never echoed, one-line errors."""
from sqlalchemy import select

from bot.storage.database import Database
from bot.storage.models import AuditEntry, Channel
from tests.conftest import run_sync

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "token-" + "x" * 40


def test_first_user_must_be_admin_then_only_admins_add_users(cli):
    refused = cli("users", "add", "amy", "--role", "marketer")
    assert refused.exit_code == 1
    assert "first user must be admin" in refused.output

    assert cli("users", "add", "boss", "--role", "管理員").exit_code == 0
    no_actor = cli("users", "add", "amy", "--role", "行銷人員")
    assert no_actor.exit_code == 1 and "--as" in no_actor.output

    ok = cli("--as", "boss", "users", "add", "amy", "--role", "行銷人員")
    assert ok.exit_code == 0, ok.output
    assert "行銷人員" in ok.output
    by_marketer = cli("--as", "amy", "users", "add", "carl", "--role", "客服人員")
    assert by_marketer.exit_code == 1 and "only 管理員" in by_marketer.output
    unknown = cli("--as", "boss", "users", "add", "dan", "--role", "janitor")
    assert unknown.exit_code == 1 and "--role" in unknown.output
    dup = cli("--as", "boss", "users", "add", "amy", "--role", "主管")
    assert dup.exit_code == 1 and "exists already" in dup.output

    listing = cli("users", "list")
    assert "boss" in listing.output and "amy" in listing.output and "管理員" in listing.output


def test_channels_read_secrets_from_env_never_echo_and_respect_roles(cli, database_url):
    cli("users", "add", "boss", "--role", "admin")
    cli("--as", "boss", "users", "add", "sam", "--role", "客服人員")
    env = {"LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN}

    refused = cli("--as", "sam", "channels", "add", "品牌A", env=env)
    assert refused.exit_code == 1 and "may not change channels" in refused.output

    added = cli("--as", "boss", "channels", "add", "品牌A", "--liff-id", "1234-abcd", env=env)
    assert added.exit_code == 0, added.output
    assert SECRET not in added.output and TOKEN not in added.output

    prompted = cli("--as", "boss", "channels", "add", "品牌B", input=f"{SECRET}\n{TOKEN}\n")
    assert prompted.exit_code == 0, prompted.output
    assert SECRET not in prompted.output and TOKEN not in prompted.output

    assert cli("--as", "boss", "channels", "unlink", "品牌A").exit_code == 0
    missing = cli("--as", "boss", "channels", "unlink", "nope")
    assert missing.exit_code == 1 and "no channel named" in missing.output
    listing = cli("channels", "list")
    assert "品牌A" in listing.output and "1234-abcd" in listing.output
    assert SECRET not in listing.output

    async def stored():
        db = Database(database_url)
        try:
            async with db.session() as s:
                chans = {c.name: c for c in await s.scalars(select(Channel))}
                actions = [a.action for a in await s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
                return chans, actions
        finally:
            await db.close()

    chans, actions = run_sync(stored())
    assert chans["品牌A"].linked is False and chans["品牌A"].channel_secret == SECRET
    assert chans["品牌B"].access_token == TOKEN
    assert actions.count("channel.add") == 2 and "channel.unlink" in actions


def test_channels_keep_the_liff_apps_line_login_channel_id(cli, database_url):
    cli("users", "add", "boss", "--role", "admin")
    env = {"LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN}
    added = cli("--as", "boss", "channels", "add", "品牌C", "--liff-id", "1657-abcd",
                "--login-channel-id", "1657000001", env=env)
    assert added.exit_code == 0, added.output
    bad = cli("--as", "boss", "channels", "set-login", "品牌C", "not-digits")
    assert bad.exit_code != 0 and "digits" in bad.output
    assert cli("--as", "boss", "channels", "set-login", "品牌C", "1657000002").exit_code == 0
    assert "1657000002" in cli("channels", "list").output

    async def stored():
        db = Database(database_url)
        try:
            async with db.session() as s:
                channel = await s.scalar(select(Channel).where(Channel.name == "品牌C"))
                actions = [a.action for a in await s.scalars(select(AuditEntry))]
                return channel.login_channel_id, actions
        finally:
            await db.close()

    login, actions = run_sync(stored())
    assert login == "1657000002" and "channel.set-login" in actions
