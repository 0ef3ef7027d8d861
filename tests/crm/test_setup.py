"""setup_backme on the foundation app: the cleanup context runs the email sender and the stats
puller in the background; settings come from the environment with errors naming the variable."""
from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import ClientSession

from bot.app import create_app
from bot.backme.emails import EmailSettings, EmailSettingsError, FileBackend, SmtpBackend, make_backend
from bot.backme.route import setup_backme
from bot.backme.settings import BackmeSettings
from bot.config import Config
from bot.simulators import backme as sim
from bot.storage.crm_models import DonationPage, EmailOutbox
from bot.storage.database import Database

from tests.crm.conftest import SECRET, add_page


async def _until(check, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_background_sender_and_puller_run_in_the_app(database_url, tmp_path: Path, aiohttp_server):
    stats = aiohttp_server(sim.create_backme_stats_app(sim.demo_projects()), host="127.0.0.1")
    stats_server = await stats
    db = Database(database_url)
    await add_page(db, backme_api_base=str(stats_server.make_url("/")).rstrip("/"), backme_project_id=1234,
                   backme_api_token="a56898195dff0b36b987e9e0602f2d1f")
    mail = tmp_path / "mail"
    app = create_app(Config(database_url=database_url, run_migrations=False, data_dir=tmp_path))
    setup_backme(app, BackmeSettings(email=EmailSettings(directory=mail, poll_seconds=0.05), stats_poll_seconds=0.05))
    server = await aiohttp_server(app, host="127.0.0.1")
    async with ClientSession() as http:
        status, _ = await sim.post(str(server.make_url("/backme/demo")), sim.single_credit_success(), SECRET,
                                   session=http)
    assert status == 200

    async def sent() -> bool:
        async with db.session() as session:
            row = (await session.execute(EmailOutbox.__table__.select())).first()
            return row is not None and row.state == "sent"

    async def pulled() -> bool:
        async with db.session() as session:
            page = (await session.execute(DonationPage.__table__.select())).first()
            return page.backme_money == Decimal("123456")

    await _until(sent)
    await _until(pulled)
    assert len(list(mail.glob("*.eml"))) == 1
    await db.close()


def test_email_settings_from_env():
    settings = EmailSettings.from_env({"EMAIL_BACKEND": "smtp", "SMTP_HOST": "mail.example.org", "SMTP_PORT": "587",
                                       "SMTP_STARTTLS": "true", "SMTP_PASSWORD": "pw-secret"}, Path("/d"))
    assert (settings.backend, settings.smtp_port, settings.smtp_starttls) == ("smtp", 587, True)
    assert "pw-secret" not in repr(settings)
    assert isinstance(make_backend(settings), SmtpBackend)
    default = EmailSettings.from_env({}, Path("/d"))
    assert default.directory == Path("/d/outbox-mail")
    assert isinstance(make_backend(default), FileBackend)
    with pytest.raises(EmailSettingsError) as err:
        EmailSettings.from_env({"EMAIL_BACKEND": "smtp"})
    assert err.value.variable == "SMTP_HOST"
    with pytest.raises(EmailSettingsError) as err:
        BackmeSettings.from_env({"BACKME_STATS_POLL_SECONDS": "soon"})
    assert err.value.variable == "BACKME_STATS_POLL_SECONDS"
