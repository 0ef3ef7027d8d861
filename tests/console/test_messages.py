"""The message editor over HTTP: the list (system texts read-only, custom messages), form mode
generating the template (typed text escaped, {variable} markers rendered), advanced mode, the
preview's LINE messages, and saving as the CLI does (local checks, then the LINE simulator's
validate endpoint), a refused save keeping the draft with the reason beside the field."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.line.templates import render_message
from bot.storage.models import AuditEntry, MessageTemplate
from flows.campaigns.roles import Role
from flows.messages.custom import CustomKind
from flows.messages.form import form_of
from flows.messages.system import PENDING_TEXT

HOSTILE = ['{{ 7*7 }}', '{% for x in range(3) %}x{% endfor %}', '<script>alert(1)</script>', '{#', '"\\']


def _path(campaign_id: int, kind: str = "qualified", tail: str = "") -> str:
    return f"/console/campaigns/{campaign_id}/messages/{kind}{tail}"


def _form(title: str, body: str = "", **extra: str) -> dict[str, str]:
    return {"mode": "form", "title": title, "body": body, **extra}


async def _saved(console_app, kind: str = "qualified") -> MessageTemplate | None:
    async with console_app.db.session() as s:
        return await s.scalar(select(MessageTemplate).where(MessageTemplate.campaign_id == console_app.campaign_id,
                                                            MessageTemplate.kind == kind))


def _texts(node) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "text":
            found.append(node["text"])
        for value in node.values():
            found += _texts(value)
    elif isinstance(node, list):
        for value in node:
            found += _texts(value)
    return found


def _buttons(message: dict) -> list[tuple[str, str]]:
    footer = message["contents"].get("footer") or {"contents": []}
    return [(b["action"]["label"], b["action"]["uri"]) for b in footer["contents"]]


async def test_the_list_shows_the_system_texts_and_links_every_custom_message(console_app, console_client):
    viewer = await console_client(Role.SALES_AGENT)
    response = await viewer.get(f"/console/campaigns/{console_app.campaign_id}/messages")
    assert response.status == 200
    page = await response.text()
    assert PENDING_TEXT in page and "此發票已重複登錄，請重新上傳或手動輸入其他發票。" in page
    assert "拍照上傳、手動上傳、電子載具" in page
    for kind in CustomKind:
        assert f'href="{_path(console_app.campaign_id, kind.value)}"' in page


async def test_form_mode_generates_a_template_with_the_typed_texts_buttons_and_variables(console_app, console_client):
    marketer = await console_client(Role.MARKETER)
    fields = _form("恭喜 {user_name}！", "發票 {invoice_number} 消費 {amount} 元\n第二行",
                   **{"button-1-label": "領取優惠", "button-1-url": "{coupon_link}",
                      "button-2-label": "活動規則", "button-2-url": "https://example.com/rules",
                      "sample-user_name": "陳大文", "sample-amount": "4321"})
    preview = await marketer.post(_path(console_app.campaign_id, tail="/preview"), fields)
    assert preview.status == 200
    answer = await preview.json()
    main = answer["messages"][0]
    assert _texts(main["contents"]) == ["恭喜 陳大文！", "發票 AB-12345678 消費 4321 元\n第二行"]
    assert main["altText"] == "恭喜 陳大文！"
    assert _buttons(main) == [("領取優惠", "https://example.com/coupon/8F3K2Q"), ("活動規則", "https://example.com/rules")]
    assert len(answer["messages"]) == 2 and "優惠券序號：SPRING-8F3K2Q" in _texts(answer["messages"][1])  # the coupon message
    assert "{{" in answer["source"]  # the advanced mode's view of it

    saved = await marketer.post(_path(console_app.campaign_id), fields)
    assert saved.status == 303, await saved.text()
    assert saved.headers["Location"].endswith("?saved=line")
    row = await _saved(console_app)
    sent = render_message("qualified", row.source, row.alt_text, {"user_name": "林", "amount": 5, "coupon_link": ""})
    assert _texts(sent["contents"]) == ["恭喜 林！", "發票  消費 5 元\n第二行"]
    assert _buttons(sent) == [("活動規則", "https://example.com/rules")]  # no coupon link: its button is left out
    page = await (await marketer.get(saved.headers["Location"])).text()
    assert "已通過 LINE 的訊息驗證" in page and 'value="恭喜 {user_name}！"' in page  # opens in the form again
    [call] = [c for c in console_app.stack.sim.api_calls if c["endpoint"] == "message.validate.push"]
    assert call["ok"] is True
    async with console_app.db.session() as s:
        [audit] = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.message.save")))
    assert audit.detail["kind"] == "qualified" and audit.detail["after"]["source"] == row.source


@pytest.mark.parametrize("typed", HOSTILE)
async def test_template_syntax_and_markup_typed_into_fields_are_text(console_app, console_client, typed):
    marketer = await console_client(Role.MARKETER)
    fields = _form(f"標題 {typed}", f"內文 {typed} {{user_name}}", **{"button-1-label": typed[:20],
                                                                       "button-1-url": "https://example.com/a"})
    answer = await (await marketer.post(_path(console_app.campaign_id, tail="/preview"), fields)).json()
    main = answer["messages"][0]
    assert _texts(main["contents"]) == [f"標題 {typed}", f"內文 {typed} 王小明"]
    assert main["altText"] == f"標題 {typed}" and _buttons(main)[0][0] == typed[:20]
    assert (await marketer.post(_path(console_app.campaign_id), fields)).status == 303
    row = await _saved(console_app)
    sent = render_message("qualified", row.source, row.alt_text, {"user_name": "{{ 1+1 }}"})
    assert _texts(sent["contents"]) == [f"標題 {typed}", f"內文 {typed} {{{{ 1+1 }}}}"]
    assert form_of(CustomKind.QUALIFIED, row.source).title == f"標題 {typed}"


async def test_a_5000_character_text_is_refused_beside_the_field_and_the_draft_kept(console_app, console_client):
    marketer = await console_client(Role.MARKETER)
    long_text = "長" * 4990 + "<script>"
    fields = _form("標題", long_text)
    preview = await marketer.post(_path(console_app.campaign_id, tail="/preview"), fields)
    assert preview.status == 422 and "最多 2000 個字" in (await preview.json())["errors"]["body"]
    response = await marketer.post(_path(console_app.campaign_id), fields)
    assert response.status == 422
    page = await response.text()
    assert '<div class="error" id="body-error">最多 2000 個字（目前 4998 個字）</div>' in page
    assert "長" * 4990 + "&lt;script&gt;</textarea>" in page and "<script>" not in page.split("</main>")[0]
    assert await _saved(console_app) is None


async def test_an_unknown_variable_is_refused_with_the_kinds_list(console_app, console_client):
    marketer = await console_client(Role.MARKETER)
    response = await marketer.post(_path(console_app.campaign_id, "ended"), _form("{coupon_code} 結束了"))
    assert response.status == 422
    assert "此訊息沒有變數 {coupon_code}" in await response.text()


async def test_advanced_mode_with_a_broken_template_is_refused_and_the_draft_kept(console_app, console_client):
    marketer = await console_client(Role.MARKETER)
    broken = '{"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [{% if %}]}}'
    response = await marketer.post(_path(console_app.campaign_id), {"mode": "advanced", "source": broken,
                                                                     "alt_text": "替代 {{ campaign_name }}"})
    assert response.status == 422
    page = await response.text()
    assert 'id="source-error">template: syntax error on line 1' in page
    assert ">" + broken.replace('"', "&#34;").replace("<", "&lt;") + "</textarea>" in page
    assert 'value="替代 {{ campaign_name }}"' in page and 'id="mode-advanced" name="mode" value="advanced" checked' in page
    assert await _saved(console_app) is None
    preview = await marketer.post(_path(console_app.campaign_id, tail="/preview"), {"mode": "advanced", "source": broken})
    assert preview.status == 422 and "syntax error" in (await preview.json())["errors"]["source"]


async def test_advanced_mode_saves_a_template_the_cli_would(console_app, console_client):
    marketer = await console_client(Role.MARKETER)
    source = ('{"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": ['
              '{"type": "text", "text": "{{ campaign_name }}：{{ invoice_number }}"}]}}')
    response = await marketer.post(_path(console_app.campaign_id, "not_qualified"), {"mode": "advanced", "source": source})
    assert response.status == 303
    row = await _saved(console_app, "not_qualified")
    assert (row.source, row.alt_text) == (source, None)
    page = await (await marketer.get(_path(console_app.campaign_id, "not_qualified"))).text()
    assert "只能在進階模式修改" in page and "尚未儲存" not in page


async def test_what_line_refuses_is_not_saved_and_the_reason_shows(console_app, console_client):
    marketer = await console_client(Role.MARKETER)
    fields = _form("有圖片", image_url="https://example.com/" + "a" * 900 + ".png")
    response = await marketer.post(_path(console_app.campaign_id), fields)
    assert response.status == 303, await response.text()
    source = ('{"type": "bubble", "hero": {"type": "image", "url": "https://example.com/' + "a" * 2000 + '.png"}, '
              '"body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "x"}]}}')
    refused = await marketer.post(_path(console_app.campaign_id), {"mode": "advanced", "source": source})
    assert refused.status == 422
    assert 'id="line-error">template refused by LINE' in await refused.text()
    calls = [c for c in console_app.stack.sim.api_calls if c["endpoint"] == "message.validate.push"]
    assert [c["ok"] for c in calls] == [True, False]
    assert (await _saved(console_app)).source.startswith("{#- form")  # the form-made one stays


async def test_a_viewer_previews_but_may_not_save(console_app, console_client):
    viewer = await console_client(Role.SALES_AGENT)
    assert (await viewer.post(_path(console_app.campaign_id, tail="/preview"), _form("看看"))).status == 200
    assert (await viewer.post(_path(console_app.campaign_id), _form("看看"))).status == 403
    page = await (await viewer.get(_path(console_app.campaign_id))).text()
    assert 'id="save"' not in page


async def test_the_console_serves_the_sandbox_flex_renderer_itself(console_app):
    from importlib import resources

    http = await console_app.client()
    for name, served in (("flex.js", "/console/line-flex.js"), ("flex.css", "/console/line-flex.css")):
        response = await http.get(served)
        assert response.status == 200
        assert await response.text() == resources.files("bot.sandbox_chat").joinpath(name).read_text(encoding="utf-8")


def test_the_docs_list_the_variables_the_code_defines():
    """docs/messages.md's table is flows/messages/custom.py's variables: names, descriptions, the
    kinds that have each, in the same order."""
    from pathlib import Path

    doc = Path(__file__).parents[2].joinpath("docs", "messages.md").read_text(encoding="utf-8")
    table = doc.split("<!-- variables: start -->")[1].split("<!-- variables: end -->")[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.strip().splitlines()[2:]]
    documented = [(name.strip("`{}"), description, kinds.split("、")) for name, description, _sample, kinds in rows]
    defined: dict[str, tuple[str, list[str]]] = {}
    for kind in CustomKind:
        for variable in kind.variables:
            defined.setdefault(variable.name, (variable.description, []))[1].append(kind.label.removesuffix("訊息"))
    assert documented == [(name, description, kinds) for name, (description, kinds) in defined.items()]


async def test_offline_save_is_marked_and_the_list_asks_line_again(console_app, console_client):
    """Issue 29: when LINE cannot check now (here its validate endpoint answers 503) the console
    saves after the local checks and says so; the list marks the message 尚未經 LINE 驗證 with a
    向 LINE 驗證 button (editors only), which completes the check and clears the mark."""
    sim = console_app.stack.sim
    sim.inject_faults("validate", [503])
    marketer = await console_client(Role.MARKETER)
    saved = await marketer.post(_path(console_app.campaign_id), _form("離線也能存"))
    assert saved.status == 303 and saved.headers["Location"].endswith("?saved=offline"), await saved.text()
    shown = await (await marketer.get(saved.headers["Location"])).text()
    assert "無法連線到 LINE" in shown and "尚未經 LINE 驗證" in shown
    assert (await _saved(console_app)).awaiting_line_check is True

    messages_page = f"/console/campaigns/{console_app.campaign_id}/messages"
    listing = await (await marketer.get(messages_page)).text()
    assert 'class="unchecked">尚未經 LINE 驗證' in listing and 'id="check-messages"' in listing
    viewer = await console_client(Role.SALES_AGENT)
    assert 'id="check-messages"' not in await (await viewer.get(messages_page)).text()
    assert (await viewer.post(f"{messages_page}/check", {})).status == 403
    checked = await marketer.post(f"{messages_page}/check", {})
    assert checked.status == 200
    page = await checked.text()
    assert "符合資格訊息：已通過 LINE 的訊息驗證" in page and 'class="unchecked"' not in page
    assert (await _saved(console_app)).awaiting_line_check is False
