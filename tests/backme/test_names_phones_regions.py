"""Name splitting, Taiwan mobile normalisation and Backme → CRM subdivision codes."""
from __future__ import annotations

import pytest

from flows.backme.names import PersonName, same_person_name, split_name
from flows.backme.phones import normalize_tw_mobile, phone_key, phone_number
from flows.backme.regions import CRM_SUBDIVISION_NAMES, crm_subdivision, iso_subdivision


@pytest.mark.parametrize(
    "full,last,first",
    [
        ("王測試", "王", "測試"),
        ("陳大", "陳", "大"),
        ("歐陽小明", "歐陽", "小明"),
        ("張簡 大同", "張簡", "大同"),  # spaces ignored for Chinese names
        ("王\u3000小明", "王", "小明"),
        ("林林林", "林", "林林"),  # netiCRM's str_replace would drop the surname here
        ("John Smith", "Smith", "John"),
        ("John Paul Smith", "Smith", "John Paul"),
        ("Smith, John", "Smith", "John"),
        ("Madonna", "", "Madonna"),
        ("阿", "", "阿"),
        ("愛新覺羅溥儀", "", "愛新覺羅溥儀"),
        ("  王測試\r\n", "王", "測試"),
        ("", "", ""),
    ],
)
def test_split_name(full, last, first):
    assert split_name(full) == PersonName(last, first)


def test_same_person_name_either_order_ignoring_space_and_case():
    assert same_person_name("王測試", "王", "測試")
    assert same_person_name("王 測試", "王", "測試")
    assert same_person_name("john smith", "Smith", "John")
    assert not same_person_name("王測試", "王", "小明")
    assert not same_person_name("", "", "")


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("+886912345678", "0912-345678"),
        ("+886-912-345-678", "0912-345678"),
        ("+8860912345678", "0912-345678"),
        ("0912345678", "0912-345678"),
        ("0912 345 678", "0912-345678"),
        ("886912345678", "0912-345678"),
        ("0900222333", "0900-222333"),
        ("+85291234567", None),  # Hong Kong
        ("02-2345-6789", None),  # landline
        ("091234567", None),
        ("", None),
    ],
)
def test_normalize_tw_mobile(raw, expected):
    assert normalize_tw_mobile(raw) == expected


def test_phone_number_keeps_non_mobile_as_other():
    assert phone_number("+886912345678").is_mobile
    landline = phone_number(" 02-2345-6789 ")
    assert landline is not None and not landline.is_mobile and landline.number == "02-2345-6789"
    assert phone_number("  ") is None
    assert phone_key("+886912345678") == phone_key("0912-345-678") == "0912345678"


@pytest.mark.parametrize(
    "backme,crm",
    [("KIN", "KMN"), ("LIE", "LCI"), ("NWT", "TPQ"), ("TXG", "TXG"), ("hsq", "HSQ"), ("TW-NWT", "TPQ"),
     ("XXX", None), ("", None)],
)
def test_backme_subdivision_to_crm_code(backme, crm):
    assert crm_subdivision(backme) == crm


def test_crm_codes_cover_the_22_counties_and_cities_and_round_trip_to_iso():
    assert len(CRM_SUBDIVISION_NAMES) == 22
    assert CRM_SUBDIVISION_NAMES["TPQ"] == "新北市" and CRM_SUBDIVISION_NAMES["KMN"] == "金門縣"
    assert iso_subdivision("TPQ") == "TW-NWT" and iso_subdivision("LCI") == "TW-LIE"
    assert iso_subdivision("TPE") == "TW-TPE" and iso_subdivision("NWT") is None
    for code in CRM_SUBDIVISION_NAMES:
        iso = iso_subdivision(code)
        assert iso is not None and crm_subdivision(iso) == code


@pytest.mark.parametrize(
    "full,last,first",
    [
        ("張簡愛", "張簡", "愛"),
        ("張簡大同", "張簡", "大同"),
        ("范姜明", "范姜", "明"),
        ("范姜美玲", "范姜", "美玲"),
        ("歐陽修", "歐陽", "修"),
        ("歐陽 娜娜", "歐陽", "娜娜"),
        ("司馬光", "司馬", "光"),
        ("諸葛亮", "諸葛", "亮"),
        ("上官婉兒", "上官", "婉兒"),
        ("司徒美堂", "司徒", "美堂"),
        ("歐陽小明星", "歐陽", "小明星"),  # compound + three-character given name
        ("王小明", "王", "小明"),  # ordinary names are unchanged
        ("張小明", "張", "小明"),  # 張 alone is not 張簡
        ("歐陽", "歐", "陽"),  # two characters stay 1 + 1
    ],
)
def test_compound_surnames_split_from_the_list(full, last, first):
    assert split_name(full) == PersonName(last, first)


def test_compound_surname_list_holds_the_common_taiwanese_ones():
    from flows.backme.names import COMPOUND_SURNAMES

    assert {"張簡", "范姜", "歐陽", "司馬", "諸葛", "上官", "周黃", "江謝", "司徒"} <= COMPOUND_SURNAMES
    assert all(len(s) == 2 for s in COMPOUND_SURNAMES)
