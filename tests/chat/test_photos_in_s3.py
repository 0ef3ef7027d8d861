"""With PHOTO_STORE_URL on an S3 bucket, a photo sent in the chat is kept in the bucket (not on the
local disk) and its participant-list link serves it; a store that is down gets the 未預期錯誤 answer."""
import socket

import boto3

from bot.photo_store import PhotoStoreSettings
from bot.photos import photo_linker
from bot.privacy.keys import link_generation
from bot.storage.models import utcnow
from flows.messages.system import UNEXPECTED_TEXT
from tests.chat.conftest import KEYWORD, invoice_code, photo_of
from tests.chat.test_chat_flow import _all_text

ALICE = "U" + "c" * 32


async def test_a_chat_photo_lands_in_the_bucket_and_its_link_serves_it(make_stack, s3_endpoint, s3_bucket, tmp_path):
    settings = PhotoStoreSettings(url=f"s3://{s3_bucket}/brand", s3_endpoint_url=s3_endpoint)
    stack = await make_stack(photo_store=settings, app_secret="x" * 32, public_base_url="https://bot.example.com")
    code = invoice_code(11)
    await stack.seed_mof(code)
    await stack.say(ALICE, KEYWORD)
    await stack.wait_messages(ALICE, 1)
    photo = photo_of(code)
    assert await stack.photo(ALICE, photo) == 200
    await stack.wait_messages(ALICE, 2)
    [upload] = await stack.uploads()
    assert upload.status == "passed" and upload.photo_path.startswith(f"photos/{stack.campaign_id}/")
    kept = boto3.client("s3", endpoint_url=s3_endpoint).get_object(Bucket=s3_bucket, Key=f"brand/{upload.photo_path}")
    assert kept["Body"].read() == photo
    assert not (tmp_path / "photos").exists()
    async with stack.db.session() as session:
        generation = await link_generation(session)
    link = photo_linker(_config(stack), generation=generation, now=utcnow())(upload.photo_path)
    path_and_query = link.removeprefix("https://bot.example.com")
    async with stack.line_client.session.get(stack.service.make_url(path_and_query)) as served:
        assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
        assert await served.read() == photo
    async with stack.line_client.session.get(stack.service.make_url(path_and_query + "0")) as wrong:
        assert wrong.status == 404


def _config(stack):
    from bot.appkeys import CONFIG

    return stack.service.app[CONFIG]


async def test_a_store_that_is_down_answers_unexpected_and_registers_nothing(make_stack):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    stack = await make_stack(photo_store=PhotoStoreSettings(url="s3://photos/p", s3_endpoint_url=closed))
    code = invoice_code(12)
    await stack.seed_mof(code)
    await stack.say(ALICE, KEYWORD)
    await stack.wait_messages(ALICE, 1)
    assert await stack.photo(ALICE, photo_of(code)) == 200
    sent = await stack.wait_messages(ALICE, 2, timeout=60)
    assert UNEXPECTED_TEXT in _all_text(sent[1]["messages"])
    assert await stack.uploads() == []
