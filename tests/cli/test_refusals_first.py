"""Refusals before questions (issue 29): a command that would ask something — a confirmation, a
secret, the interactive campaign questions — first checks the campaign's status and the acting
user's role, and refuses at once without asking."""
import pytest
import time_machine

from bot.storage.models import Campaign
from tests.cli.seed import EXAMPLES, NOW, fetch, setup_team

QUESTIONS = ("Delete campaign", "Channel secret", "Backme secret", "活動名稱", "[y/N]")


@pytest.fixture
def team(cli):
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        yield cli


def _asked(output: str) -> list[str]:
    return [q for q in QUESTIONS if q in output]


def _draft(cli) -> int:
    made = cli("--as", "mia", "campaigns", "create", "-f", str(EXAMPLES / "whole-invoice-amount-tiers.yaml"))
    assert made.exit_code == 0, made.output
    return int(made.output.split()[2])


def test_delete_of_a_running_campaign_is_refused_without_asking(team, database_url):
    campaign_id = _draft(team)
    assert team("--as", "mia", "campaigns", "publish", str(campaign_id)).exit_code == 0
    refused = team("--as", "mia", "campaigns", "delete", str(campaign_id), input="y\n")
    assert refused.exit_code == 1
    assert "「進行中」時不可執行「刪除」" in refused.output and _asked(refused.output) == []
    assert fetch(database_url, Campaign, Campaign.id == campaign_id)


def test_delete_by_a_role_without_rights_is_refused_without_asking(team, database_url):
    campaign_id = _draft(team)
    refused = team("--as", "sam", "campaigns", "delete", str(campaign_id), input="y\n")
    assert refused.exit_code == 1 and "sam" in refused.output and _asked(refused.output) == []
    missing = team("--as", "mia", "campaigns", "delete", "99", input="y\n")
    assert missing.exit_code == 1 and "no campaign with ID 99" in missing.output and _asked(missing.output) == []
    asked = team("--as", "mia", "campaigns", "delete", str(campaign_id), input="y\n")
    assert asked.exit_code == 0 and "Delete campaign" in asked.output
    assert not fetch(database_url, Campaign, Campaign.id == campaign_id)


def test_interactive_create_by_a_role_without_rights_asks_nothing(team, tmp_path, monkeypatch):
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    refused = team("--as", "sam", "campaigns", "create", input="名稱\n" * 30)
    assert refused.exit_code == 1 and "sam" in refused.output and _asked(refused.output) == []
    assert list(here.iterdir()) == []  # no answers, so no file to finish


def test_channel_secret_is_not_asked_of_a_role_without_rights(team):
    refused = team("--as", "sam", "channels", "add", "另一個帳號", input="0123456789abcdef0123\n" + "t" * 40 + "\n")
    assert refused.exit_code == 1 and "may not change channels" in refused.output
    assert _asked(refused.output) == []


def test_backme_secret_is_not_asked_of_a_role_without_rights(team, monkeypatch):
    monkeypatch.delenv("BACKME_SECRET", raising=False)
    refused = team("--as", "sam", "crm", "pages", "add", "spring", "--name", "春季募款", "--financial-type", "捐款",
                   input="a-long-backme-secret\n")
    assert refused.exit_code == 1 and "may not add donation pages" in refused.output
    assert _asked(refused.output) == []
