"""`admin-cli messages`: the catalogue, saving a custom template (validated, audited, refused
with the line), previews as flex JSON with the sandbox link, reset, roles and ended campaigns."""
import json
import sys

import pytest
import time_machine

from bot.storage.models import AuditEntry, MessageTemplate
from flows.messages.custom import QUALIFIED_BUBBLE
from tests.cli.seed import EXAMPLES, NOW, fetch, setup_team

GOOD = QUALIFIED_BUBBLE.replace("恭喜符合活動資格！", "恭喜中獎資格確認！")


@pytest.fixture
def team(cli, line_sim, monkeypatch):
    """The channel has an access token, so saving asks the LINE simulator's validate endpoint."""
    monkeypatch.setenv("LINE_API_BASE_URL", line_sim[1])
    monkeypatch.setenv("LINE_DATA_API_BASE_URL", line_sim[1])
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        result = cli("--as", "mia", "campaigns", "create", "-f", str(EXAMPLES / "whole-invoice-amount-tiers.yaml"))
        assert result.exit_code == 0
        yield cli


def test_list_shows_system_texts_and_custom_state(team, tmp_path):
    listing = team("messages", "list", "1", env={"COLUMNS": "250"})  # wide enough for each text on one line
    assert listing.exit_code == 0
    assert "很抱歉，您參與活動的次數已達上限，無法再進行參加，謝謝您的參與！" in listing.output
    assert "很抱歉，此活動已不存在" in listing.output and "AB-12345678" in listing.output
    assert listing.output.count("預設") == 6  # the six custom messages (審核中 since issue 30)
    assert team("messages", "list", "77").output.strip() == "error: CAMPAIGN: no campaign with ID 77"


def test_edit_from_file_preview_and_reset(team, database_url, tmp_path):
    source = tmp_path / "qualified.json.j2"
    source.write_text(GOOD, encoding="utf-8")
    refused = team("--as", "sam", "messages", "edit", "1", "qualified", "-f", str(source))
    assert refused.exit_code == 1 and "權限" in refused.output
    saved = team("--as", "mia", "messages", "edit", "1", "符合資格", "-f", str(source),
                 "--alt-text", "{{ campaign_name }}：恭喜！")
    assert saved.exit_code == 0, saved.output
    [row] = fetch(database_url, MessageTemplate)
    assert row.kind == "qualified" and row.source == GOOD and row.alt_text == "{{ campaign_name }}：恭喜！"
    assert fetch(database_url, AuditEntry, AuditEntry.action == "campaign.message.save")
    assert "自訂" in team("messages", "list", "1").output

    shown = team("messages", "preview", "1", "qualified", env={"PUBLIC_BASE_URL": "https://bot.example.com"})
    assert shown.exit_code == 0, shown.output
    text, _, link = shown.output.rpartition("]\n")
    messages = json.loads(text + "]")
    assert messages[0]["type"] == "flex" and messages[0]["altText"] == "冬季發票登錄抽好禮：恭喜！"
    body = json.dumps(messages[0]["contents"], ensure_ascii=False)
    assert "恭喜中獎資格確認！" in body and "冬季發票登錄抽好禮" in body
    assert len(messages) == 2 and "SPRING-8F3K2Q" in json.dumps(messages[1], ensure_ascii=False)
    assert link.strip() == "sandbox chat: https://bot.example.com/sandbox"

    reset = team("--as", "mia", "messages", "reset", "1", "qualified")
    assert reset.exit_code == 0 and not fetch(database_url, MessageTemplate)
    default = json.loads(team("messages", "preview", "1", "ended").output.rpartition("]\n")[0] + "]")
    assert "活動已結束" in json.dumps(default, ensure_ascii=False)


def test_invalid_templates_are_refused_with_the_line(team, database_url, tmp_path):
    broken = tmp_path / "broken.j2"
    broken.write_text('{\n  "type": "bubble",\n  "body": {{ campaign_name }\n}\n', encoding="utf-8")
    result = team("--as", "mia", "messages", "edit", "1", "qualified", "-f", str(broken))
    assert result.exit_code == 1 and "line 3" in result.output
    unknown = tmp_path / "unknown.j2"
    unknown.write_text(GOOD.replace("invoice_number", "invoice_no", 1), encoding="utf-8")
    result = team("--as", "mia", "messages", "edit", "1", "qualified", "-f", str(unknown))
    assert result.exit_code == 1 and "unknown variable 'invoice_no'" in result.output
    not_flex = tmp_path / "text.j2"
    not_flex.write_text('{"type": "text", "text": "hi"}', encoding="utf-8")
    result = team("--as", "mia", "messages", "edit", "1", "qualified", "-f", str(not_flex))
    assert result.exit_code == 1 and "bubble" in result.output
    preview = team("messages", "preview", "1", "qualified", "-f", str(broken))
    assert preview.exit_code == 1 and "line 3" in preview.output
    assert team("--as", "mia", "messages", "edit", "1", "nonsense", "-f", str(broken)).exit_code == 2
    assert not fetch(database_url, MessageTemplate)


def test_edit_in_editor_and_ended_campaign(team, database_url, tmp_path):
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text(encoding='utf-8').replace('無法辨識發票', '看不清楚發票'),"
                      " encoding='utf-8')\n", encoding="utf-8")
    done = team("--as", "mia", "messages", "edit", "1", "unreadable", env={"EDITOR": f"{sys.executable} {script}"})
    assert done.exit_code == 0, done.output
    [row] = fetch(database_url, MessageTemplate)
    assert "看不清楚發票" in row.source
    assert team("--as", "mia", "campaigns", "publish", "1").exit_code == 0
    with time_machine.travel("2027-02-15T12:00:00+08:00", tick=True):
        ended = team("--as", "mia", "messages", "edit", "1", "unreadable", "-f", str(script))
    assert ended.exit_code == 1 and "已結束" in ended.output


def test_saving_asks_lines_validate_endpoint(team, database_url, line_sim, tmp_path):
    """A template passes the local checks and LINE's validate endpoint (the simulator's, over HTTP);
    what LINE refuses is not saved and the reason names LINE's property."""
    sim, _ = line_sim
    source = tmp_path / "qualified.json.j2"
    source.write_text(GOOD, encoding="utf-8")
    saved = team("--as", "mia", "messages", "edit", "1", "qualified", "-f", str(source))
    assert saved.exit_code == 0, saved.output
    [call] = [c for c in sim.api_calls if c["endpoint"].startswith("message.validate")]
    assert call["endpoint"] == "message.validate.push" and call["ok"] is True
    # a 1,600-unit alt text passes nowhere: the local check counts UTF-16 units like LINE
    emoji = "🎉" * 760  # 760 characters, 1,520 UTF-16 code units
    long_alt = team("--as", "mia", "messages", "edit", "1", "qualified", "-f", str(source), "--alt-text", emoji)
    assert long_alt.exit_code == 1 and "1520 UTF-16 code units" in long_alt.output
    http_image = tmp_path / "http.j2"
    http_image.write_text('{"type": "bubble", "hero": {"type": "image", "url": "http://example.com/a.png"},'
                          ' "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", '
                          '"text": "{{ campaign_name }}"}]}}', encoding="utf-8")
    refused = team("--as", "mia", "messages", "edit", "1", "qualified", "-f", str(http_image))
    assert refused.exit_code == 1 and "https://" in refused.output
    [row] = fetch(database_url, MessageTemplate)
    assert row.source == GOOD
    [audit] = fetch(database_url, AuditEntry, AuditEntry.action == "campaign.message.save")
    assert audit.detail["before"] is None and audit.detail["after"]["source"] == GOOD


def test_a_template_only_line_refuses_is_not_saved(team, database_url, line_sim, tmp_path):
    """An image URL longer than LINE's 2,000 characters passes the local checks; LINE's validate
    endpoint refuses it, so it is not saved. A channel token LINE rejects refuses the save too."""
    sim, _ = line_sim
    long_url = tmp_path / "long.j2"
    long_url.write_text('{"type": "bubble", "hero": {"type": "image", "url": "https://example.com/'
                        + "a" * 2000 + '.png"}, "body": {"type": "box", "layout": "vertical", "contents": '
                        '[{"type": "text", "text": "{{ campaign_name }}"}]}}', encoding="utf-8")
    refused = team("--as", "mia", "messages", "edit", "1", "qualified", "-f", str(long_url))
    assert refused.exit_code == 1 and "refused by LINE" in refused.output
    assert "messages[0].contents.hero.url" in refused.output
    [call] = [c for c in sim.api_calls if c["endpoint"] == "message.validate.push"]
    assert call["ok"] is False
    source = tmp_path / "good.j2"
    source.write_text(GOOD, encoding="utf-8")
    sim.access_tokens = frozenset({"another-token"})  # the channel's token no longer works
    again = team("--as", "mia", "messages", "edit", "1", "qualified", "-f", str(source))
    assert again.exit_code == 1 and "LINE could not check" in again.output and "401" in again.output
    assert not fetch(database_url, MessageTemplate)
