"""A photo of a receipt printed in a form the reader tolerates (issue 28): the upload keeps the
reader's notes, and 活動資訊's participant list shows them, on SQLite and PostgreSQL."""
from html import unescape

from flows.campaigns.roles import Role
from tests.chat.conftest import KEYWORD, invoice_code, photo_of
from tests.console.campaigns_fixtures import sign_in

ALICE = "U" + "c" * 32


async def test_a_tolerated_form_is_stored_with_its_note_and_shown_in_the_console(make_stack, aiohttp_client):
    stack = await make_stack()
    code = invoice_code(41)  # two items; the receipt's codes count one
    await stack.seed_mof(code)
    assert await stack.say(ALICE, KEYWORD) == 200
    await stack.wait_messages(ALICE, 1)
    assert await stack.photo(ALICE, photo_of(code, form="fewer_counted")) == 200
    await stack.wait_messages(ALICE, 2)

    [upload] = await stack.uploads()
    assert (upload.status, upload.invoice_number) == ("passed", code.invoice_number)
    assert [note["code"] for note in upload.code_notes] == ["items_more_than_counted"]
    text = upload.code_notes[0]["text"]
    assert "count 1 items but 2" in text

    viewer = await sign_in(stack.db, aiohttp_client, stack.service, Role.SALES_AGENT)
    response = await viewer.get(f"/console/campaigns/{stack.campaign_id}/info")
    assert response.status == 200
    html = unescape(await response.text())
    row = html[html.index(f'data-upload="{upload.id}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-note="items_more_than_counted"' in row
    assert "品項多於記載數量，已全部讀取" in row  # the marketer's words beside the technical text
    assert text in row
