"""重複登錄 through the chat: the fixed system text, or the campaign's saved 同一發票重複登錄
template in its place (docs/decisions.md), for the same person and for another."""
import datetime as dt

from bot.storage.models import MessageTemplate
from tests.chat.conftest import invoice_code, photo_of
from tests.chat.test_chat_flow import ALICE, BOB, _all_text, _card

SAVED = """{"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
  {"type": "text", "text": "自訂：發票 {{ invoice_number }} 已被登錄（{{ campaign_name }}）", "wrap": true}]}}"""


async def _save_duplicate_template(stack) -> None:
    async with stack.db.session() as s, s.begin():
        s.add(MessageTemplate(campaign_id=stack.campaign_id, kind="duplicate", source=SAVED,
                              alt_text="發票 {{ invoice_number }} 已登錄過", updated_at=dt.datetime.now(dt.timezone.utc)))


async def _twice(stack, first_user, second_user, seed):
    code = invoice_code(seed)
    await stack.seed_mof(code)
    await _card(stack, first_user)
    await stack.photo(first_user, photo_of(code))
    await stack.wait_messages(first_user, 2)
    if second_user != first_user:
        await _card(stack, second_user)
    before = len(await stack.fetch_messages(second_user))
    await stack.photo(second_user, photo_of(code, seed=9))
    sent = await stack.wait_messages(second_user, before + 1)
    return code, sent[-1]["messages"]


async def test_without_a_saved_template_another_persons_duplicate_gets_the_system_text(make_stack):
    stack = await make_stack()
    code, messages = await _twice(stack, ALICE, BOB, 41)
    shown = _all_text(messages)
    assert "此發票已重複登錄，請重新上傳或手動輸入其他發票。" in shown
    assert "自訂：" not in shown and "此發票已登錄過" not in shown  # nor the kind's default template


async def test_a_saved_template_replaces_the_system_text_for_another_person(make_stack):
    stack = await make_stack()
    await _save_duplicate_template(stack)
    code, messages = await _twice(stack, ALICE, BOB, 42)
    number = f"{code.invoice_number[:2]}-{code.invoice_number[2:]}"
    flex = [m for m in messages if m["type"] == "flex"]
    assert len(flex) == 1
    assert flex[0]["altText"] == f"發票 {number} 已登錄過"
    assert f"自訂：發票 {number} 已被登錄（冬季發票登錄抽好禮）" in _all_text(flex)
    assert "此發票已重複登錄" not in _all_text(messages)


async def test_a_saved_template_replaces_the_system_text_for_the_same_person(make_stack):
    stack = await make_stack()
    await _save_duplicate_template(stack)
    code, messages = await _twice(stack, ALICE, ALICE, 43)
    assert "自訂：發票" in _all_text(messages)
    assert "此發票已重複登錄" not in _all_text(messages)
