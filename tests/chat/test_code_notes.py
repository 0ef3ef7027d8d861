"""A photo of a receipt printed in a form the reader tolerates (issue 28): the upload keeps the
reader's notes, on SQLite and PostgreSQL."""
from tests.chat.conftest import KEYWORD, invoice_code, photo_of

ALICE = "U" + "c" * 32


async def test_a_tolerated_form_is_stored_with_its_note(make_stack):
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

