"""Taiwan counties/cities: Backme's subdivision codes → the CRM's state/province abbreviations.

Backme sends the current ISO 3166-2:TW codes (KIN, LIE, NWT for 金門縣, 連江縣, 新北市). The CRM's
state/province table (netiCRM's, which ours mirrors) still uses KMN, LCI and TPQ (TPQ is the
pre-2015 ISO code of Taipei County) for those three; every other code is the same on both sides.
"""
from __future__ import annotations

BACKME_TO_CRM_SUBDIVISION: dict[str, str] = {"KIN": "KMN", "LIE": "LCI", "NWT": "TPQ"}

# CRM abbreviation → zh-TW name (the 22 counties and cities).
CRM_SUBDIVISION_NAMES: dict[str, str] = {
    "CHA": "彰化縣", "CYI": "嘉義市", "CYQ": "嘉義縣", "HSQ": "新竹縣", "HSZ": "新竹市",
    "HUA": "花蓮縣", "ILA": "宜蘭縣", "KEE": "基隆市", "KHH": "高雄市", "KMN": "金門縣",
    "LCI": "連江縣", "MIA": "苗栗縣", "NAN": "南投縣", "PEN": "澎湖縣", "PIF": "屏東縣",
    "TAO": "桃園市", "TNN": "臺南市", "TPE": "臺北市", "TPQ": "新北市", "TTT": "臺東縣",
    "TXG": "臺中市", "YUN": "雲林縣",
}


def crm_subdivision(backme_code: str) -> str | None:
    """The CRM abbreviation for a Backme subdivision code (``KIN`` → ``KMN``, ``LIE`` → ``LCI``,
    ``NWT`` → ``TPQ``, others unchanged); None for an empty or unknown code. Accepts ``TW-``."""
    code = backme_code.strip().upper().removeprefix("TW-")
    code = BACKME_TO_CRM_SUBDIVISION.get(code, code)
    return code if code in CRM_SUBDIVISION_NAMES else None


def iso_subdivision(crm_code: str) -> str | None:
    """The ISO 3166-2:TW code (``TW-KIN`` …) for a CRM abbreviation; None when unknown."""
    code = crm_code.strip().upper()
    if code not in CRM_SUBDIVISION_NAMES:
        return None
    reverse = {crm: iso for iso, crm in BACKME_TO_CRM_SUBDIVISION.items()}
    return "TW-" + reverse.get(code, code)
