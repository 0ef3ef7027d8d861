"""Bad input to the chat page's API gets 400 with the field and the reason, and nothing is
delivered to the bot; the magic-byte check knows images from files merely named like them."""
import pytest

from bot.sandbox_chat.inputs import MAX_PHOTO_BYTES, InputError, image_type
from tests.sandbox.conftest import new_user, photo_form

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def test_bad_json_inputs_are_refused_with_the_field_and_reason(start_sandbox):
    sandbox = await start_sandbox()
    user = new_user()
    cases = [
        ("/sandbox/api/say", {"text": "登錄發票"}, "user", "required"),
        ("/sandbox/api/say", {"user": "bob", "text": "登錄發票"}, "user", "U followed by 32"),
        ("/sandbox/api/say", {"user": "U" + "A" * 32, "text": "登錄發票"}, "user", "U followed by 32"),
        ("/sandbox/api/say", {"user": user + "0", "text": "登錄發票"}, "user", "U followed by 32"),
        ("/sandbox/api/say", {"user": 12, "text": "登錄發票"}, "user", "required"),
        ("/sandbox/api/say", {"user": user}, "text", "required"),
        ("/sandbox/api/say", {"user": user, "text": "   "}, "text", "empty"),
        ("/sandbox/api/say", {"user": user, "text": "字" * 5001}, "text", "longer than 5000"),
        ("/sandbox/api/say", {"user": user, "text": "hi", "name": "名" * 21}, "name", "longer than 20"),
        ("/sandbox/api/say", ["not", "an", "object"], "body", "JSON object"),
        ("/sandbox/api/postback", {"user": user, "data": "d" * 301}, "data", "longer than 300"),
        ("/sandbox/api/postback", {"user": user, "data": 5}, "data", "required"),
        ("/sandbox/api/sample-photo", {"user": user, "pending": "yes"}, "pending", "true or false"),
        ("/sandbox/api/sample-photo", {"user": "U123", "pending": False}, "user", "U followed by 32"),
    ]
    for path, payload, field, reason in cases:
        status, body = await sandbox.post(path, payload)
        assert status == 400, (path, payload, body)
        assert body["field"] == field and body["error"].startswith(f"{field}: ") and reason in body["error"], body
    # exactly at the limits is fine
    status, _ = await sandbox.post("/sandbox/api/say", {"user": user, "text": "字" * 5000})
    assert status == 200
    status, _ = await sandbox.post("/sandbox/api/postback", {"user": user, "data": "d" * 300})
    assert status == 200

    async with sandbox.client.post("/sandbox/api/say", data="{not json",
                                   headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "body: not valid JSON"
    async with sandbox.client.post("/sandbox/api/say", data="user=x") as resp:
        assert resp.status == 400 and "application/json" in (await resp.json())["error"]
    async with sandbox.client.get("/sandbox/api/said", params={"user": "nobody"}) as resp:
        assert resp.status == 400 and (await resp.json())["field"] == "user"
    async with sandbox.client.get("/sandbox/api/photos/123456") as resp:
        assert resp.status == 404


async def test_bad_photo_uploads_are_refused_before_anything_is_delivered(start_sandbox):
    sandbox = await start_sandbox()
    user = new_user()
    too_big = b"\xff\xd8\xff\xe0" + b"\x00" * MAX_PHOTO_BYTES
    cases = [
        (photo_form(user, b"%PDF-1.7 not an image", filename="invoice.jpg"), "file", "not an image"),
        (photo_form(user, b"<svg xmlns='http://www.w3.org/2000/svg'/>", filename="x.png"), "file", "not an image"),
        (photo_form(user, b"", filename="empty.jpg"), "file", "empty"),
        (photo_form(user, too_big), "file", "larger than 10 MB"),
        (photo_form(user, None), "file", "required"),
        (photo_form(None, JPEG), "user", "required"),
        (photo_form("U" + "z" * 32, JPEG), "user", "U followed by 32"),
        (photo_form(user, JPEG, extra={"other": "x"}), "other", "unexpected form field"),
    ]
    for form, field, reason in cases:
        async with sandbox.client.post("/sandbox/api/photo", data=form) as resp:
            body = await resp.json()
            assert resp.status == 400, body
            assert body["field"] == field and reason in body["error"], body
    async with sandbox.client.post("/sandbox/api/photo", json={"user": user}) as resp:
        assert resp.status == 400 and "multipart/form-data" in (await resp.json())["error"]

    assert await sandbox.messages(user) == []
    async with sandbox.client.get("/sandbox/api/said", params={"user": user}) as resp:
        assert (await resp.json())["entries"] == []
    async with sandbox.client.get("/sandbox/line/_sim/messages") as resp:
        assert await resp.json() == []


@pytest.mark.parametrize("data, expected", [
    (b"\xff\xd8\xff\xdb" + b"\x00" * 8, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "image/png"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"GIF89a" + b"\x00" * 8, "image/gif"),
    (b"BM" + b"\x00" * 40, "image/bmp"),
    (b"II*\x00" + b"\x00" * 8, "image/tiff"),
])
def test_images_are_known_by_their_magic_bytes(data, expected):
    assert image_type(data) == expected


@pytest.mark.parametrize("data", [b"RIFF\x10\x00\x00\x00WAVEfmt ", b"BM", b"\xff\xd8", b"GIF88a....", b"hello"])
def test_non_images_are_refused_naming_the_file_field(data):
    with pytest.raises(InputError) as caught:
        image_type(data)
    assert caught.value.field == "file"
