"""The zh-TW words a marketer reads for each code-reading note (`Note.code`): what the reader
tolerated, said in one short phrase; the note's own text keeps the technical detail."""
from __future__ import annotations

LABELS: dict[str, str] = {
    "ban_checksum": "統一編號檢查碼不符",
    "barcode_other_invoice": "一維條碼屬於另一張發票",
    "date_gregorian": "日期以西元年印製",
    "encrypt_length": "驗證碼長度不合規格",
    "encrypt_missing": "沒有驗證碼",
    "encrypt_not_base64": "驗證碼格式不符",
    "item_name_line_break": "品名含換行，已合併",
    "items_big5_misread": "品名以 Big5 編碼，已轉回中文",
    "items_count_zero": "品項數記為 0，仍讀取所有品項",
    "items_free_text": "品項後有附加文字，已略過",
    "items_in_codes_over_total": "QR 碼品項數多於總品項數",
    "items_last_price_cut": "缺右側 QR 碼，最後一項單價可能不完整",
    "items_more_than_counted": "品項多於記載數量，已全部讀取",
    "items_no_counts": "沒有品項數",
    "items_right_missing": "缺右側 QR 碼",
    "items_unread": "品項無法讀取",
    "period_mismatch": "條碼期別與日期不符，以日期為準",
    "period_odd_month": "條碼期別印單月，依日期換算",
    "random_code_blank": "隨機碼空白（營業人發票）",
    "right_qr_unread": "右側 QR 碼無法讀取",
}


def label(code: str) -> str:
    """The phrase for a note's code; an unknown code (a newer reader) shows as itself."""
    return LABELS.get(code, code)
