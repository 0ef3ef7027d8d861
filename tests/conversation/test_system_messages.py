"""System messages: the seed's exact texts (copied literally here), buttons and fee rules."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from flows.einvoice.model import InvoiceCode, InvoiceSource
from flows.messages.billing import Billing
from flows.messages.buttons import CAMERA_URI, LiffPage, liff_url_builder, upload_buttons
from flows.messages.invoice_facts import InvoiceFacts
from flows.messages.line_json import to_line_json
from flows.messages.model import TextMessage, UriButton
from flows.messages.system import SystemKind, invoice_info_text, system_message, system_text

SAMPLE = InvoiceFacts("AB12345678", dt.date(2024, 1, 1), "1234")
LIFF = liff_url_builder("1234567890-AbCdEfGh")

# Copied from seeds/000_c1d4ea863c74b6ca.txt (系統訊息 table), <br> written as \n.
# The 重複登錄 cell has U+2028 LINE SEPARATOR after 發票資訊如下 (SPEC.md shows it as a space).
SEED_INVOICE_INFO = "您輸入的電子發票如下：\n\n發票類型：電子發票\n發票號碼：AB-12345678\n開立時間：2024-01-01\n隨機碼：1234"
SEED_PENDING = "發票資訊驗證中，我們將於 3 天內通知驗證結果，請勿封鎖避免喪失權益！感謝您的耐心等待。"
SEED_DUPLICATE = "此發票已重複登錄，請重新上傳或手動輸入其他發票。\n\n發票資訊如下\u2028\n發票類型：電子發票\n發票號碼：AB-12345678\n開立日期：2024-01-01"
SEED_CAP_REACHED = "很抱歉，您參與活動的次數已達上限，無法再進行參加，謝謝您的參與！"
SEED_NOT_STARTED = "活動尚未開始"
SEED_NOT_EXIST = "很抱歉，此活動已不存在"
SEED_UNEXPECTED = "發票登錄失敗，請稍後再試"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (SystemKind.INVOICE_INFO, SEED_INVOICE_INFO),
        (SystemKind.PENDING, SEED_PENDING),
        (SystemKind.DUPLICATE, SEED_DUPLICATE),
        (SystemKind.CAP_REACHED, SEED_CAP_REACHED),
        (SystemKind.NOT_STARTED, SEED_NOT_STARTED),
        (SystemKind.NOT_EXIST, SEED_NOT_EXIST),
        (SystemKind.UNEXPECTED, SEED_UNEXPECTED),
    ],
)
def test_texts_match_the_seed_character_for_character(kind: SystemKind, expected: str) -> None:
    assert system_text(kind, SAMPLE) == expected
    assert system_message(kind, invoice=SAMPLE, campaign_id="c1", liff_url=LIFF).text == expected


def test_invoice_fields_are_filled_from_the_invoice() -> None:
    other = InvoiceFacts("ZX00000042", dt.date(2023, 12, 31), "0007")
    assert invoice_info_text(other) == (
        "您輸入的電子發票如下：\n\n發票類型：電子發票\n發票號碼：ZX-00000042\n開立時間：2023-12-31\n隨機碼：0007"
    )
    assert system_text(SystemKind.DUPLICATE, other).endswith("發票號碼：ZX-00000042\n開立日期：2023-12-31")


def test_facts_come_from_a_decoded_invoice_code() -> None:
    code = InvoiceCode("AB12345678", dt.date(2024, 1, 1), "1234", InvoiceSource.PHOTO)
    assert invoice_info_text(InvoiceFacts.from_code(code)) == SEED_INVOICE_INFO


def test_labels_buttons_and_fees_follow_the_seed_table() -> None:
    table = {k.label: (k.has_upload_buttons, k.billing) for k in SystemKind}
    assert table == {
        "發票資訊": (False, Billing.NEVER),
        "等待驗證": (False, Billing.NEVER),
        "重複登錄": (True, Billing.NEVER),
        "參與達上限": (False, Billing.AFTER_FIRST_OF_BATCH),
        "活動尚未開始": (False, Billing.NEVER),
        "活動不存在": (False, Billing.NEVER),
        "未預期錯誤": (True, Billing.NEVER),
    }
    assert [k for k in SystemKind if k.sent_by_user] == [SystemKind.INVOICE_INFO]


@pytest.mark.parametrize("kind", [SystemKind.DUPLICATE, SystemKind.UNEXPECTED])
def test_upload_buttons_open_camera_and_the_liff_pages(kind: SystemKind) -> None:
    message = system_message(kind, invoice=SAMPLE, campaign_id="spring 24", liff_url=LIFF)
    assert [b.label for b in message.buttons] == ["拍照上傳", "手動上傳", "電子載具"]
    camera, manual, carrier = (b.uri for b in message.buttons)
    assert camera == CAMERA_URI == "https://line.me/R/nv/camera/"
    for uri, page in ((manual, "manual"), (carrier, "carrier")):
        parts = urlsplit(uri)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "liff.line.me", f"/1234567890-AbCdEfGh/{page}")
        assert parse_qs(parts.query) == {"campaign": ["spring 24"]}


def test_messages_without_buttons_need_no_campaign() -> None:
    assert system_message(SystemKind.PENDING) == TextMessage(SEED_PENDING)


def test_missing_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="invoice"):
        system_text(SystemKind.DUPLICATE)
    with pytest.raises(ValueError, match="campaign_id"):
        system_message(SystemKind.UNEXPECTED, liff_url=LIFF)
    with pytest.raises(ValueError, match="liff_url"):
        system_message(SystemKind.UNEXPECTED, campaign_id="c1")
    with pytest.raises(ValueError, match="random_code"):
        invoice_info_text(InvoiceFacts("AB12345678", dt.date(2024, 1, 1)))


@pytest.mark.parametrize(
    ("number", "date", "code", "field"),
    [
        ("ab12345678", dt.date(2024, 1, 1), "1234", "invoice_number"),
        ("AB-12345678", dt.date(2024, 1, 1), "1234", "invoice_number"),
        ("AB12345678", "2024-01-01", "1234", "date"),
        ("AB12345678", dt.date(2024, 1, 1), "12a4", "random_code"),
        ("AB12345678", dt.date(2024, 1, 1), "12345", "random_code"),
    ],
)
def test_invoice_facts_refuse_junk(number, date, code, field) -> None:
    with pytest.raises(ValueError, match=field):
        InvoiceFacts(number, date, code)


def test_liff_url_builder_validates_and_escapes() -> None:
    with pytest.raises(ValueError, match="liff_id"):
        liff_url_builder("abc/../evil")
    url = LIFF(LiffPage.MANUAL, "a&b=c")
    assert parse_qs(urlsplit(url).query) == {"campaign": ["a&b=c"]}
    assert len(upload_buttons("c", LIFF)) == 3


def test_button_and_text_limits() -> None:
    with pytest.raises(ValueError, match="label"):
        UriButton("x" * 21, "https://example.com")
    with pytest.raises(ValueError, match="uri"):
        UriButton("ok", "javascript:alert(1)")
    with pytest.raises(ValueError, match="text"):
        TextMessage("")


def test_line_json_of_plain_and_buttoned_texts() -> None:
    assert to_line_json(system_message(SystemKind.PENDING)) == {"type": "text", "text": SEED_PENDING}
    flex = to_line_json(system_message(SystemKind.DUPLICATE, invoice=SAMPLE, campaign_id="c1", liff_url=LIFF))
    assert flex["type"] == "flex" and flex["altText"] == SEED_DUPLICATE
    assert flex["contents"]["body"]["contents"][0]["text"] == SEED_DUPLICATE
    actions = [c["action"] for c in flex["contents"]["footer"]["contents"]]
    assert [(a["type"], a["label"]) for a in actions] == [
        ("uri", "拍照上傳"), ("uri", "手動上傳"), ("uri", "電子載具")]
